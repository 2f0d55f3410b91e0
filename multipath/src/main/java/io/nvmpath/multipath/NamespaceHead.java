package io.nvmpath.multipath;

import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportException;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.NamespaceIds;
import io.nvmpath.fabric.nvme.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * One shared namespace reached through several controllers: the unit I/O is submitted to.
 *
 * <p>{@link #submit} picks a path and hands the request to that controller as it is: no clone, no
 * copy, no allocation. A successful completion goes straight from the transport to the caller's
 * callback; only a failure passes through {@link #intercept}, where its {@link Disposition} is
 * decided: COMPLETE gives it to the caller, RETRY sends it again on the same path after the
 * controller's retry delay, FAILOVER requeues it here for another path.
 *
 * <p>With no usable path, requests wait in the requeue queue (bounded in bytes) while any path may
 * come back, for at most the no-path timeout; they fail at once when none can.
 */
public final class NamespaceHead {
    private static final Logger log = LoggerFactory.getLogger(NamespaceHead.class);
    /** Bound on waiting requests whatever their size (flushes carry no bytes). */
    static final int MAX_QUEUED = 65536;
    /** How long a path whose transport aborted commands is held back if its controller stays LIVE. */
    static final long SUSPECT_NANOS = TimeUnit.SECONDS.toNanos(2);

    /** A request waiting for a usable path. */
    private record Queued(NvmeRequest request, long sinceNanos) {
    }

    final MultipathSubsystem subsystem;
    final int nsid;
    final NamespaceIds ids;
    final long blocks;
    final int lbaSize;
    final IdentifyNamespace identity;
    private final MultipathOptions options;
    private final ScheduledExecutorService exec;
    private final LongSupplier clock;
    private final NvmeRequest.FailureInterceptor interceptor = this::intercept;

    private volatile Path[] paths = new Path[0];
    /** The sticky choice of NUMA/FIRST; cleared on any path state change. */
    private volatile Path current;
    private final AtomicInteger cursor = new AtomicInteger();

    private final ArrayDeque<Queued> requeue = new ArrayDeque<>();
    private long requeueBytes;
    /** Set once the head has left its subsystem: it takes no more I/O. */
    volatile boolean gone;
    /** Non-zero while the head outlives its last path (delayed removal), until this time. */
    volatile long removeAtNanos;

    final LongAdder failovers = new LongAdder();
    final LongAdder retries = new LongAdder();
    final LongAdder noPathWaits = new LongAdder();
    final LongAdder noPathFailures = new LongAdder();

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

    /** Sends {@code r} through the best usable path; its callback reports the outcome. Never blocks. */
    public void submit(NvmeRequest r) {
        r.interceptor(interceptor);
        r.retries(0);
        dispatch(r);
    }

    private void dispatch(NvmeRequest r) {
        Path p = select();
        if (p != null) {
            r.route(p);
            p.io.submit(r);
            return;
        }
        noPath(r);
    }

    /**
     * The path for the next I/O, or null when none is usable: the preferred path if usable and not
     * held back, else the iopolicy's pick among the usable paths of the best tier.
     */
    Path select() {
        Path[] ps = paths;
        Path preferred = subsystem.preferredFor(ps);
        if (preferred != null && preferred.usable() && !preferred.heldBack()) {
            return preferred;
        }
        IoPolicy policy = subsystem.ioPolicy();
        if (policy == IoPolicy.NUMA || policy == IoPolicy.FIRST) {
            Path c = current;
            if (c != null && c.usable()) {
                // the common case, kept cheap: an optimized path that is not held back is tier 0,
                // which nothing can beat, so no scan of the other paths
                if (c.anaState == AnaState.OPTIMIZED && !c.heldBack()) {
                    return c;
                }
                if (c.tier() == bestTier(ps)) {
                    return c;
                }
            }
        }
        int tier = bestTier(ps);
        if (tier < 0) {
            return null;
        }
        Path chosen = switch (policy) {
            case NUMA, FIRST -> first(ps, tier);
            case ROUND_ROBIN -> roundRobin(ps, tier);
            case QUEUE_DEPTH -> fewestInFlight(ps, tier);
            case SERVICE_TIME -> leastServiceTime(ps, tier);
        };
        if (policy == IoPolicy.NUMA || policy == IoPolicy.FIRST) {
            current = chosen;
        }
        return chosen;
    }

    private static int bestTier(Path[] ps) {
        int best = -1;
        for (Path p : ps) {
            if (p.usable()) {
                int t = p.tier();
                if (best < 0 || t < best) {
                    best = t;
                }
            }
        }
        return best;
    }

    private static Path first(Path[] ps, int tier) {
        for (Path p : ps) {
            if (p.usable() && p.tier() == tier) {
                return p;
            }
        }
        return null;
    }

    private Path roundRobin(Path[] ps, int tier) {
        int n = 0;
        for (Path p : ps) {
            if (p.usable() && p.tier() == tier) {
                n++;
            }
        }
        if (n == 0) {
            return null;
        }
        int k = (cursor.getAndIncrement() & Integer.MAX_VALUE) % n;
        for (Path p : ps) {
            if (p.usable() && p.tier() == tier && k-- == 0) {
                return p;
            }
        }
        return null;
    }

    private static Path fewestInFlight(Path[] ps, int tier) {
        Path best = null;
        int depth = Integer.MAX_VALUE;
        for (Path p : ps) {
            if (p.usable() && p.tier() == tier) {
                int d = p.io.inFlight();
                if (d < depth) {
                    depth = d;
                    best = p;
                }
            }
        }
        return best;
    }

    private static Path leastServiceTime(Path[] ps, int tier) {
        Path best = null;
        double cost = Double.MAX_VALUE;
        for (Path p : ps) {
            if (p.usable() && p.tier() == tier) {
                double lat = p.io.recentLatencyNanos();
                double c = (p.io.inFlight() + 1) * (lat <= 0 ? 1 : lat);
                if (c < cost) {
                    cost = c;
                    best = p;
                }
            }
        }
        return best;
    }

    /** Failure hook; runs on the completing connection's event loop. */
    private boolean intercept(NvmeRequest r) {
        Path p = (Path) r.route();
        int packed = r.retries();
        int retried = packed & 0xFFFF;
        int failedOver = packed >>> 16;
        Disposition d = Disposition.decide(r.status(), retried, failedOver, options.maxRetries(), options.maxFailovers());
        switch (d) {
            case COMPLETE -> {
                return false;
            }
            case RETRY -> {
                r.retries((failedOver << 16) | (retried + 1));
                retries.increment();
                long delay = p == null ? 0 : p.io.retryDelayMillis(Status.crd(r.status()));
                try {
                    exec.schedule(() -> {
                        if (p != null && p.usable()) {
                            r.route(p);
                            p.io.submit(r);
                        } else {
                            dispatch(r);
                        }
                    }, delay, TimeUnit.MILLISECONDS);
                } catch (RejectedExecutionException e) {
                    r.fail(Status.HOST_PATH_ERROR, new TransportException("path layer closed"));
                }
                return true;
            }
            case FAILOVER -> {
                r.retries(((failedOver + 1) << 16) | retried);
                failovers.increment();
                if (p != null) {
                    p.failoversFrom.increment();
                    if (current == p) {
                        current = null;
                    }
                    if (Status.isAnaError(r.status())) {
                        p.anaPending = true;
                        subsystem.anaErrorSeen(p);
                    } else if (Status.code(r.status()) == Status.HOST_ABORTED_CMD
                            || Status.code(r.status()) == Status.HOST_PATH_ERROR) {
                        p.suspect(SUSPECT_NANOS);
                    }
                }
                try {
                    exec.execute(() -> dispatch(r));
                } catch (RejectedExecutionException e) {
                    r.fail(Status.HOST_PATH_ERROR, new TransportException("path layer closed"));
                }
                return true;
            }
            default -> throw new IllegalStateException(d.name());
        }
    }

    // ---- no usable path -----------------------------------------------------------------------

    private void noPath(NvmeRequest r) {
        if (!mayRecover()) {
            noPathFailures.increment();
            r.fail(Status.HOST_PATH_ERROR, new TransportException("no path to namespace " + nsid + " of "
                    + subsystem.nqn() + ": no controller left that could come back"));
            return;
        }
        boolean full;
        synchronized (requeue) {
            full = requeueBytes + r.dataLength() > options.requeueLimitBytes() || requeue.size() >= MAX_QUEUED;
            if (!full) {
                requeue.addLast(new Queued(r, clock.getAsLong()));
                requeueBytes += r.dataLength();
            }
        }
        if (full) {
            noPathFailures.increment();
            r.fail(Status.INTERNAL | Status.DNR, new TransportException("no usable path to namespace " + nsid
                    + " of " + subsystem.nqn() + " and the requeue limit is reached (" + options.requeueLimitBytes()
                    + " bytes or " + MAX_QUEUED + " requests)"));
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
        while (true) {
            Queued q;
            synchronized (requeue) {
                if (requeue.isEmpty() || select() == null) {
                    return;
                }
                q = requeue.pollFirst();
                requeueBytes -= q.request().dataLength();
            }
            dispatch(q.request());
        }
    }

    /** Fails requests that waited longer than the no-path timeout, or all of them when nothing can recover. */
    void expire() {
        boolean recover = mayRecover();
        long now = clock.getAsLong();
        long limit = options.noPathTimeout() == null ? Long.MAX_VALUE : options.noPathTimeout().toNanos();
        List<Queued> dead = new ArrayList<>();
        synchronized (requeue) {
            Iterator<Queued> it = requeue.iterator();
            while (it.hasNext()) {
                Queued q = it.next();
                if (!recover || now - q.sinceNanos() >= limit) {
                    it.remove();
                    requeueBytes -= q.request().dataLength();
                    dead.add(q);
                }
            }
        }
        for (Queued q : dead) {
            noPathFailures.increment();
            String why = recover ? "no usable path to namespace " + nsid + " of " + subsystem.nqn() + " for "
                    + TimeUnit.NANOSECONDS.toMillis(now - q.sinceNanos()) + " ms (no_path_timeout)"
                    : "no path to namespace " + nsid + " of " + subsystem.nqn() + ": no controller left that could come back";
            q.request().fail(Status.HOST_PATH_ERROR, new TransportException(why));
        }
    }

    /** Fails everything waiting (the path layer is closing). */
    void expireAll(String why) {
        List<Queued> all;
        synchronized (requeue) {
            all = new ArrayList<>(requeue);
            requeue.clear();
            requeueBytes = 0;
        }
        for (Queued q : all) {
            noPathFailures.increment();
            q.request().fail(Status.HOST_PATH_ERROR, new TransportException(why));
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

    /** Any state change of any path: forget the sticky choice, note failbacks, send what waits. */
    void pathsChanged() {
        current = null;
        for (Path p : paths) {
            Path.Transition t = p.noteUsability(options.failback(), options.failbackDelay().toNanos(),
                    options.marginalWindow().toNanos(), options.marginalHold().toNanos());
            if (t == Path.Transition.LOST_AND_MARGINAL) {
                log.warn("{} nsid {}: path {} failed {} times within {} s: marginal, held back for {} s",
                        subsystem.nqn(), nsid, p.io.name(), options.marginalFailures(),
                        options.marginalWindow().toSeconds(), options.marginalHold().toSeconds());
            }
        }
        kick();
    }

    int queuedCount() {
        synchronized (requeue) {
            return requeue.size();
        }
    }

    long queuedBytes() {
        synchronized (requeue) {
            return requeueBytes;
        }
    }

    /** Whether the sticky choice is {@code p} (tests). */
    Path current() {
        return current;
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
            ps.add(new MultipathView.PathEntry(p.io.name(), p.io.address(), p.io.cntlid(), p.io.state().name().toLowerCase(), p.anaState.label(),
                    p.anaGroup, p.usable(), p.heldBack(), p.marginal(), p.io.inFlight(), p.failures, p.marginalHolds,
                    p.failoversFrom.sum(), ops, bytes, errors, buckets, sum, rtt));
        }
        return new MultipathView.Head(nsid, ids.nguidHex(), ids.eui64Hex(),
                ids.uuid() == null ? null : ids.uuid().toString(), sizeBytes(), lbaSize, queuedCount(), queuedBytes(),
                noPathWaits.sum(), noPathFailures.sum(), failovers.sum(), retries.sum(), ps);
    }

    @Override
    public String toString() {
        return subsystem.nqn() + " nsid " + nsid;
    }

    static boolean isOptimized(Path p) {
        return p.anaState == AnaState.OPTIMIZED;
    }
}
