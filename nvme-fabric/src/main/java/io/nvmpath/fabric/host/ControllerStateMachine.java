package io.nvmpath.fabric.host;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;

/**
 * The life-cycle state of one controller and the one way it changes: {@link #changeState} checks the
 * transition table ({@link ControllerState#canMoveTo}), logs the change and tells the listeners, as
 * Linux's {@code nvme_change_ctrl_state} does. An invalid transition is a bug and throws.
 *
 * <p>Changes happen on the management loop only; the state is volatile because the I/O path reads it
 * ("is it LIVE") on every submission.
 */
final class ControllerStateMachine {
    /** Logged under the controller's name: these lines are about it. */
    private static final Logger log = LoggerFactory.getLogger(Controller.class);

    private final Controller controller;
    private final ManagementLoop mgmt;
    private final ControllerListeners listeners;
    private final CompletableFuture<Void> dead = new CompletableFuture<>();
    private volatile ControllerState state = ControllerState.NEW;

    ControllerStateMachine(Controller controller, ManagementLoop mgmt, ControllerListeners listeners) {
        this.controller = controller;
        this.mgmt = mgmt;
        this.listeners = listeners;
    }

    ControllerState state() {
        return state;
    }

    /** Completes once the controller is DEAD. */
    CompletableFuture<Void> deadFuture() {
        return dead;
    }

    /** Moves to {@code next}; nothing when already there. */
    void changeState(ControllerState next, String reason) {
        assert mgmt.inEventLoop();
        ControllerState prev = state;
        if (prev == next) {
            return;
        }
        if (!prev.canMoveTo(next)) {
            throw new IllegalStateException(controller + ": " + prev + " -> " + next + " is not a valid transition");
        }
        state = next;
        if (next == ControllerState.DEAD) {
            dead.complete(null); // before the listeners: whoever hears DEAD finds the close future done
        }
        log.info("{}: {} -> {}{}", controller, prev, next, reason == null ? "" : " (" + reason + ")");
        listeners.stateChanged(controller, prev, next, reason);
    }
}
