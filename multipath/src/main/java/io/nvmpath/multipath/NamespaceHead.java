package io.nvmpath.multipath;

import io.nvmpath.fabric.host.ControllerInstance;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportException;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.NamespaceIds;
import io.nvmpath.fabric.nvme.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * One shared namespace reached through several controllers: the unit I/O is submitted to.
 *
 * <p>{@link #submit} hands the request to a path of the head's current choice ({@link PathSelector},
 * worked out when path state changes) as it is: no clone, no copy of its data. A successful
 * completion goes straight from the transport to the caller's callback; only a failure comes back,
 * through the request's {@link HeadRequest}, to {@link #failed}, where its {@link Disposition} is
 * decided: COMPLETE gives it to the caller, RETRY sends it again on the same path after the
 * controller's retry delay, FAILOVER requeues it here for another path.
 *
 * <p>With no usable path, requests wait in the requeue queue (bounded in bytes) while any path may
 * come back, for at most the no-path timeout; they fail at once when none can.
 */
public final class NamespaceHead {
    private static final Logger log = LoggerFactory.getLogger(NamespaceHead.class);
    /** How long a path whose transport aborted commands is held back if its controller stays LIVE. */
    static final long SUSPECT_NANOS = TimeUnit.SECONDS.toNanos(2);

    final MultipathSubsystem subsystem;
    final int nsid;
    final NamespaceIds ids;
    final long blocks;
    final int lbaSize;
    final IdentifyNamespace identity;
    private final MultipathOptions options;
    private final ScheduledExecutorService exec;
    private final LongSupplier clock;

    private volatile Path[] paths = new Path[0];
    private final PathSelector selector = new PathSelector();
    private final RequeueQueue requeue;
    /** Set once the head has left its subsystem: it takes no more I/O. */
    volatile boolean gone;
    /** Non-zero while the head outlives its last path (delayed removal), until this time. */
    volatile long removeAtNanos;

    final LongAdder failovers = new LongAdder();
    final LongAdder retries = new LongAdder();
    final LongAdder noPathWaits = new LongAdder();
    final LongAdder noPathFailures = new LongAdder();
    /** Writes held behind a fence after their path was lost, ever. */
    final LongAdder fencedWrites = new LongAdder();

    NamespaceHead(MultipathSubsystem subsystem, int nsid, NamespaceIds ids, long blocks, int lbaSize,
                  MultipathOptions options, ScheduledExecutorService exec, LongSupplier clock) {
        this(subsystem, nsid, ids, null, blocks, lbaSize, options, exec, clock);
    }

    NamespaceHead(MultipathSubsystem subsystem, int nsid, NamespaceIds ids, IdentifyNamespace identity, long blocks,
                  int lbaSize, MultipathOptions options, ScheduledExecutorService exec, LongSupplier clock) {
        this.subsystem = subsystem;
        this.identity = identity;
        this.nsid = nsid;
        this.ids = ids;
        this.blocks = blocks;
        this.lbaSize = lbaSize;
        this.options = options;
        this.exec = exec;
        this.clock = clock;
        this.requeue = new RequeueQueue(options.requeueLimitBytes());
    }

    public int nsid() {
        return nsid;
    }

    public NamespaceIds ids() {
        return ids;
    }

    public long sizeBytes() {
        return blocks * lbaSize;
    }

    public int lbaSize() {
        return lbaSize;
    }

    /** The Identify Namespace data of the first path (a head's paths agree on identifiers and format). */
    public IdentifyNamespace identity() {
        return identity;
    }

    /**
     * The most one command may carry through every path of this head: the smallest MDTS among them,
     * at most 65536 blocks (NLB is 16 bits); 128 KiB while no path reports one.
     */
    public int maxTransferBytes() {
        long m = Long.MAX_VALUE;
        for (Path p : paths) {
            m = Math.min(m, p.io.maxTransferBytes());
        }
        if (m == Long.MAX_VALUE) {
            m = Math.max(lbaSize, 128 * 1024);
        }
        m = Math.min(m, 65536L * lbaSize);
        m = Math.min(m, 1 << 30);
        return (int) Math.max(lbaSize, m - m % lbaSize);
    }

