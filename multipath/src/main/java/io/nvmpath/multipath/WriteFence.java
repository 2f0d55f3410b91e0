package io.nvmpath.multipath;

import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerInstance;
import io.nvmpath.fabric.nvme.CrossControllerReset;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The writes lost on one controller instance, held until it can no longer execute them. Created
 * and released on the management executor; {@link #released()} is read by whoever takes requests
 * off a requeue.
 */
final class WriteFence {
    /** What released a fence. */
    enum Method {
        /** A Cross-Controller Reset through another controller of the subsystem succeeded. */
        CCR("ccr"),
        /** The keep-alive and quiesce times ran out. */
        TIME("time");

        private final String label;

        Method(String label) {
            this.label = label;
        }

        String label() {
            return label;
        }
    }

    final ControllerInstance lost;
    final long openedNanos;
    /** When the time rule releases it; 0 when no time does (no KATO). */
    final long deadlineNanos;
    private final Set<NamespaceHead> heads = new LinkedHashSet<>();
    private volatile boolean released;
    private volatile Method method;
    private volatile long releasedNanos;

    WriteFence(ControllerInstance lost, long openedNanos, long deadlineNanos) {
        this.lost = lost;
        this.openedNanos = openedNanos;
        this.deadlineNanos = deadlineNanos;
    }

    private volatile Controller ccrController;
    private volatile CrossControllerReset ccr;

    /** The reset sent for this fence, and the controller it went through. */
    void ccr(Controller through, CrossControllerReset reset) {
        this.ccrController = through;
        this.ccr = reset;
    }

    Controller ccrController() {
        return ccrController;
    }

    CrossControllerReset ccr() {
        return ccr;
    }

    /** The controller a Cross-Controller Reset was sent through, for logs; null when none was. */
    String ccrVia() {
        Controller c = ccrController;
        return c == null ? null : c.address() + " cntlid " + c.cntlid();
    }

    void add(NamespaceHead h) {
        heads.add(h);
    }

    List<NamespaceHead> heads() {
        return List.copyOf(heads);
    }

    boolean released() {
        return released;
    }

    void release(Method how, long now) {
        method = how;
        releasedNanos = now;
        released = true;
    }

    /** How it was released, or null while it holds. */
    Method method() {
        return method;
    }

    long releasedNanos() {
        return releasedNanos;
    }

    long waitedNanos() {
        return released ? releasedNanos - openedNanos : 0;
    }
}
