package io.nvmpath.fabric.host;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.ScheduledFuture;
import io.nvmpath.fabric.log.WarnLimiter;
import io.nvmpath.fabric.nvme.AnaLog;
import io.nvmpath.fabric.nvme.AsyncEvent;
import io.nvmpath.fabric.nvme.ChangedNamespaces;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.NamespaceIds;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * One NVMe over Fabrics controller reached over TCP: one path. An admin queue plus N I/O queues, each
 * its own connection; keep-alive; reset and reconnect; asynchronous events.
 *
 * <p>Threading: all management (state, connect, reset, keep-alive, listeners) runs on one event loop,
 * the controller's management executor. The I/O path reads only {@link #state} and the
 * copy-on-write array of I/O queues; each queue does its work on its own event loop.
 *
 * <p>Failure contract, which a multipath layer builds on: when the association fails, every
 * outstanding command completes at once with {@link Status#HOST_ABORTED_CMD}; a command submitted
 * while the controller is not LIVE completes with {@link Status#HOST_PATH_ERROR} (unless
 * {@link ControllerOptions#holdIoWhileReconnecting()}).
 */
public final class Controller implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Controller.class);


    /** Bound on I/O held while reconnecting (only with holdIoWhileReconnecting). */
    private static final int MAX_HELD = 4096;

    private final TransportAddress address;
    private final String subsystemNqn;
    private final ControllerOptions options;
    private final EventLoopGroup group;
    private final EventLoop exec;
    private final boolean discovery;
    private final List<ControllerListener> listeners = new CopyOnWriteArrayList<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final AtomicInteger ioCursor = new AtomicInteger();
    private final PathStats stats = new PathStats();

    private volatile ControllerState state = ControllerState.NEW;
    private volatile HostQueue[] ioQueues = new HostQueue[0];
    private volatile IdentifyController identity;
    private volatile long cap;
    private volatile int cntlid = -1;
    private volatile long maxTransferBytes = Long.MAX_VALUE;

    // management state, on exec only
    private HostQueue adminQueue;
    private int generationId;
    private ScheduledFuture<?> keepAliveTask;
    private ScheduledFuture<?> reconnectTask;
    private ScheduledFuture<?> fastFailTask;
    private long lossStartNanos;
    private int reconnectAttempts;
    /** Failed reconnects are warned about once, then at most once a minute. */
    private final WarnLimiter reconnectWarnings = new WarnLimiter(log, TimeUnit.MINUTES.toNanos(1));
    private boolean keepAliveOutstanding;
    private final ArrayDeque<NvmeRequest> held = new ArrayDeque<>();
    private String lastFailure;

    private Controller(TransportAddress address, String subsystemNqn, ControllerOptions options, EventLoopGroup group) {
        this.address = address;
        this.subsystemNqn = subsystemNqn;
        this.options = options.copy();
        this.group = group;
        this.exec = group.next();
        this.discovery = Opcodes.DISCOVERY_NQN.equals(subsystemNqn);
    }

    /**
     * Connects to the controller of {@code subsystemNqn} at {@code address}. The future completes once
     * the controller is LIVE, or fails with the reason (refused connection, rejected Connect...), in
     * which case the controller is DEAD: an initial connect is not retried.
     */
    public static CompletableFuture<Controller> connect(TransportAddress address, String subsystemNqn,
                                                        ControllerOptions options, EventLoopGroup group) {
        Controller c = new Controller(address, subsystemNqn, options, group);
        return c.start().thenApply(v -> c);
    }

    /** Like {@link #connect} with listeners registered before anything happens. */
    public static CompletableFuture<Controller> connect(TransportAddress address, String subsystemNqn,
                                                        ControllerOptions options, EventLoopGroup group,
                                                        ControllerListener... initial) {
        Controller c = new Controller(address, subsystemNqn, options, group);
        for (ControllerListener l : initial) {
            c.listeners.add(l);
        }
        return c.start().thenApply(v -> c);
    }

    private CompletableFuture<Void> start() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        exec.execute(() -> {
            changeState(ControllerState.CONNECTING, "connect");
            establish().whenCompleteAsync((v, err) -> {
                if (err == null) {
                    changeState(ControllerState.LIVE, "connected");
                    afterLive();
                    done.complete(null);
                } else {
                    Throwable cause = unwrap(err);
                    lastFailure = cause.getMessage();
                    teardown("connect failed");
                    changeState(ControllerState.DELETING, cause.getMessage());
                    changeState(ControllerState.DEAD, cause.getMessage());
                    closed.complete(null);
                    done.completeExceptionally(cause);
                }
            }, exec);
        });
        return done;
    }

    // ---- public view --------------------------------------------------------------------------

    public TransportAddress address() {
        return address;
    }

    public String subsystemNqn() {
        return subsystemNqn;
    }

    public ControllerState state() {
        return state;
    }

    /** Identify Controller data of the current association (refreshed on every reconnect). */
    public IdentifyController identity() {
        return identity;
    }

    /** The controller ID the target assigned to this association. */
    public int cntlid() {
        return cntlid;
    }

    /** The CAP property read at connect. */
    public long cap() {
        return cap;
    }

    /** Largest data transfer one command may carry (from MDTS); {@link Long#MAX_VALUE} when unlimited. */
    public long maxTransferBytes() {
        return maxTransferBytes;
    }

    /** Number of connected I/O queues. */
    public int ioQueueCount() {
        return ioQueues.length;
    }

    /** Commands outstanding on all I/O queues. */
    public int inFlight() {
        int n = 0;
        for (HostQueue q : ioQueues) {
            n += q.inFlight();
        }
        return n;
    }

    /** Negotiated header digest of the I/O queues (admin if none). */
    public boolean headerDigest() {
        HostQueue[] qs = ioQueues;
        HostQueue q = qs.length > 0 ? qs[0] : adminQueue;
        return q != null && q.headerDigest();
    }

    public boolean dataDigest() {
        HostQueue[] qs = ioQueues;
        HostQueue q = qs.length > 0 ? qs[0] : adminQueue;
        return q != null && q.dataDigest();
    }

    public ControllerOptions options() {
        return options.copy();
    }

    /** I/O carried by this controller since it was created (across reconnects). */
    public PathStats stats() {
        return stats;
    }

    /**
     * Resets a LIVE controller as an error would (e.g. the path layer's ANA transition timeout): every
     * outstanding command is aborted, then it reconnects. Does nothing in any other state.
     */
    public void reset(String reason) {
        exec.execute(() -> startReset(reason));
    }

    /** Why the association last failed, or {@code null}. */
    public String lastFailure() {
        return lastFailure;
    }

    public void addListener(ControllerListener l) {
        listeners.add(l);
    }

    public void removeListener(ControllerListener l) {
        listeners.remove(l);
    }

    /** Completes once the controller is DEAD. */
    public CompletableFuture<Void> closeFuture() {
        return closed;
    }

    @Override
    public String toString() {
        return "nvme-tcp " + address + " " + subsystemNqn + (cntlid >= 0 ? " cntlid " + cntlid : "");
    }

    // ---- I/O submission -----------------------------------------------------------------------

    /**
     * Sends an NVM command on one of the I/O queues (the one whose event loop is the caller's, else
     * round-robin). Never blocks; the request's callback reports the outcome — also a refusal: data
     * beyond the controller's maximum transfer (MDTS) completes at once with Invalid Field and DNR
     * (splitting is the caller's business; a path layer must not retry it elsewhere).
     */
    public void submit(NvmeRequest r) {
        r.reset();
        if (r.dataLength() > maxTransferBytes && r.direction() != NvmeRequest.Direction.NONE
                && r.sqe().opcode() != Opcodes.NVM_DSM) {
            r.complete(Status.INVALID_FIELD | Status.DNR, 0, 0, new IllegalArgumentException("transfer of "
                    + r.dataLength() + " bytes exceeds the maximum data transfer size (MDTS) of " + this + ", "
                    + maxTransferBytes + " bytes"));
            return;
        }
        HostQueue[] qs = ioQueues;
        if (state != ControllerState.LIVE || qs.length == 0) {
            notLive(r);
            return;
        }
        HostQueue q = null;
        for (HostQueue candidate : qs) {
            if (candidate.eventLoop().inEventLoop()) {
                q = candidate;
                break;
            }
        }
        if (q == null) {
            q = qs[(ioCursor.getAndIncrement() & Integer.MAX_VALUE) % qs.length];
        }
        q.submit(r);
    }

    /** Sends an admin command. Fails with Host Pathing Error unless LIVE (or connecting, internally). */
    public void submitAdmin(NvmeRequest r) {
        r.reset();
        HostQueue q = adminQueue;
        if (state != ControllerState.LIVE || q == null) {
            r.complete(Status.HOST_PATH_ERROR, 0, 0,
                    new TransportException(this + " is " + state.name().toLowerCase()));
            return;
        }
        q.submit(r);
    }

    private void notLive(NvmeRequest r) {
        if (options.holdIoWhileReconnecting() && state.mayComeBack()) {
            exec.execute(() -> hold(r));
            return;
        }
        r.complete(Status.HOST_PATH_ERROR, 0, 0,
                new TransportException(this + " is " + state.name().toLowerCase()));
    }

    private void hold(NvmeRequest r) {
        if (state == ControllerState.LIVE) {
            submit(r);
        } else if (!state.mayComeBack() || fastFailExpired() || held.size() >= MAX_HELD) {
            r.complete(Status.HOST_PATH_ERROR, 0, 0, new TransportException(this + " is not live"));
        } else {
            held.addLast(r);
        }
    }

    private boolean fastFailExpired() {
        return options.fastIoFailTimeout() != null && lossStartNanos != 0
                && System.nanoTime() - lossStartNanos >= options.fastIoFailTimeout().toNanos();
    }

    private void releaseHeld(boolean resubmit) {
        while (!held.isEmpty()) {
            NvmeRequest r = held.pollFirst();
            if (resubmit) {
                submit(r);
            } else {
                r.complete(Status.HOST_PATH_ERROR, 0, 0, new TransportException(this + " is not live"));
            }
        }
    }

    // ---- futures over commands ----------------------------------------------------------------

    /** Runs an admin command; the future fails with {@link NvmeException} on an error status. */
    public CompletableFuture<NvmeRequest> admin(NvmeRequest r, String what) {
        return execute(r, what, this::submitAdmin);
    }

    /** Runs an I/O command; the future fails with {@link NvmeException} on an error status. */
    public CompletableFuture<NvmeRequest> io(NvmeRequest r, String what) {
        return execute(r, what, this::submit);
    }

    private static CompletableFuture<NvmeRequest> execute(NvmeRequest r, String what,
                                                          java.util.function.Consumer<NvmeRequest> submit) {
        CompletableFuture<NvmeRequest> f = new CompletableFuture<>();
        r.callback(done -> {
            if (done.ok()) {
                f.complete(done);
            } else {
                f.completeExceptionally(new NvmeException(what, done));
            }
        });
        try {
            submit.accept(r);
        } catch (RuntimeException e) {
            f.completeExceptionally(e);
        }
        return f;
    }

    /** Runs a command that returns data and parses it; the buffer is released after parsing. */
    private <T> CompletableFuture<T> readAdmin(NvmeRequest r, String what, Function<ByteBuf, T> parser) {
        return admin(r, what).thenApply(done -> {
            ByteBuf b = done.takeReadData();
            try {
                return parser.apply(b);
            } finally {
                b.release();
            }
        });
    }

    public CompletableFuture<IdentifyController> identifyController() {
        return readAdmin(Commands.identify(Opcodes.CNS_CONTROLLER, 0, 0), "Identify Controller",
                IdentifyController::parse);
    }

    public CompletableFuture<IdentifyNamespace> identifyNamespace(int nsid) {
        return readAdmin(Commands.identify(Opcodes.CNS_NAMESPACE, nsid, 0), "Identify Namespace " + nsid,
                IdentifyNamespace::parse);
    }

    /** Active NSIDs, all of them (the list is read in pages of 1024). */
    public CompletableFuture<List<Integer>> activeNamespaces() {
        return activeNamespacesFrom(0, new ArrayList<>());
    }

    private CompletableFuture<List<Integer>> activeNamespacesFrom(int start, List<Integer> acc) {
        return readAdmin(Commands.identify(Opcodes.CNS_ACTIVE_NSIDS, start, 0), "Identify Active Namespace List",
                b -> {
                    int last = 0;
                    for (int i = 0; i < 1024; i++) {
                        int id = b.getIntLE(b.readerIndex() + 4 * i);
                        if (id == 0) {
                            return -1;
                        }
                        acc.add(id);
                        last = id;
                    }
                    return last;
                }).thenCompose(last -> last > 0 && last != -1 && (last & 0xFFFFFFFFL) < 0xFFFFFFFEL
                ? activeNamespacesFrom(last, acc) : CompletableFuture.completedFuture(acc));
    }

    /** Namespace identifiers: descriptor list, completed from Identify Namespace. */
    public CompletableFuture<NamespaceIds> namespaceIds(int nsid) {
        CompletableFuture<NamespaceIds> descs = readAdmin(Commands.identify(Opcodes.CNS_NS_DESCRIPTORS, nsid, 0),
                "Identify Namespace Identification Descriptors " + nsid, NamespaceIds::parseDescriptors)
                .exceptionally(e -> {
                    // CNS 03h is optional before NVMe 1.3: fall back to Identify Namespace alone
                    if (unwrap(e) instanceof NvmeException n && !Status.isPathError(n.status())) {
                        return new NamespaceIds(null, null, null, 0);
                    }
                    throw e instanceof java.util.concurrent.CompletionException c ? c
                            : new java.util.concurrent.CompletionException(e);
                });
        return descs.thenCombine(identifyNamespace(nsid), NamespaceIds::withFallback);
    }

    /**
     * Reads the ANA log.
     *
     * @param groupsOnly RGO: descriptors without their NSID lists
     */
    public CompletableFuture<AnaLog> anaLog(boolean groupsOnly) {
        IdentifyController id = identity;
        int size = id == null ? 4096 : AnaLog.maxSize(Math.max(id.nanagrpid(), 1), groupsOnly ? 0 : Math.max(id.nn(), 1));
        size = Math.max(4096, (size + 3) & ~3);
        return readLog(Opcodes.LOG_ANA, groupsOnly ? 1 : 0, 0, size, "Get Log Page ANA").thenApply(b -> {
            try {
                return AnaLog.parse(b);
            } finally {
                b.release();
            }
        });
    }

    /**
     * Reads {@code size} bytes of a log page in pieces no larger than the controller's maximum
     * transfer, as one buffer the caller releases.
     */
    public CompletableFuture<ByteBuf> readLog(int lid, int lsp, int nsid, int size, String what) {
        int chunk = (int) Math.min(Math.min(maxTransferBytes, 1 << 20), size) & ~3;
        io.netty.buffer.CompositeByteBuf all = ByteBufAllocator.DEFAULT.compositeBuffer(Integer.MAX_VALUE);
        return readLogFrom(lid, lsp, nsid, 0, size, chunk, what, all).whenComplete((b, e) -> {
            if (e != null) {
                all.release();
            }
        });
    }

    private CompletableFuture<ByteBuf> readLogFrom(int lid, int lsp, int nsid, long offset, int size, int chunk,
                                                   String what, io.netty.buffer.CompositeByteBuf acc) {
        int n = (int) Math.min(chunk, size - offset);
        return admin(Commands.getLogPage(lid, lsp, false, nsid, offset, n), what).thenCompose(r -> {
            acc.addComponent(true, r.takeReadData());
            return offset + n >= size ? CompletableFuture.completedFuture((ByteBuf) acc)
                    : readLogFrom(lid, lsp, nsid, offset + n, size, chunk, what, acc);
        });
    }

    /** Reads (and so clears) the Changed Namespace List log. */
    public CompletableFuture<ChangedNamespaces> changedNamespaces() {
        return readAdmin(Commands.getLogPage(Opcodes.LOG_CHANGED_NS, 0, false, 0xFFFFFFFF, 0, ChangedNamespaces.SIZE),
                "Get Log Page Changed Namespace List", ChangedNamespaces::parse);
    }

    // ---- life cycle ---------------------------------------------------------------------------

    private void changeState(ControllerState next, String reason) {
        assert exec.inEventLoop();
        ControllerState prev = state;
        if (prev == next) {
            return;
        }
        if (!prev.canMoveTo(next)) {
            throw new IllegalStateException(this + ": " + prev + " -> " + next + " is not a valid transition");
        }
        state = next;
        if (next == ControllerState.DEAD) {
            closed.complete(null); // before the listeners: whoever hears DEAD finds the close future done
        }
        log.info("{}: {} -> {}{}", this, prev, next, reason == null ? "" : " (" + reason + ")");
        for (ControllerListener l : listeners) {
            try {
                l.stateChanged(this, prev, next, reason);
            } catch (RuntimeException e) {
                log.warn("{}: state listener failed", this, e);
            }
        }
    }

    /**
     * Runs {@code task} on the controller's event loop. Completions that arrive while the event loops
     * are shutting down (queues failing their commands as they close) have nothing left to do.
     */
    private void onExec(Runnable task) {
        try {
            exec.execute(task);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            if (!exec.isShuttingDown()) {
                throw e;
            }
        }
    }

    /** Sets up a whole association; on exec. Fails with the first error, leaving queues to teardown. */
    private CompletableFuture<Void> establish() {
        int gen = ++generationId;
        HostQueue.Owner owner = (q, reason) -> onExec(() -> queueFailed(gen, q, reason));
        return HostQueue.open(exec, address, 0, options.adminQueueSize(), options, owner)
                .thenComposeAsync(q -> {
                    if (gen != generationId) {
                        // the controller was reset or deleted while this connection was being made
                        q.close("association abandoned");
                        throw new TransportException("association abandoned");
                    }
                    adminQueue = q;
                    return fabricsConnect(q, 0, options.adminQueueSize() - 1, 0xFFFF);
                }, exec)
                .thenComposeAsync(cid -> {
                    current(gen);
                    cntlid = cid;
                    return internalAdmin(Commands.propertyGet(Opcodes.PROP_CAP, true), "Property Get CAP");
                }, exec)
                .thenComposeAsync(capReq -> {
                    current(gen);
                    cap = (capReq.result0() & 0xFFFFFFFFL) | ((long) capReq.result1() << 32);
                    return enable();
                }, exec)
                .thenComposeAsync(v -> {
                    current(gen);
                    return internalAdmin(Commands.identify(Opcodes.CNS_CONTROLLER, 0, 0), "Identify Controller");
                }, exec)
                .thenComposeAsync(req -> {
                    ByteBuf b = req.takeReadData();
                    IdentifyController id;
                    try {
                        id = IdentifyController.parse(b);
                    } finally {
                        b.release();
                    }
                    current(gen);
                    if (!discovery && !id.subnqn().isEmpty() && !id.subnqn().equals(subsystemNqn)) {
                        throw new TransportException("controller reports subsystem " + id.subnqn()
                                + ", not " + subsystemNqn);
                    }
                    identity = id;
                    maxTransferBytes = mdtsBytes(id.mdts(), cap);
                    return discovery ? CompletableFuture.completedFuture(null) : connectIoQueues(gen, owner, id);
                }, exec)
                .thenComposeAsync(v -> {
                    current(gen);
                    return configureAsyncEvents();
                }, exec);
    }

    /** Stops a set-up chain whose association was torn down meanwhile. */
    private void current(int gen) {
        if (gen != generationId) {
            throw new TransportException("association abandoned");
        }
    }

    private static long mdtsBytes(int mdts, long cap) {
        if (mdts == 0) {
            return Long.MAX_VALUE;
        }
        int mpsmin = (int) ((cap >>> 48) & 0xF);
        return (1L << mdts) * (1L << (12 + mpsmin));
    }

    private CompletableFuture<Integer> fabricsConnect(HostQueue q, int qid, int sqsize0, int cntlidWanted) {
        ByteBuf data = ByteBufAllocator.DEFAULT.buffer(Commands.CONNECT_DATA_SIZE);
        Commands.connectData(data, options.hostId(), cntlidWanted, subsystemNqn, options.hostNqn());
        long kato = qid == 0 ? options.keepAliveTimeout().toMillis() : 0;
        if (qid == 0 && discovery) {
            kato = 0;
        }
        int cattr = qid > 0 && options.disableSqFlowControl() ? 0x4 : 0;
        NvmeRequest r = Commands.connect(qid, sqsize0, cattr, kato, data);
        CompletableFuture<Integer> f = new CompletableFuture<>();
        r.callback(done -> {
            data.release();
            if (done.ok()) {
                f.complete(done.result0() & 0xFFFF);
            } else {
                String hint = Status.code(done.status()) == Status.CONNECT_INVALID_PARAM
                        ? " (wrong subsystem NQN " + subsystemNqn + "?)"
                        : Status.code(done.status()) == Status.CONNECT_INVALID_HOST
                        ? " (host " + options.hostNqn() + " not allowed)" : "";
                f.completeExceptionally(new NvmeException("Connect to " + subsystemNqn + " at " + address
                        + " (queue " + qid + ")", done, hint));
            }
        });
        q.submit(r);
        return f;
    }

    /** An admin command during association set-up, when the controller is not LIVE yet. */
    private CompletableFuture<NvmeRequest> internalAdmin(NvmeRequest r, String what) {
        return execute(r, what, req -> {
            req.reset();
            HostQueue q = adminQueue;
            if (q == null) {
                req.complete(Status.HOST_PATH_ERROR, 0, 0, new TransportException("no admin queue"));
            } else {
                q.submit(req);
            }
        });
    }

    /** CC.EN = 1 with 64-byte SQEs and 16-byte CQEs, then wait for CSTS.RDY (up to CAP.TO × 500 ms). */
    private CompletableFuture<Void> enable() {
        int mpsmin = (int) ((cap >>> 48) & 0xF);
        long cc = 1 | (mpsmin << 7) | (6 << 16) | (4 << 20);
        long timeoutMs = Math.max(500, ((cap >>> 24) & 0xFF) * 500);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        return internalAdmin(Commands.propertySet(Opcodes.PROP_CC, cc, false), "Property Set CC.EN")
                .thenComposeAsync(v -> pollCsts(deadline, 0x1, 0x1, "CSTS.RDY"), exec);
    }

    private CompletableFuture<Void> pollCsts(long deadline, int mask, int want, String what) {
        return internalAdmin(Commands.propertyGet(Opcodes.PROP_CSTS, false), "Property Get CSTS")
                .thenComposeAsync(r -> {
                    int csts = r.result0();
                    if ((csts & 0x2) != 0) {
                        throw new TransportException("controller fatal status (CSTS.CFS) while waiting for " + what);
                    }
                    if ((csts & mask) == want) {
                        return CompletableFuture.completedFuture(null);
                    }
                    if (System.nanoTime() - deadline > 0) {
                        throw new TransportException("timed out waiting for " + what + " (CSTS 0x"
                                + Integer.toHexString(csts) + ")");
                    }
                    CompletableFuture<Void> later = new CompletableFuture<>();
                    exec.schedule(() -> pollCsts(deadline, mask, want, what).whenComplete((v, e) -> {
                        if (e != null) {
                            later.completeExceptionally(e);
                        } else {
                            later.complete(null);
                        }
                    }), 10, TimeUnit.MILLISECONDS);
                    return later;
                }, exec);
    }

    private CompletableFuture<Void> connectIoQueues(int gen, HostQueue.Owner owner, IdentifyController id) {
        int wanted = options.ioQueues() > 0 ? options.ioQueues() : Math.max(1, countLoops());
        int mqes = (int) (cap & 0xFFFF) + 1;
        int size = Math.min(options.ioQueueSize(), mqes);
        int inCapsule = (int) Math.max(0, Math.min(Integer.MAX_VALUE, id.ioccsz() * 16 - 64));
        return internalAdmin(Commands.setFeatures(Opcodes.FEAT_NUM_QUEUES, (wanted - 1) | ((wanted - 1) << 16)),
                "Set Features Number of Queues")
                .thenComposeAsync(r -> {
                    int nsqa = (r.result0() & 0xFFFF) + 1;
                    int ncqa = (r.result0() >>> 16) + 1;
                    int count = Math.min(wanted, Math.min(nsqa, ncqa));
                    List<CompletableFuture<HostQueue>> all = new ArrayList<>();
                    List<HostQueue> opened = java.util.Collections.synchronizedList(new ArrayList<>());
                    for (int qid = 1; qid <= count; qid++) {
                        int thisQid = qid;
                        EventLoop loop = group.next();
                        all.add(HostQueue.open(loop, address, qid, size, options, owner).thenCompose(q -> {
                            opened.add(q);
                            return fabricsConnect(q, thisQid, size - 1, cntlid).thenApply(x -> {
                                q.ioInCapsule(inCapsule);
                                q.stats(stats);
                                return q;
                            });
                        }));
                    }
                    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).handleAsync((v, err) -> {
                        if (gen != generationId || err != null) {
                            // close every connection this attempt made, connected or not
                            synchronized (opened) {
                                for (HostQueue q : opened) {
                                    q.close("association abandoned");
                                }
                            }
                            throw err != null ? new TransportException("I/O queue setup failed: "
                                    + unwrap(err).getMessage(), unwrap(err)) : new TransportException("superseded");
                        }
                        ioQueues = all.stream().map(CompletableFuture::join).toArray(HostQueue[]::new);
                        return null;
                    }, exec);
                }, exec).thenApply(x -> null);
    }

    private int countLoops() {
        int n = 0;
        for (io.netty.util.concurrent.EventExecutor e : group) {
            n++;
        }
        return n;
    }

    /** Enables the notices the controller supports (OAES) and arms one Asynchronous Event Request. */
    private CompletableFuture<Void> configureAsyncEvents() {
        IdentifyController id = identity;
        int cfg = (int) (id.oaes() & (AsyncEvent.CFG_NS_ATTR | AsyncEvent.CFG_ANA_CHANGE
                | (AsyncEvent.CFG_DISCOVERY_CHANGE & 0xFFFFFFFFL)));
        CompletableFuture<?> f = cfg == 0 ? CompletableFuture.completedFuture(null)
                : internalAdmin(Commands.setFeatures(Opcodes.FEAT_ASYNC_EVENT, cfg), "Set Features Async Event Configuration")
                .exceptionally(e -> {
                    log.warn("{}: async event configuration refused: {}", this, unwrap(e).getMessage());
                    return null;
                });
        return f.thenApply(x -> null);
    }

    private void afterLive() {
        lossStartNanos = 0;
        reconnectAttempts = 0;
        reconnectWarnings.reset();
        if (fastFailTask != null) {
            fastFailTask.cancel(false);
            fastFailTask = null;
        }
        armAsyncEvent(generationId);
        long katoMs = discovery ? 0 : options.keepAliveTimeout().toMillis();
        if (katoMs > 0) {
            long period = Math.max(1, katoMs / 2);
            keepAliveOutstanding = false;
            keepAliveTask = exec.scheduleAtFixedRate(this::keepAlive, period, period, TimeUnit.MILLISECONDS);
        }
        releaseHeld(true);
    }

    private void armAsyncEvent(int gen) {
        HostQueue q = adminQueue;
        if (q == null || gen != generationId) {
            return;
        }
        NvmeRequest aer = Commands.asyncEventRequest();
        aer.callback(done -> onExec(() -> {
            if (done.ok()) {
                AsyncEvent ev = AsyncEvent.fromResult(done.result0());
                log.debug("{}: asynchronous event: {}", this, ev);
                armAsyncEvent(gen);
                for (ControllerListener l : listeners) {
                    try {
                        l.asyncEvent(this, ev);
                    } catch (RuntimeException e) {
                        log.warn("{}: event listener failed", this, e);
                    }
                }
            } else if (Status.code(done.status()) != Status.HOST_ABORTED_CMD
                    && Status.code(done.status()) != Status.HOST_PATH_ERROR) {
                log.warn("{}: Asynchronous Event Request failed: {}; events are off until reconnect",
                        this, done.describeStatus());
            }
        }));
        q.submit(aer);
    }

    /**
     * Sends Keep Alive every KATO/2; with traffic-based keep-alive, a completion in the last period
     * counts instead. The command must complete within KATO/2, so a silent path is noticed within
     * about KATO.
     */
    private void keepAlive() {
        if (state != ControllerState.LIVE || keepAliveOutstanding) {
            return;
        }
        long period = TimeUnit.MILLISECONDS.toNanos(Math.max(1, options.keepAliveTimeout().toMillis() / 2));
        IdentifyController id = identity;
        if (id != null && id.trafficBasedKeepAlive()) {
            long now = System.nanoTime();
            for (HostQueue q : ioQueues) {
                if (q.lastCompletionNanos() != 0 && now - q.lastCompletionNanos() < period) {
                    return;
                }
            }
        }
        HostQueue q = adminQueue;
        if (q == null) {
            return;
        }
        int gen = generationId;
        keepAliveOutstanding = true;
        NvmeRequest ka = Commands.keepAlive().timeoutNanos(period);
        long sent = System.nanoTime();
        ka.callback(done -> onExec(() -> {
            keepAliveOutstanding = false;
            if (done.ok()) {
                stats.keepAliveRtt(System.nanoTime() - sent);
            }
            if (!done.ok() && gen == generationId && state == ControllerState.LIVE) {
                startReset("keep-alive failed: " + done.describeStatus());
            }
        }));
        q.submit(ka);
    }

    private void queueFailed(int gen, HostQueue q, String reason) {
        if (gen != generationId) {
            return;
        }
        if (state == ControllerState.LIVE) {
            startReset(reason);
        }
    }

    /** LIVE -> RESETTING: tear the association down, abort everything outstanding, reconnect. */
    private void startReset(String reason) {
        if (state != ControllerState.LIVE) {
            return;
        }
        lastFailure = reason;
        lossStartNanos = System.nanoTime();
        changeState(ControllerState.RESETTING, reason);
        teardown(reason);
        if (options.holdIoWhileReconnecting() && options.fastIoFailTimeout() != null) {
            fastFailTask = exec.schedule(() -> releaseHeld(false), options.fastIoFailTimeout().toMillis(),
                    TimeUnit.MILLISECONDS);
        }
        changeState(ControllerState.CONNECTING, "reconnecting");
        reconnect();
    }

    private void teardown(String reason) {
        generationId++;
        if (keepAliveTask != null) {
            keepAliveTask.cancel(false);
            keepAliveTask = null;
        }
        HostQueue[] qs = ioQueues;
        ioQueues = new HostQueue[0];
        for (HostQueue q : qs) {
            q.close(reason);
        }
        if (adminQueue != null) {
            adminQueue.close(reason);
            adminQueue = null;
        }
    }

    private void reconnect() {
        reconnectTask = null;
        if (state != ControllerState.CONNECTING) {
            return;
        }
        establish().whenCompleteAsync((v, err) -> {
            if (state != ControllerState.CONNECTING) {
                return;
            }
            if (err == null) {
                changeState(ControllerState.LIVE, "reconnected");
                afterLive();
                return;
            }
            String why = unwrap(err).getMessage();
            lastFailure = why;
            teardown(why);
            long elapsed = System.nanoTime() - lossStartNanos;
            long delay = options.reconnectDelay().toNanos();
            if (!shouldReconnect()) {
                log.warn("{}: giving up after {} s without a connection (ctrl_loss_tmo): {}", this,
                        TimeUnit.NANOSECONDS.toSeconds(elapsed), why);
                delete("ctrl_loss_tmo expired: " + why);
                return;
            }
            if (!reconnectWarnings.warn(this + ": reconnect failed (" + why + "); retrying every "
                    + TimeUnit.NANOSECONDS.toMillis(delay) + " ms, down for " + TimeUnit.NANOSECONDS.toSeconds(elapsed)
                    + " s", null)) {
                log.debug("{}: reconnect failed ({}); next attempt in {} ms", this, why,
                        TimeUnit.NANOSECONDS.toMillis(delay));
            }
            reconnectAttempts++;
            reconnectTask = exec.schedule(this::reconnect, delay, TimeUnit.NANOSECONDS);
        }, exec);
    }

    /**
     * Linux's rule: at most ceil(ctrl_loss_tmo / reconnect_delay) delayed attempts (after the
     * immediate one), or forever when ctrl_loss_tmo is negative.
     */
    private boolean shouldReconnect() {
        if (options.ctrlLossTimeout().isNegative()) {
            return true;
        }
        long delay = Math.max(1, options.reconnectDelay().toMillis());
        long max = (options.ctrlLossTimeout().toMillis() + delay - 1) / delay;
        return reconnectAttempts < max;
    }

    private void delete(String reason) {
        if (reconnectTask != null) {
            reconnectTask.cancel(false);
            reconnectTask = null;
        }
        if (state != ControllerState.DELETING && state != ControllerState.DEAD) {
            changeState(ControllerState.DELETING, reason);
        }
        teardown(reason);
        releaseHeld(false);
        changeState(ControllerState.DEAD, reason);
        closed.complete(null);
    }

    /**
     * Disconnects: normal shutdown (CC.SHN) when LIVE, then closes every queue. Outstanding commands
     * complete with Command Aborted By Host. The future completes when the controller is DEAD.
     */
    public CompletableFuture<Void> shutdown() {
        exec.execute(() -> {
            ControllerState s = state;
            if (s == ControllerState.DELETING || s == ControllerState.DEAD) {
                return;
            }
            boolean wasLive = s == ControllerState.LIVE;
            if (reconnectTask != null) {
                reconnectTask.cancel(false);
                reconnectTask = null;
            }
            changeState(ControllerState.DELETING, "disconnect");
            if (keepAliveTask != null) {
                keepAliveTask.cancel(false);
                keepAliveTask = null;
            }
            if (!wasLive || adminQueue == null) {
                delete("disconnect");
                return;
            }
            HostQueue[] qs = ioQueues;
            ioQueues = new HostQueue[0];
            for (HostQueue q : qs) {
                q.close("disconnect");
            }
            long cc = 1 | (((cap >>> 48) & 0xF) << 7) | (6 << 16) | (4 << 20) | (1 << 14);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            internalAdmin(Commands.propertySet(Opcodes.PROP_CC, cc, false), "Property Set CC.SHN")
                    .thenComposeAsync(v -> pollCsts(deadline, 0xC, 0x8, "CSTS.SHST complete"), exec)
                    .whenCompleteAsync((v, err) -> {
                        if (err != null) {
                            log.debug("{}: shutdown notification incomplete: {}", this, unwrap(err).getMessage());
                        }
                        delete("disconnect");
                    }, exec);
        });
        return closed;
    }

    @Override
    public void close() {
        shutdown().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> null).join();
    }

    static Throwable unwrap(Throwable t) {
        while ((t instanceof java.util.concurrent.CompletionException
                || t instanceof java.util.concurrent.ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
