package io.nvmpath.fabric.host;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.tls.PskCredentials;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.nvmpath.fabric.host.CommandFutures.unwrap;

/**
 * The association of a host with one controller, set up anew on every connect and reconnect: the
 * admin queue and its Fabrics Connect (then in-band authentication when the controller asks,
 * {@link Authentication}), CAP, CC.EN then CSTS.RDY, Identify Controller, and the I/O
 * queues with their own Connects (Linux {@code nvme_tcp_setup_ctrl}); and taken down again, with the
 * shutdown notification (CC.SHN) when the host disconnects.
 *
 * <p>Each set-up carries a generation number. A step, a queue failure or a timer of an association
 * that was torn down meanwhile finds its generation stale and stops, so an old attempt never touches
 * the new association.
 *
 * <p>Set-up and teardown run on the management loop; the queues, the identify data and the limits
 * are volatile because the I/O path and the controller's public view read them from any thread.
 */
final class Association {
    /** Told on the management loop that a queue of association {@code generation} stopped being usable. */
    interface QueueFailure {
        void failed(int generation, String reason);
    }

    /** CC.EN with 64-byte SQEs (IOSQES 6) and 16-byte CQEs (IOCQES 4); MPS goes in bits 7-10. */
    private static final long CC_ENABLE = 1 | (6 << 16) | (4 << 20);
    /** CC.SHN = 01b, normal shutdown. */
    private static final long CC_SHUTDOWN_NORMAL = 1 << 14;
    private static final long CSTS_POLL_MILLIS = 10;
    private static final long SHUTDOWN_WAIT_SECONDS = 5;

    private final TransportAddress address;
    private final String subsystemNqn;
    private final ControllerOptions options;
    private final EventLoopGroup group;
    private final ManagementLoop mgmt;
    private final boolean discovery;
    private final PathStats stats;
    private final QueueFailure onFailure;

    private volatile HostQueue adminQueue;
    private volatile HostQueue[] ioQueues = new HostQueue[0];
    private volatile IdentifyController identity;
    private volatile long cap;
    private volatile int cntlid = -1;
    private volatile long maxTransferBytes = Long.MAX_VALUE;
    private int generation;
    private volatile ControllerInstance instance;
    /** I/O queues opened by the set-up under way and not yet published: a teardown closes them too. */
    private final List<HostQueue> settingUp = Collections.synchronizedList(new ArrayList<>());

    Association(TransportAddress address, String subsystemNqn, ControllerOptions options, EventLoopGroup group,
                ManagementLoop mgmt, PathStats stats, QueueFailure onFailure) {
        this.address = address;
        this.subsystemNqn = subsystemNqn;
        this.options = options;
        this.group = group;
        this.mgmt = mgmt;
        this.discovery = Opcodes.DISCOVERY_NQN.equals(subsystemNqn);
        this.stats = stats;
        this.onFailure = onFailure;
    }

    boolean discovery() {
        return discovery;
    }

    HostQueue adminQueue() {
        return adminQueue;
    }

    HostQueue[] ioQueues() {
        return ioQueues;
    }

    /** Whether the controller had this association's queues authenticate (DH-HMAC-CHAP). */
    boolean authenticates() {
        HostQueue a = adminQueue;
        return a != null && a.authenticates();
    }

    IdentifyController identity() {
        return identity;
    }

    /** The controller instance of the association set up last (or being set up), null before the first. */
    ControllerInstance instance() {
        return instance;
    }

    long cap() {
        return cap;
    }

    int cntlid() {
        return cntlid;
    }

    long maxTransferBytes() {
        return maxTransferBytes;
    }

    /** The generation of the association set up last. */
    int generation() {
        return generation;
    }

    boolean isCurrent(int gen) {
        return gen == generation;
    }

    /** Stops a set-up chain whose association was torn down meanwhile. */
    void requireCurrent(int gen) {
        if (gen != generation) {
            throw new TransportException("association abandoned");
        }
    }

    // ---- set-up -------------------------------------------------------------------------------

