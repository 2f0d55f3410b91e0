package io.nvmpath.multipath;

/** A failover while its requests move: what {@link FailoverLog} turns into a {@link FailoverRecord}. Guarded by the log. */
final class FailoverEvent {
    final NamespaceHead head;
    final Path from;
    /** The path's identity when the event began (a reconnect gives the path another CNTLID). */
    private final PathId fromId;
    final FailoverCause cause;
    private final int status;
    private final long firstFailNanos;
    private final long atEpochMillis;
    private int reads;
    private int writes;
    private int fenced;
    private int outstanding;
    private WriteFence fence;
    private PathId to;
    private long firstSuccessNanos;

    FailoverEvent(NamespaceHead head, Path from, FailoverCause cause, int status, long now, long epochMillis) {
        this.head = head;
        this.from = from;
        this.fromId = from.id();
        this.cause = cause;
        this.status = status;
        this.firstFailNanos = now;
        this.atEpochMillis = epochMillis;
    }

    void join(boolean write) {
        outstanding++;
        if (write) {
            writes++;
        } else {
            reads++;
        }
    }

    void fenced(WriteFence f) {
        fenced++;
        fence = f;
    }

    void firstSuccess(Path on, long now) {
        if (to == null) {
            to = on.id();
            firstSuccessNanos = now;
        }
    }

    /** One request of it is done (answered, failed, or moved on to another event); true when none is left. */
    boolean done() {
        outstanding--;
        return outstanding <= 0;
    }

    FailoverRecord record() {
        String method = fence == null || fence.method() == null ? "none" : fence.method().label();
        long wait = fence == null ? 0 : FailoverLog.millis(fence.waitedNanos());
        long stall = to == null ? -1 : FailoverLog.millis(firstSuccessNanos - firstFailNanos);
        return new FailoverRecord(atEpochMillis, head.subsystem().nqn(), head.nsid(), fromId.toString(),
                to == null ? null : to.toString(), cause.label(), status, reads, writes, fenced, method, wait, stall);
    }
}
