package io.nvmpath.server.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.util.concurrent.ScheduledFuture;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.multipath.ControllerPathIo;
import io.nvmpath.multipath.FailoverRecord;
import io.nvmpath.multipath.Multipath;
import io.nvmpath.multipath.MultipathView;
import io.nvmpath.multipath.NamespaceHead;
import io.nvmpath.multipath.Path;
import io.nvmpath.transport.Transport;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * A closed-loop load generator over a namespace head (or, as the baseline, one controller): exactly
 * {@code iodepth} I/Os in flight, each completion submitting the next from its callback, on the
 * completing event loop.
 *
 * <p>The hot path allocates nothing of its own beyond the request the host API needs: write
 * payloads come from the pooled allocator and go back to it on completion, read data is released
 * after the optional check, latencies go into a per-thread {@link LatencyHistogram}, counters are
 * {@link LongAdder}s keyed by the path object (named only when reported). A failed I/O is counted by
 * status and its slot resubmits after a millisecond, off the completing thread.
 *
 * <p>Life cycle: {@link #start} connects, reads the geometry, writes the verify pattern when asked,
 * and starts the load; {@link #await} waits for the run to end and returns its {@link BenchResult};
 * {@link #close} disconnects. While it runs, {@link #perPathNow()}, {@link #errorsNow()} and
 * {@link #takeStallNanos()} let a test watch it.
 */
public final class Bench implements AutoCloseable {
    /** Connecting every path: TCP, Connect, Identify, namespaces, ANA log. */
    static final long CONNECT_SECONDS = 30;
    /** Commands of the prefill and the final read-back. */
    private static final int SWEEP_CHUNK = 128 << 10;
    private static final int SWEEP_DEPTH = 16;
    /** A sweep that makes no progress for this long gives up. */
    private static final long SWEEP_STALL_SECONDS = 120;
    /** A slot whose I/O failed waits this long before its next one: no busy loop on a dead path. */
    private static final long ERROR_BACKOFF_MILLIS = 1;

    private final BenchConfig config;
    private final MultiThreadIoEventLoopGroup group;
    private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
    private final int readPercent;
    private final AtomicLong sequential = new AtomicLong();
    private final CountDownLatch timeUp = new CountDownLatch(1);
    private final CountDownLatch drained = new CountDownLatch(1);
    private final AtomicInteger activeSlots = new AtomicInteger();
    private final LongAdder readbackVerifyErrors = new LongAdder();
    private final AtomicReference<String> firstVerifyError = new AtomicReference<>();

    private Multipath multipath;
    private NamespaceHead head;
    private Controller controller;
    private int lbaSize;
    private int blocksPerIo;
    private long regionBytes;
    private long regionUnits;
    private long maxTransfer;

    private volatile boolean running;
    private volatile Stats stats;
    private volatile long stopNanos;
    private volatile MultipathView.Head headBaseline;
    /** When the measured run began (wall clock): the failovers reported are those from then on. */
    private volatile long startEpochMillis;
    private ScheduledFuture<?> rampTask;
    private ScheduledFuture<?> endTask;
    private BenchResult result;

    private Bench(BenchConfig config) {
        this.config = config;
        this.readPercent = config.rw().readPercent(config.mixRead());
        this.group = Transport.process().newGroup(config.threads(), "nvmpath-bench");
    }

    /** Runs one benchmark to its end: {@link #start}, {@link #await}, {@link #close}. */
    public static BenchResult run(BenchConfig config) {
        try (Bench b = start(config)) {
            return b.await();
        }
    }

    /**
     * Connects, checks the geometry, writes the verify pattern (with {@code verify}) and starts the
     * load. Blocks until the load runs.
     *
     * @throws BenchException when a path cannot be connected, the namespace is missing, the block
     *                        size does not fit, or the prefill fails
     */
    public static Bench start(BenchConfig config) {
        return start(config, true);
    }

    /** As {@link #start(BenchConfig)}; {@code prefill} false checks what an earlier run wrote (tests). */
    static Bench start(BenchConfig config, boolean prefill) {
        Bench b = new Bench(config);
        try {
            b.connect();
            b.geometry();
            if (config.verify() && prefill) {
                b.sweep(true);
            }
            b.launch();
            return b;
        } catch (RuntimeException | Error e) {
            b.close();
            throw e;
        }
    }

    // ---- set-up ---------------------------------------------------------------------------------

    private void connect() {
        ControllerOptions co = config.controller();
        if (config.singlePath()) {
            // a single-path user has no head to requeue for it: hold I/O across a reconnect, as Linux
            // does without multipath, bounded by ctrl_loss_tmo
            ControllerOptions single = co.copy().holdIoWhileReconnecting(true);
            TransportAddress a = config.portals().get(0);
            controller = await(Controller.connect(a, config.nqn(), single, group),
                    "the connection to " + config.nqn() + " at " + a);
            return;
        }
        multipath = new Multipath(config.multipath(), group);
        // one after the other: the head's path order is the portals' order, which numa and first follow
        // among paths of the same ANA state
        for (TransportAddress a : config.portals()) {
            await(multipath.addPortal(a, config.nqn()), "the paths of " + config.nqn() + " at " + a);
        }
        head = multipath.head(config.nqn(), config.nsid());
        if (head == null) {
            throw new BenchException("subsystem " + config.nqn() + " has no namespace " + config.nsid());
        }
        multipath.ioPolicy(config.nqn(), config.ioPolicy());
    }

    private void geometry() {
        long nsBytes;
        if (head != null) {
            lbaSize = head.lbaSize();
            nsBytes = head.sizeBytes();
            maxTransfer = Long.MAX_VALUE;
            for (Path p : head.paths()) {
                if (p.io() instanceof ControllerPathIo cio) {
                    maxTransfer = Math.min(maxTransfer, cio.controller().maxTransferBytes());
                }
            }
        } else {
            IdentifyNamespace ns = await(controller.identifyNamespace(config.nsid()), "Identify Namespace");
            if (!ns.active()) {
                throw new BenchException("namespace " + config.nsid() + " is not active on " + controller);
            }
            lbaSize = ns.lbaSize();
            nsBytes = ns.sizeBytes();
            maxTransfer = controller.maxTransferBytes();
        }
        int bs = config.blockSize();
        if (bs % lbaSize != 0) {
            throw new BenchException("block size " + bs + " is not a multiple of the namespace's LBA size " + lbaSize);
        }
        if (bs > maxTransfer) {
            throw new BenchException("block size " + bs + " exceeds the controller's maximum transfer (MDTS) of "
                    + maxTransfer + " bytes");
        }
        long region = config.regionBytes() > 0 ? config.regionBytes()
                : Math.min(nsBytes, BenchConfig.DEFAULT_REGION_CAP);
        if (region > nsBytes) {
            throw new BenchException("region of " + region + " bytes is larger than namespace " + config.nsid()
                    + " (" + nsBytes + " bytes)");
        }
        regionUnits = region / bs;
        if (regionUnits == 0) {
            throw new BenchException("region of " + region + " bytes holds no block of " + bs + " bytes");
        }
        regionBytes = regionUnits * bs;
        blocksPerIo = bs / lbaSize;
    }

    private void launch() {
        long now = System.nanoTime();
        stats = new Stats(now);
        running = true;
        long ramp = config.rampTime().toNanos();
        if (ramp > 0) {
            rampTask = group.schedule(this::endRamp, ramp, TimeUnit.NANOSECONDS);
        } else {
            headBaseline = headView();
            startEpochMillis = System.currentTimeMillis();
        }
        endTask = group.schedule(this::stop, ramp + config.runtime().toNanos(), TimeUnit.NANOSECONDS);
        activeSlots.set(config.ioDepth());
        for (int i = 0; i < config.ioDepth(); i++) {
            Slot s = new Slot();
            group.next().execute(() -> issue(s));
        }
    }

    private void endRamp() {
        headBaseline = headView();
        startEpochMillis = System.currentTimeMillis();
        stats = new Stats(System.nanoTime());
    }

    // ---- the load -------------------------------------------------------------------------------

    /** One of the {@code iodepth} I/Os in flight; it is its own completion callback. */
    private final class Slot implements NvmeRequest.Callback {
        long issuedNanos;
        long slba;

        @Override
        public void onComplete(NvmeRequest r) {
            completed(this, r);
        }
    }

    private void issue(Slot s) {
        if (!running) {
            if (activeSlots.decrementAndGet() == 0) {
                drained.countDown();
            }
            return;
        }
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        long unit = config.rw().random() ? rnd.nextLong(regionUnits)
                : Math.floorMod(sequential.getAndIncrement(), regionUnits);
        s.slba = unit * blocksPerIo;
        boolean read = readPercent >= 100 || (readPercent > 0 && rnd.nextInt(100) < readPercent);
        NvmeRequest r;
        if (read) {
            r = Commands.read(config.nsid(), s.slba, blocksPerIo, lbaSize);
        } else {
            ByteBuf data = alloc.directBuffer(config.blockSize(), config.blockSize());
            if (config.verify()) {
                BlockPattern.write(data, config.seed(), s.slba, blocksPerIo, lbaSize);
            } else {
                data.writeZero(config.blockSize());
            }
            r = Commands.write(config.nsid(), s.slba, blocksPerIo, data, false);
        }
        r.callback(s);
        s.issuedNanos = System.nanoTime();
        submit(r);
    }

    private void submit(NvmeRequest r) {
        if (head != null) {
            head.submit(r);
        } else {
            controller.submit(r);
        }
    }

    /** On the completing thread: an event loop, or the submitter when the I/O never left this host. */
    private void completed(Slot s, NvmeRequest r) {
        long now = System.nanoTime();
        ByteBuf read = r.takeReadData();
        ByteBuf written = r.writeData();
        boolean ok = r.ok();
        Stats st = stats;
        try {
            if (ok) {
                if (read != null && config.verify()) {
                    int bad = BlockPattern.check(read, config.seed(), s.slba, blocksPerIo, lbaSize);
                    if (bad > 0) {
                        st.verifyErrors.add(bad);
                        noteVerifyError(read, s.slba, routeOf(r));
                    }
                }
                st.completed(routeOf(r), now - s.issuedNanos, config.blockSize(), now);
            } else {
                st.failed(r);
            }
        } finally {
            if (read != null) {
                read.release();
            }
            if (written != null) {
                written.release();
            }
        }
        if (ok) {
            issue(s);
        } else {
            group.schedule(() -> issue(s), ERROR_BACKOFF_MILLIS, TimeUnit.MILLISECONDS);
        }
    }

    private void noteVerifyError(ByteBuf data, long slba, Object route) {
        if (firstVerifyError.get() != null) {
            return;
        }
        for (int b = 0; b < blocksPerIo; b++) {
            int at = data.readerIndex() + b * lbaSize;
            int off = BlockPattern.firstDifference(data, at, config.seed(), slba + b, lbaSize);
            if (off >= 0) {
                firstVerifyError.compareAndSet(null, "LBA " + (slba + b) + " differs at byte " + off
                        + (route == null ? "" : " (read through " + pathName(route) + ")"));
                return;
            }
        }
    }

    /** Ends the measured phase: no slot issues another I/O. */
    public void stop() {
        if (running) {
            stopNanos = System.nanoTime();
            running = false;
        }
        if (endTask != null) {
            endTask.cancel(false);
        }
        if (rampTask != null) {
            rampTask.cancel(false);
        }
        timeUp.countDown();
    }

    /**
     * Waits for the run to end (its runtime, or {@link #stop()}), for every I/O to complete, then
     * with {@code verify} and a mode that writes, reads the region back and checks it.
     */
    public BenchResult await() {
        if (result != null) {
            return result;
        }
        try {
            timeUp.await();
            long drainSeconds = drainSeconds();
            boolean all = drained.await(drainSeconds, TimeUnit.SECONDS);
            int stuck = all ? 0 : activeSlots.get();
            long end = Math.max(stopNanos, stats.lastCompletion.get());
            if (all && config.verify() && config.rw().writes(config.mixRead())) {
                sweep(false);
            }
            result = result(end, stuck);
            return result;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException("interrupted while waiting for the run to end");
        }
    }

    /** I/O can wait for a path up to the no-path timeout, or on a single path until ctrl_loss_tmo. */
    private long drainSeconds() {
        Duration d = head != null ? config.multipath().noPathTimeout() : config.controller().ctrlLossTimeout();
        if (d == null || d.isNegative()) {
            return 120;
        }
        return Math.min(660, d.toSeconds() + 15);
    }

    // ---- watching a run -------------------------------------------------------------------------

    /** Successful I/Os per path address so far in the measured phase (in the ramp: the ramp's). */
    public Map<String, Long> perPathNow() {
        return stats.perPath();
    }

    public long iosNow() {
        return stats.ios.sum();
    }

    public long errorsNow() {
        return stats.errors.sum();
    }

    public long verifyErrorsNow() {
        return stats.verifyErrors.sum() + readbackVerifyErrors.sum();
    }

    /** Failed I/Os by status so far. */
    public Map<String, Long> errorsByStatusNow() {
        return stats.errorsByStatus();
    }

    /**
     * The longest interval without a successful completion that ended since the last call (or the
     * start): call it before a fault, then once I/O flows again.
     */
    public long takeStallNanos() {
        return stats.markGap.getAndSet(0);
    }

    /** The path layer; null with {@code singlePath}. */
    public Multipath multipath() {
        return multipath;
    }

    /** The namespace head the load goes through; null with {@code singlePath}. */
    public NamespaceHead head() {
        return head;
    }

    /** The controller of a single-path run; null otherwise. */
    public Controller controller() {
        return controller;
    }

    public BenchConfig config() {
        return config;
    }

    // ---- prefill and read-back ------------------------------------------------------------------

    /**
     * Writes ({@code write}) or reads and checks the whole region, sequentially in chunks of up to
     * 128 KiB (and MDTS), {@value #SWEEP_DEPTH} in flight; from the calling thread, which waits.
     */
    private void sweep(boolean write) {
        long most = Math.min(SWEEP_CHUNK, maxTransfer);
        int chunk = (int) Math.max(config.blockSize(), most / config.blockSize() * config.blockSize());
        Semaphore window = new Semaphore(SWEEP_DEPTH);
        AtomicReference<String> failure = new AtomicReference<>();
        for (long off = 0; off < regionBytes && failure.get() == null; off += chunk) {
            int len = (int) Math.min(chunk, regionBytes - off);
            long slba = off / lbaSize;
            int nlb = len / lbaSize;
            acquire(window, 1, write);
            NvmeRequest r;
            if (write) {
                ByteBuf data = alloc.directBuffer(len, len);
                BlockPattern.write(data, config.seed(), slba, nlb, lbaSize);
                r = Commands.write(config.nsid(), slba, nlb, data, false);
            } else {
                r = Commands.read(config.nsid(), slba, nlb, lbaSize);
            }
            r.callback(done -> {
                ByteBuf data = done.takeReadData();
                ByteBuf written = done.writeData();
                try {
                    if (!done.ok()) {
                        failure.compareAndSet(null, (write ? "prefill write" : "read-back") + " of LBA " + slba
                                + " failed: " + done.describeStatus());
                    } else if (data != null) {
                        int bad = BlockPattern.check(data, config.seed(), slba, nlb, lbaSize);
                        if (bad > 0) {
                            readbackVerifyErrors.add(bad);
                            noteSweepError(data, slba, nlb);
                        }
                    }
                } finally {
                    if (data != null) {
                        data.release();
                    }
                    if (written != null) {
                        written.release();
                    }
                    window.release();
                }
            });
            submit(r);
        }
        acquire(window, SWEEP_DEPTH, write);
        window.release(SWEEP_DEPTH);
        if (failure.get() != null) {
            throw new BenchException(failure.get());
        }
    }

    private void noteSweepError(ByteBuf data, long slba, int nlb) {
        for (int b = 0; b < nlb && firstVerifyError.get() == null; b++) {
            int off = BlockPattern.firstDifference(data, data.readerIndex() + b * lbaSize, config.seed(), slba + b,
                    lbaSize);
            if (off >= 0) {
                firstVerifyError.compareAndSet(null, "LBA " + (slba + b) + " differs at byte " + off
                        + " in the final read-back");
            }
        }
    }

    private static void acquire(Semaphore s, int permits, boolean write) {
        try {
            if (!s.tryAcquire(permits, SWEEP_STALL_SECONDS, TimeUnit.SECONDS)) {
                throw new BenchException((write ? "prefill" : "read-back") + " made no progress for "
                        + SWEEP_STALL_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException("interrupted");
        }
    }

    // ---- results --------------------------------------------------------------------------------

    private BenchResult result(long end, int stuck) {
        Stats st = stats;
        LatencyHistogram h = new LatencyHistogram();
        for (LatencyHistogram part : st.recorders) {
            h.add(part);
        }
        double seconds = Math.max(1, end - st.startNanos) / 1e9;
        long ios = st.ios.sum();
        long bytes = st.bytes.sum();
        long lastGap = stopNanos == 0 ? 0 : Math.max(0, stopNanos - st.lastCompletion.get());
        double stallMs = Math.max(st.maxGap.get(), lastGap) / 1e6;
        BenchResult.Latency lat = new BenchResult.Latency(h.quantile(0.50) / 1e3, h.quantile(0.99) / 1e3,
                h.quantile(0.999) / 1e3, h.max() / 1e3, h.mean() / 1e3);
        Map<String, Long> perPath = new TreeMap<>();
        Map<String, String> paths = new LinkedHashMap<>();
        BenchResult.HeadCounters counters = null;
        if (head != null) {
            for (Path p : head.paths()) {
                String name = pathName(p);
                perPath.put(name, 0L);
                paths.put(name, p.anaState().label() + ", " + p.io().state().name().toLowerCase()
                        + (p.usable() ? "" : ", not usable"));
            }
            MultipathView.Head now = headView();
            MultipathView.Head base = headBaseline != null ? headBaseline : now;
            List<FailoverRecord> events = new ArrayList<>(multipath.failovers().stream()
                    .filter(f -> f.subsystem().equals(head.subsystem().nqn()) && f.nsid() == head.nsid()
                            && f.atEpochMillis() >= startEpochMillis).toList());
            java.util.Collections.reverse(events);
            counters = new BenchResult.HeadCounters(now.failovers() - base.failovers(), now.retries() - base.retries(),
                    now.noPathWaits() - base.noPathWaits(), now.noPathFailures() - base.noPathFailures(), events);
        } else {
            String name = pathName(controller);
            perPath.put(name, 0L);
            paths.put(name, controller.state().name().toLowerCase());
        }
        perPath.putAll(st.perPath());
        Map<String, Long> errors = st.errorsByStatus();
        if (stuck > 0) {
            errors.merge("still outstanding at the end", (long) stuck, Long::sum);
        }
        return new BenchResult(config, paths, regionBytes, lbaSize, seconds, ios, bytes, ios / seconds,
                bytes / seconds / (1 << 20), lat, errors, st.verifyErrors.sum() + readbackVerifyErrors.sum(),
                firstVerifyError.get(), perPath, stallMs, counters);
    }

    private MultipathView.Head headView() {
        return head == null ? null : head.view();
    }

    /** Where a completed I/O went: the head's path, or the one controller without a head. */
    private Object routeOf(NvmeRequest r) {
        Path p = head == null ? null : NamespaceHead.pathOf(r);
        return p != null ? p : controller;
    }

    /** A path by its portal address, whatever the CNTLID (a reconnect may get another). */
    static String pathName(Object route) {
        if (route instanceof Path p) {
            return p.id().address();
        }
        if (route instanceof Controller c) {
            return c.address().toString();
        }
        return String.valueOf(route);
    }

    // ---- closing --------------------------------------------------------------------------------

    /** Stops the load if it still runs, disconnects every path and stops the event loops. */
    @Override
    public void close() {
        stop();
        try {
            drained.await(activeSlots.get() == 0 ? 0 : 5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            if (multipath != null) {
                multipath.close();
            }
            if (controller != null) {
                controller.close();
            }
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
    }

    private static <T> T await(CompletableFuture<T> f, String what) {
        try {
            return f.get(CONNECT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable c = e.getCause() == null ? e : e.getCause();
            throw new BenchException(what + " failed: " + (c.getMessage() == null ? c.toString() : c.getMessage()), c);
        } catch (TimeoutException e) {
            f.cancel(false);
            throw new BenchException("timed out after " + CONNECT_SECONDS + " s waiting for " + what);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException("interrupted while waiting for " + what);
        }
    }

    // ---- counters of one phase ------------------------------------------------------------------

    /**
     * The counters of one phase (the ramp, then the measured phase). Latencies go to a histogram per
     * completing thread; the rest are adders and atomics any thread may read while the run goes on.
     */
    private static final class Stats {
        final long startNanos;
        final List<LatencyHistogram> recorders = new CopyOnWriteArrayList<>();
        final ThreadLocal<LatencyHistogram> local = ThreadLocal.withInitial(this::newRecorder);
        final LongAdder ios = new LongAdder();
        final LongAdder bytes = new LongAdder();
        final LongAdder errors = new LongAdder();
        final LongAdder verifyErrors = new LongAdder();
        /** Keyed by the path object (or the controller): no name built per I/O. */
        final ConcurrentHashMap<Object, LongAdder> perRoute = new ConcurrentHashMap<>();
        final ConcurrentHashMap<String, LongAdder> byStatus = new ConcurrentHashMap<>();
        final AtomicLong lastCompletion;
        final AtomicLong maxGap = new AtomicLong();
        final AtomicLong markGap = new AtomicLong();

        Stats(long startNanos) {
            this.startNanos = startNanos;
            this.lastCompletion = new AtomicLong(startNanos);
        }

        private LatencyHistogram newRecorder() {
            LatencyHistogram h = new LatencyHistogram();
            recorders.add(h);
            return h;
        }

        void completed(Object route, long latencyNanos, int size, long now) {
            local.get().record(latencyNanos);
            ios.increment();
            bytes.add(size);
            LongAdder c = perRoute.get(route);
            if (c == null) {
                c = perRoute.computeIfAbsent(route, k -> new LongAdder());
            }
            c.increment();
            long prev = lastCompletion.getAndAccumulate(now, Math::max);
            if (now > prev) {
                long gap = now - prev;
                if (gap > maxGap.get()) {
                    maxGap.accumulateAndGet(gap, Math::max);
                }
                if (gap > markGap.get()) {
                    markGap.accumulateAndGet(gap, Math::max);
                }
            }
        }

        void failed(NvmeRequest r) {
            errors.increment();
            byStatus.computeIfAbsent(Status.describe(r.status()), k -> new LongAdder()).increment();
        }

        Map<String, Long> perPath() {
            Map<String, Long> out = new TreeMap<>();
            perRoute.forEach((route, n) -> out.merge(pathName(route), n.sum(), Long::sum));
            return out;
        }

        Map<String, Long> errorsByStatus() {
            Map<String, Long> out = new TreeMap<>();
            byStatus.forEach((k, v) -> out.put(k, v.sum()));
            return out;
        }
    }
}