    /**
     * What the controllers behind this head all support: ONCS bits (bit 2 Dataset Management, bit 3
     * Write Zeroes) that every path's controller reports, and bit 31 set when any controller has a
     * volatile write cache (VWC bit 0) or one is not identified yet.
     */
    public int commandSupport() {
        int oncs = -1;
        boolean vwc = false;
        for (Path p : paths) {
            IdentifyController id = p.io.identity();
            if (id == null) {
                vwc = true;
                continue;
            }
            oncs &= id.oncs();
            vwc |= (id.vwc() & 1) != 0;
        }
        if (oncs == -1) {
            oncs = 0;
            vwc = true; // nothing identified: a cache may be there
        }
        oncs &= 0x7FFF_FFFF;
        return vwc ? oncs | (1 << 31) : oncs;
    }

    /** The head has left its subsystem (last path gone): requests fail at once. */
    public boolean gone() {
        return gone;
    }

    public List<Path> paths() {
        return List.of(paths);
    }

    public MultipathSubsystem subsystem() {
        return subsystem;
    }

    // ---- the I/O path -------------------------------------------------------------------------

    /**
     * Sends {@code r} through a path of the current choice; its callback reports the outcome. Never
     * blocks. The head's note of the request (one small object) is the request's failure interceptor.
     */
    public void submit(NvmeRequest r) {
        HeadRequest hr = new HeadRequest(this, r);
        r.interceptor(hr);
        dispatch(hr);
    }

    /** The path a request taken by a head was last sent to, or null (never sent, or not a head's). */
    public static Path pathOf(NvmeRequest r) {
        return r.interceptor() instanceof HeadRequest hr ? hr.path : null;
    }

    private void dispatch(HeadRequest r) {
        Path p = select();
        if (p != null) {
            send(r, p);
            return;
        }
        noPath(r);
    }

    private static void send(HeadRequest r, Path p) {
        r.path = p;
        p.io.submit(r.request);
    }

    /**
     * The path for the next I/O, or null when none is usable: the cached choice, re-evaluated here
     * only when a completion made every path of it unusable since the last state change.
     */
    Path select() {
        Path p = selector.pick();
        if (p == null) {
            refresh();
            p = selector.pick();
        }
        return p;
    }

    /** Re-evaluates which paths I/O goes to: after any path state change, a policy or preference change. */
    void refresh() {
        selector.update(paths, subsystem.ioPolicy(), subsystem.preferredPath());
    }

    /** Failure hook; runs on the completing connection's event loop. True when the head keeps the request. */
    boolean failed(HeadRequest r) {
        NvmeRequest req = r.request;
        Path p = r.path;
        Disposition d = Disposition.decide(req.status(), r.retries, r.failovers, options.maxRetries(),
                options.maxFailovers());
        switch (d) {
            case COMPLETE -> {
                return false; // the callback runs: a watched request reports to the failover log there
            }
            case RETRY -> {
                r.retries++;
                retries.increment();
                long delay = p == null ? 0 : p.io.retryDelayMillis(Status.crd(req.status()));
                return onManagement(r, () -> {
                    if (p != null && p.tier() != Path.NONE) {
                        send(r, p);
                    } else {
                        dispatch(r);
                    }
                }, delay);
            }
            case FAILOVER -> {
                r.failovers++;
                failovers.increment();
                if (p != null) {
                    subsystem.failoverLog().moved(r, p, req);
                    watch(r);
                    p.failoversFrom.increment();
                    if (Status.isAnaError(req.status())) {
                        p.anaPending = true;
                        subsystem.anaErrorSeen(p);
                    } else if (Status.code(req.status()) == Status.HOST_ABORTED_CMD
                            || Status.code(req.status()) == Status.HOST_PATH_ERROR) {
                        p.suspect(SUSPECT_NANOS);
                    }
                    refresh(); // the path it failed on leaves the choice before the next I/O picks it
                }
                ControllerInstance lost = req.lostOn();
                if (lost != null && subsystem.writeFailover() == WriteFailover.SAFE && WriteFences.hasSideEffects(req)) {
                    // the controller may still execute it: it waits until that controller cannot
                    return onManagement(r, () -> subsystem.fences().fence(r, lost), 0);
                }
                return onManagement(r, () -> dispatch(r), 0);
            }
            default -> throw new IllegalStateException(d.name());
        }
    }