    /**
     * Sets up a whole association; on the management loop. Completes with its generation, or fails
     * with the first error, leaving whatever queues it opened to {@link #teardown}.
     */
    CompletableFuture<Integer> establish() {
        int gen = ++generation;
        ControllerInstance inst = new ControllerInstance(address, subsystemNqn,
                discovery ? 0 : options.keepAliveTimeout().toMillis(), options.scheduler());
        instance = inst;
        EventExecutor exec = mgmt.eventLoop();
        HostQueue.Owner owner = (q, reason) -> mgmt.execute(() -> onFailure.failed(gen, reason));
        return ConnectionInit.open(mgmt.eventLoop(), address, 0, options.adminQueueSize(), options, tls(), owner)
                .thenComposeAsync(q -> {
                    if (gen != generation) {
                        // the controller was reset or deleted while this connection was being made
                        q.close("association abandoned");
                        throw new TransportException("association abandoned");
                    }
                    adminQueue = q;
                    q.instance(inst);
                    return fabricsConnect(q, 0, options.adminQueueSize() - 1, 0xFFFF);
                }, exec)
                .thenComposeAsync(cid -> {
                    requireCurrent(gen);
                    cntlid = cid;
                    inst.cntlid(cid);
                    return internalAdmin(Commands.propertyGet(Opcodes.PROP_CAP, true), "Property Get CAP");
                }, exec)
                .thenComposeAsync(capReq -> {
                    requireCurrent(gen);
                    cap = (capReq.result0() & 0xFFFFFFFFL) | ((long) capReq.result1() << 32);
                    return enable();
                }, exec)
                .thenComposeAsync(v -> {
                    requireCurrent(gen);
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
                    requireCurrent(gen);
                    if (!discovery && !id.subnqn().isEmpty() && !id.subnqn().equals(subsystemNqn)) {
                        throw new TransportException("controller reports subsystem " + id.subnqn()
                                + ", not " + subsystemNqn);
                    }
                    identity = id;
                    inst.identity(id);
                    maxTransferBytes = mdtsBytes(id.mdts(), cap);
                    return discovery ? CompletableFuture.<Void>completedFuture(null) : connectIoQueues(gen, owner, id);
                }, exec)
                .thenApply(v -> gen);
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
                int dw0 = done.result0();
                Authentication.ifRequired(q, qid, dw0, options, subsystemNqn, address).whenComplete((v, err) -> {
                    if (err != null) {
                        f.completeExceptionally(CommandFutures.unwrap(err));
                    } else {
                        f.complete(dw0 & 0xFFFF);
                    }
                });
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

    /** An admin command of the set-up itself, sent whatever the controller's state. */
    CompletableFuture<NvmeRequest> internalAdmin(NvmeRequest r, String what) {
        return CommandFutures.execute(r, what, req -> {
            req.reset();
            HostQueue q = adminQueue;
            if (q == null) {
                req.complete(Status.HOST_PATH_ERROR, 0, 0, new TransportException("no admin queue"));
            } else {
                q.submit(req);
            }
        });
    }

    /** CC.EN = 1 at the smallest page size, then CSTS.RDY within CAP.TO × 500 ms (at least 500 ms). */
    private CompletableFuture<Void> enable() {
        int mpsmin = (int) ((cap >>> 48) & 0xF);
        long cc = CC_ENABLE | (mpsmin << 7);
        long timeoutMs = Math.max(500, ((cap >>> 24) & 0xFF) * 500);
        long deadline = mgmt.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        return internalAdmin(Commands.propertySet(Opcodes.PROP_CC, cc, false), "Property Set CC.EN")
                .thenComposeAsync(v -> pollCsts(deadline, 0x1, 0x1, "CSTS.RDY"), mgmt.eventLoop());
    }

    /** Reads CSTS every 10 ms until {@code (CSTS & mask) == want}; fails on CSTS.CFS or at the deadline. */
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
                    if (mgmt.nanoTime() - deadline > 0) {
                        throw new TransportException("timed out waiting for " + what + " (CSTS 0x"
                                + Integer.toHexString(csts) + ")");
                    }
                    CompletableFuture<Void> later = new CompletableFuture<>();
                    mgmt.schedule(() -> pollCsts(deadline, mask, want, what).whenComplete((v, e) -> {
                        if (e != null) {
                            later.completeExceptionally(e);
                        } else {
                            later.complete(null);
                        }
                    }), CSTS_POLL_MILLIS, TimeUnit.MILLISECONDS);
                    return later;
                }, mgmt.eventLoop());
    }

    /**
     * Set Features Number of Queues, then one connection and Connect per granted queue (on the event
     * loops in turn), each of at most MQES entries.
     */
    private CompletableFuture<Void> connectIoQueues(int gen, HostQueue.Owner owner, IdentifyController id) {
        ControllerInstance inst = instance;
        int wanted = options.ioQueues() > 0 ? options.ioQueues() : Math.max(1, countLoops());
        int mqes = (int) (cap & 0xFFFF) + 1;
        int size = Math.min(options.ioQueueSize(), mqes);
        int inCapsule = (int) Math.max(0, Math.min(Integer.MAX_VALUE, id.ioccsz() * 16 - 64));
        EventExecutor exec = mgmt.eventLoop();
        return internalAdmin(Commands.setFeatures(Opcodes.FEAT_NUM_QUEUES, (wanted - 1) | ((wanted - 1) << 16)),
                "Set Features Number of Queues")
                .thenComposeAsync(r -> {
                    int nsqa = (r.result0() & 0xFFFF) + 1;
                    int ncqa = (r.result0() >>> 16) + 1;
                    int count = Math.min(wanted, Math.min(nsqa, ncqa));
                    List<CompletableFuture<HostQueue>> all = new ArrayList<>();
                    List<HostQueue> opened = Collections.synchronizedList(new ArrayList<>());
                    for (int qid = 1; qid <= count; qid++) {
                        int thisQid = qid;
                        EventLoop loop = group.next();
                        all.add(ConnectionInit.open(loop, address, qid, size, options, tls(), owner).thenCompose(q -> {
                            opened.add(q);
                            synchronized (settingUp) {
                                // a teardown that came while this connection opened has already closed
                                // what it found set up: this one closes here, before its Connect is sent
                                // (an unanswered Connect would hold its data until the connection closes)
                                if (gen != generation) {
                                    q.close("association abandoned");
                                    throw new java.util.concurrent.CompletionException(
                                            new TransportException("superseded"));
                                }
                                settingUp.add(q);
                            }
                            q.instance(inst);
                            return fabricsConnect(q, thisQid, size - 1, cntlid).thenApply(x -> {
                                q.ioInCapsule(inCapsule);
                                q.stats(stats);
                                return q;
                            });
                        }));
                    }
                    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).handleAsync((v, err) -> {
                        if (gen != generation || err != null) {
                            // close every connection this attempt made, connected or not
                            synchronized (opened) {
                                for (HostQueue q : opened) {
                                    q.close("association abandoned");
                                }
                                settingUp.removeAll(opened);
                            }
                            throw err != null ? new TransportException("I/O queue setup failed: "
                                    + unwrap(err).getMessage(), unwrap(err)) : new TransportException("superseded");
                        }
                        ioQueues = all.stream().map(CompletableFuture::join).toArray(HostQueue[]::new);
                        settingUp.removeAll(opened);
                        return null;
                    }, exec);
                }, exec).thenApply(x -> null);
    }

    private int countLoops() {
        int n = 0;
        for (EventExecutor ignored : group) {
            n++;
        }
        return n;
    }

    // ---- teardown -----------------------------------------------------------------------------

    /** Ends the current association: its generation goes stale, every queue closes (aborting its commands). */
    void teardown(String reason) {
        generation++; // before settingUp's lock below: a set-up step that takes the lock later sees it
        closeIoQueues(reason);
        List<HostQueue> half;
        synchronized (settingUp) {
            half = List.copyOf(settingUp);
            settingUp.clear();
        }
        for (HostQueue q : half) {
            q.close(reason); // a connection still being set up: its Connect would otherwise wait for an answer
        }
        HostQueue admin = adminQueue;
        if (admin != null) {
            admin.close(reason);
            adminQueue = null;
        }
    }

    /** Closes the I/O queues alone, before a shutdown notification on the admin queue. */
    void closeIoQueues(String reason) {
        HostQueue[] qs = ioQueues;
        ioQueues = new HostQueue[0];
        for (HostQueue q : qs) {
            q.close(reason);
        }
    }

    /** CC.SHN (normal shutdown), then CSTS.SHST complete within 5 s. */
    CompletableFuture<Void> notifyShutdown() {
        long cc = CC_ENABLE | (((cap >>> 48) & 0xF) << 7) | CC_SHUTDOWN_NORMAL;
        long deadline = mgmt.nanoTime() + TimeUnit.SECONDS.toNanos(SHUTDOWN_WAIT_SECONDS);
        return internalAdmin(Commands.propertySet(Opcodes.PROP_CC, cc, false), "Property Set CC.SHN")
                .thenComposeAsync(v -> pollCsts(deadline, 0xC, 0x8, "CSTS.SHST complete"), mgmt.eventLoop());
    }

    /** The TLS credentials of this association's queues, or null for plain TCP. */
    private PskCredentials tls() {
        return options.tlsPsk() == null ? null : PskCredentials.of(options.tlsPsk(), options.hostNqn(), subsystemNqn);
    }
}
