package io.nvmpath.fabric.host;

import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.time.Scheduler;

/**
 * Test access to the transport side of {@link NvmeRequest}, for scripted paths that stand in for a
 * controller (in this module's test-jar, for the layers above): what {@code Controller.submit} does
 * before sending ({@link #sent}), what a queue does when the completion arrives ({@link #complete}),
 * failure interceptor included, and when its association is lost with the command outstanding
 * ({@link #lost}).
 */
public final class Completions {
    private Completions() {
    }

    /** Clears the previous outcome, as a controller does on every (re)submission. */
    public static void sent(NvmeRequest r) {
        r.reset();
    }

    /** Completes {@code r} as a controller's completion would: failures pass the interceptor first. */
    public static void complete(NvmeRequest r, int status) {
        r.complete(status, 0, 0, null);
    }

    /** Aborts {@code r} as a queue does when the association it was outstanding on is lost. */
    public static void lost(NvmeRequest r, ControllerInstance on) {
        on.lost(LossCause.TRANSPORT_CLOSED, "connection to " + on.address() + " lost");
        r.lostOn(on);
        r.complete(Status.HOST_ABORTED_CMD, 0, 0, new TransportException("connection to " + on.address() + " lost"));
    }

    /**
     * A controller instance as an association makes one: KATO {@code katoMillis}, CNTLID {@code cntlid},
     * Identify data {@code identity} (or null), on {@code scheduler}'s clock.
     */
    public static ControllerInstance instance(TransportAddress address, String nqn, int cntlid, long katoMillis,
                                              IdentifyController identity, Scheduler scheduler) {
        ControllerInstance i = new ControllerInstance(address, nqn, katoMillis, scheduler);
        i.cntlid(cntlid);
        i.identity(identity);
        return i;
    }
}
