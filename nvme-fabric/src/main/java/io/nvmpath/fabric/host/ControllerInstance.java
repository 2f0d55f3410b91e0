package io.nvmpath.fabric.host;

import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.time.Scheduler;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One association of a {@link Controller}: the controller instance the target created for one
 * Connect, with its CNTLID, its Identify data and the KATO it was given, and when this host last sent
 * it anything. A reconnect makes a new one.
 *
 * <p>A command outstanding when its association is lost carries the instance it was lost on
 * ({@link NvmeRequest#lostOn()}): its outcome is unknown, and this is what a path layer needs to fence
 * it until that instance can no longer execute it — the identity for a Cross-Controller Reset
 * (CNTLID, and the CIU and CIRN of its Identify data) and the keep-alive and quiesce times for a wait.
 */
public final class ControllerInstance {
    private final TransportAddress address;
    private final String subsystemNqn;
    private final long katoMillis;
    private final Scheduler scheduler;
    private final List<HostQueue> queues = new CopyOnWriteArrayList<>();
    private volatile int cntlid = -1;
    private volatile IdentifyController identity;
    private volatile long lostAtNanos;
    private volatile LossCause lossCause;
    private volatile String lossReason;

    ControllerInstance(TransportAddress address, String subsystemNqn, long katoMillis, Scheduler scheduler) {
        this.address = address;
        this.subsystemNqn = subsystemNqn;
        this.katoMillis = katoMillis;
        this.scheduler = scheduler;
    }

    public TransportAddress address() {
        return address;
    }

    public String subsystemNqn() {
        return subsystemNqn;
    }

    /** The controller ID the target gave this association, -1 before its Connect completed. */
    public int cntlid() {
        return cntlid;
    }

    /** Its Identify Controller data, or null when the association was lost before it was read. */
    public IdentifyController identity() {
        return identity;
    }

    /** The Keep Alive Timeout this association was connected with, in milliseconds (0: none). */
    public long katoMillis() {
        return katoMillis;
    }

    /** When the host learnt it lost the association (its scheduler's clock), 0 while it is not lost. */
    public long lostAtNanos() {
        return lostAtNanos;
    }

    /**
     * How long ago, on the controller's clock, this host last sent a PDU to any queue of the
     * association; the time since the association was lost when nothing was sent on it.
     */
    public long nanosSinceLastSent() {
        long last = 0;
        for (HostQueue q : queues) {
            last = Math.max(last, q.lastSentNanos());
        }
        long now = scheduler.nanoTime();
        if (last == 0) {
            last = lostAtNanos == 0 ? now : lostAtNanos;
        }
        return Math.max(0, now - last);
    }

    void cntlid(int id) {
        this.cntlid = id;
    }

    void identity(IdentifyController id) {
        this.identity = id;
    }

    void add(HostQueue q) {
        queues.add(q);
    }

    /** Why the association was lost, or null while it is not. */
    public LossCause lossCause() {
        return lossCause;
    }

    /** The loss in words, e.g. "Keep Alive (cid 4100) on queue 0 timed out"; null while not lost. */
    public String lossReason() {
        return lossReason;
    }

    /** The first of the association's queues that failed marks the instance lost, and says why. */
    synchronized void lost(LossCause cause, String reason) {
        if (lostAtNanos == 0) {
            lostAtNanos = scheduler.nanoTime() | 1;
            lossCause = cause;
            lossReason = reason;
        }
    }

    @Override
    public String toString() {
        return address + " " + subsystemNqn + " cntlid " + cntlid;
    }
}
