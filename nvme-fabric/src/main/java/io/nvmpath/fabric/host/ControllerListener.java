package io.nvmpath.fabric.host;

import io.nvmpath.fabric.nvme.AsyncEvent;

/**
 * Observes a controller. Called on the controller's management executor, in order; must not block.
 */
public interface ControllerListener {
    /** The controller moved from {@code from} to {@code to}; {@code reason} says why (may be null). */
    default void stateChanged(Controller controller, ControllerState from, ControllerState to, String reason) {
    }

    /** The controller reported an asynchronous event (the request is already re-armed). */
    default void asyncEvent(Controller controller, AsyncEvent event) {
    }
}
