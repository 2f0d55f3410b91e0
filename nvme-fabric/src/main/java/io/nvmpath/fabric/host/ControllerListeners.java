package io.nvmpath.fabric.host;

import io.nvmpath.fabric.nvme.AsyncEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The listeners of one controller, told in registration order on its management loop. A listener
 * that throws is logged and skipped: one bad observer never keeps the others, or the controller's
 * own state change, from happening.
 */
final class ControllerListeners {
    /** Logged under the controller's name: these lines are about it. */
    private static final Logger log = LoggerFactory.getLogger(Controller.class);

    private final List<ControllerListener> listeners = new CopyOnWriteArrayList<>();

    void add(ControllerListener l) {
        listeners.add(l);
    }

    void remove(ControllerListener l) {
        listeners.remove(l);
    }

    void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
        for (ControllerListener l : listeners) {
            try {
                l.stateChanged(c, from, to, reason);
            } catch (RuntimeException e) {
                log.warn("{}: state listener failed", c, e);
            }
        }
    }

    void asyncEvent(Controller c, AsyncEvent event) {
        for (ControllerListener l : listeners) {
            try {
                l.asyncEvent(c, event);
            } catch (RuntimeException e) {
                log.warn("{}: event listener failed", c, e);
            }
        }
    }
}