    /**
     * Once a request has failed over, its completion is seen on the way to the caller's callback (only
     * then: the success path of every other request passes the head by), for the failover's record;
     * the caller's callback is put back first.
     */
    private void watch(HeadRequest r) {
        if (r.watched) {
            return;
        }
        r.watched = true;
        NvmeRequest req = r.request;
        NvmeRequest.Callback caller = req.callback();
        req.callback(done -> {
            done.callback(caller);
            subsystem.failoverLog().completed(r, done.ok(), r.path);
            if (caller != null) {
                caller.onComplete(done);
            }
        });
    }

    /** Runs {@code task} on the management executor after {@code delayMillis}; fails {@code r} if it is closed. */
    private boolean onManagement(HeadRequest r, Runnable task, long delayMillis) {
        try {
            if (delayMillis <= 0) {
                exec.execute(task);
            } else {
                exec.schedule(task, delayMillis, TimeUnit.MILLISECONDS);
            }
        } catch (RejectedExecutionException e) {
            r.request.fail(Status.HOST_PATH_ERROR, new TransportException("path layer closed"));
        }
        return true;
    }

    // ---- no usable path -----------------------------------------------------------------------

    /** Queues a fenced write: it counts against the requeue's bounds and the no-path timeout. On the management executor. */
    void hold(HeadRequest r) {
        if (!requeue.offer(r, clock.getAsLong())) {
            noPathFailures.increment();
            r.request.fail(Status.INTERNAL | Status.DNR, new TransportException("write fenced after its path to namespace "
                    + nsid + " of " + subsystem.nqn() + " was lost, and the requeue limit is reached ("
                    + requeue.limitBytes() + " bytes or " + RequeueQueue.MAX_QUEUED + " requests)"));
            return;
        }
        fencedWrites.increment();
    }

    private void noPath(HeadRequest r) {
        if (!mayRecover()) {
            noPathFailures.increment();
            r.request.fail(Status.HOST_PATH_ERROR, new TransportException("no path to namespace " + nsid + " of "
                    + subsystem.nqn() + ": no controller left that could come back"));
            return;
        }
        if (!requeue.offer(r, clock.getAsLong())) {
            noPathFailures.increment();
            r.request.fail(Status.INTERNAL | Status.DNR, new TransportException("no usable path to namespace " + nsid
                    + " of " + subsystem.nqn() + " and the requeue limit is reached (" + requeue.limitBytes()
                    + " bytes or " + RequeueQueue.MAX_QUEUED + " requests)"));
            return;
        }
        noPathWaits.increment();
        // a path may have become usable between select() and the enqueue
        try {
            exec.execute(this::kick);
        } catch (RejectedExecutionException e) {
            expireAll("path layer closed");
        }
    }

    /** Whether a path may still become usable: a controller that can come back, or a delayed removal. */
    boolean mayRecover() {
        for (Path p : paths) {
            if (p.io.state().mayComeBack()) {
                return true;
            }
        }
        return removeAtNanos != 0 && clock.getAsLong() - removeAtNanos < 0;
    }

    /** Sends waiting requests while a path is usable. On the management executor. */
    void kick() {
        while (requeue.size() > 0) {
            Path p = select();
            if (p == null) {
                return;
            }
            HeadRequest r = requeue.poll();
            if (r == null) {
                return;
            }
            send(r, p);
        }
    }

    /** Fails requests that waited longer than the no-path timeout, or all of them when nothing can recover. */
    void expire() {
        boolean recover = mayRecover();
        long now = clock.getAsLong();
        long limit = options.noPathTimeout() == null ? Long.MAX_VALUE : options.noPathTimeout().toNanos();
        for (HeadRequest r : requeue.expired(now, limit, !recover)) {
            noPathFailures.increment();
            String why = recover ? "no usable path to namespace " + nsid + " of " + subsystem.nqn() + " for "
                    + TimeUnit.NANOSECONDS.toMillis(now - r.waitingSinceNanos) + " ms (no_path_timeout)"
                    : "no path to namespace " + nsid + " of " + subsystem.nqn() + ": no controller left that could come back";
            r.request.fail(Status.HOST_PATH_ERROR, new TransportException(why));
        }
    }

    /** Fails everything waiting (the path layer is closing). */
    void expireAll(String why) {
        for (HeadRequest r : requeue.expired(0, 0, true)) {
            noPathFailures.increment();
            r.request.fail(Status.HOST_PATH_ERROR, new TransportException(why));
        }
    }

    // ---- topology (management executor) -------------------------------------------------------

    void addPath(Path p) {
        List<Path> l = new ArrayList<>(List.of(paths));
        l.add(p);
        paths = l.toArray(Path[]::new);
        removeAtNanos = 0;
        pathsChanged();
    }

    void removePath(Path p) {
        p.removed = true;
        List<Path> l = new ArrayList<>(List.of(paths));
        l.remove(p);
        paths = l.toArray(Path[]::new);
        pathsChanged();
    }

    /** Any state change of any path: note failbacks and marginal paths, choose again, send what waits. */
    void pathsChanged() {
        for (Path p : paths) {
            Path.Transition t = p.noteUsability(options.failback(), options.failbackDelay().toNanos(),
                    options.marginalWindow().toNanos(), options.marginalHold().toNanos());
            if (t == Path.Transition.LOST_AND_MARGINAL) {
                log.warn("{} nsid {}: path {} failed {} times within {} s: marginal, held back for {} s",
                        subsystem.nqn(), nsid, p.io.name(), options.marginalFailures(),
                        options.marginalWindow().toSeconds(), options.marginalHold().toSeconds());
            }
        }
        refresh();
        kick();
    }

    /** The management tick: holds that ran out make the head choose again. */
    void tick() {
        boolean changed = false;
        for (Path p : paths) {
            changed |= p.refreshHold();
        }
        if (changed) {
            refresh();
        }
        expire();
        kick();
    }

    int queuedCount() {
        return requeue.size();
    }

    /** Requests held back by a write fence now. */
    int fencedCount() {
        return requeue.fencedCount();
    }

    long queuedBytes() {
        return requeue.bytes();
    }

    /** The paths the next I/O may go to (tests). */
    List<Path> choice() {
        return selector.choice();
    }

    /** A snapshot for the API. */
    public MultipathView.Head view() {
        List<MultipathView.PathEntry> ps = new ArrayList<>();
        for (Path p : paths) {
            java.util.Map<String, Long> ops = new java.util.LinkedHashMap<>();
            java.util.Map<String, Long> bytes = new java.util.LinkedHashMap<>();
            java.util.Map<Integer, Long> errors = java.util.Map.of();
            long[] buckets = new long[0];
            long sum = 0;
            long rtt = -1;
            if (p.io instanceof ControllerPathIo cio) {
                io.nvmpath.fabric.host.PathStats st = cio.controller().stats();
                for (io.nvmpath.fabric.host.PathStats.Kind k : io.nvmpath.fabric.host.PathStats.Kind.values()) {
                    ops.put(k.name().toLowerCase(), st.ops(k));
                    bytes.put(k.name().toLowerCase(), st.bytes(k));
                }
                errors = st.errors();
                buckets = st.latencyBuckets();
                sum = st.latencySumMicros();
                rtt = st.keepAliveRttMicros();
            }
            PathId id = p.id();
            ps.add(new MultipathView.PathEntry(id.toString(), id.address(), id.cntlid(), p.io.state().name().toLowerCase(), p.anaState.label(),
                    p.anaGroup, p.usable(), p.heldBack(), p.marginal(), p.io.inFlight(), p.failures, p.marginalHolds,
                    p.failoversFrom.sum(), ops, bytes, errors, buckets, sum, rtt));
        }
        return new MultipathView.Head(nsid, ids.nguidHex(), ids.eui64Hex(),
                ids.uuid() == null ? null : ids.uuid().toString(), sizeBytes(), lbaSize, queuedCount(), queuedBytes(),
                noPathWaits.sum(), noPathFailures.sum(), failovers.sum(), retries.sum(), fencedCount(), fencedWrites.sum(),
                ps);
    }

    @Override
    public String toString() {
        return subsystem.nqn() + " nsid " + nsid;
    }
}
