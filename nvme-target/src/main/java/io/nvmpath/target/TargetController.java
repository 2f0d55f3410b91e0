package io.nvmpath.target;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.nvmpath.fabric.nvme.AsyncEvent;
import io.nvmpath.fabric.nvme.CrossControllerReset;
import io.nvmpath.fabric.nvme.CrossControllerResetLog;
import io.nvmpath.fabric.nvme.CrossControllerResetLog.ResetStatus;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.nvme.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * One controller: the association a host made with Connect on an admin queue, plus the I/O queues
 * it connected with the same CNTLID. Holds CC/CSTS, the keep-alive timer, the outstanding
 * Asynchronous Event Requests and the events waiting for one.
 *
 * <p>Its state lives on the admin queue's event loop; other threads (the target's API, I/O queues)
 * hand work to it with {@link #loop}.
 */
final class TargetController {
    private static final Logger log = LoggerFactory.getLogger(TargetController.class);

    /** CAP.TO in 500 ms units: time the host waits for CSTS.RDY. */
    private static final int CAP_TIMEOUT = 15;
    private static final int AERL = 3;

    final NvmeTarget target;
    final Subsystem subsystem;
    final TargetPort port;
    final int cntlid;
    final String hostNqn;
    final UUID hostId;
    final TargetQueue admin;
    final EventLoop loop;
    private final AtomicReferenceArray<TargetQueue> ioQueues;

    private volatile long katoMillis;
    private volatile boolean enabled;
    private int cc;
    private int csts;
    private volatile int ioQueuesGranted;
    private int asyncEventConfig;
    private long lastKeepAliveNanos;
    private ScheduledFuture<?> katoTimer;
    private long katoCheckMillis;
    private final CompletableFuture<Void> gone = new CompletableFuture<>();
    private final ArrayDeque<Integer> aers = new ArrayDeque<>();
    private final ArrayDeque<Integer> pendingEvents = new ArrayDeque<>();
    /** Notices of a type are masked from the moment one is sent until the host reads its log page. */
    private boolean anaMasked;
    /** The target's ANA change count when the host last read (and so unmasked) the ANA log. */
    private long anaLogReadAt;
    private boolean nsMasked;
    private boolean discoveryMasked;
    private boolean ccrMasked;
    /**
     * The Cross-Controller Resets this controller was asked for and validated: its log page 1Eh.
     * Completed ones go when the host reads the log with RMC, or when CSTS.RDY is set again.
     */
    private final List<CcrEntry> ccrLog = new ArrayList<>();
    private final List<Integer> changedNamespaces = new ArrayList<>();
    /** The association is torn down: its connections are closed; what it holds may still be pending. */
    private volatile boolean dead;
    /** Gone from the subsystem: torn down and nothing of it pending. */
    private boolean removed;
    /** Its keep-alive timed out: what it holds is applied until the deadline plus CQT, not after. */
    private boolean quiescing;
    private final PendingWrites pendingWrites;
    /** Controller Instance Uniquifier: random, non-zero, incremented (skipping 0) whenever CSTS.RDY is set. */
    private volatile int ciu;
    /** Controller Instance Random Number: drawn anew whenever CSTS.RDY is set. */
    private volatile long cirn;

    TargetController(NvmeTarget target, Subsystem subsystem, TargetPort port, TargetQueue admin, int cntlid,
                     String hostNqn, UUID hostId, long katoMillis) {
        this.target = target;
        this.subsystem = subsystem;
        this.port = port;
        this.admin = admin;
        this.loop = admin.eventLoop();
        this.cntlid = cntlid;
        this.hostNqn = hostNqn;
        this.hostId = hostId;
        this.katoMillis = katoMillis;
        int maxQ = target.config().limits().maxIoQueues();
        this.ioQueues = new AtomicReferenceArray<>(maxQ + 1);
        this.ioQueuesGranted = maxQ;
        this.lastKeepAliveNanos = target.scheduler().nanoTime();
        this.pendingWrites = new PendingWrites(target.scheduler());
        this.ciu = 1 + target.random().nextInt(0xFF);
        this.cirn = target.random().nextLong();
        startKeepAliveTimer();
    }

    /** CIU of the current instance (Identify Controller byte 135). */
    int ciu() {
        return ciu;
    }

    /** CIRN of the current instance (Identify Controller bytes 136..143). */
    long cirn() {
        return cirn;
    }

    boolean enabled() {
        return enabled;
    }

    /** Completes once the controller is removed. */
    CompletableFuture<Void> gone() {
        return gone;
    }

    long katoMillis() {
        return katoMillis;
    }

    int connectedIoQueues() {
        int n = 0;
        for (int i = 1; i < ioQueues.length(); i++) {
            if (ioQueues.get(i) != null) {
                n++;
            }
        }
        return n;
    }

    Namespace namespace(int nsid) {
        return subsystem.namespaces.get(nsid);
    }

    /** Registers an I/O queue; false when the QID is out of the granted range or taken. */
    boolean addIoQueue(int qid, TargetQueue q) {
        if (qid < 1 || qid > ioQueuesGranted || qid >= ioQueues.length()) {
            return false;
        }
        return ioQueues.compareAndSet(qid, null, q);
    }

    /** One reset of the Cross-Controller Reset log; on this controller's loop. */
    private static final class CcrEntry {
        final int icid;
        final int ciu;
        ResetStatus status = ResetStatus.IN_PROGRESS;

        CcrEntry(int icid, int ciu) {
            this.icid = icid;
            this.ciu = ciu;
        }
    }

    /** Whether its association is still up (not torn down by a lost admin queue, a reset or a deletion). */
    boolean connected() {
        return !dead;
    }

    /** What this controller still has to apply to the media. */
    PendingWrites pendingWrites() {
        return pendingWrites;
    }

    /**
     * A queue's connection closed: an I/O queue leaves; the admin queue takes the association with
     * it. The controller itself goes once nothing of it is pending: until then (writes held by the
     * ghost-writes fault) it is a lost controller an array has not noticed, its keep-alive timer still
     * running, still the target of a Cross-Controller Reset.
     */
    void queueClosed(TargetQueue q) {
        if (q == admin) {
            loop.execute(() -> {
                tearDown("admin queue closed");
                removeWhenIdle("admin queue closed");
            });
        } else if (q.qid() > 0 && q.qid() < ioQueues.length()) {
            ioQueues.compareAndSet(q.qid(), q, null);
        }
    }

    /** Withdraws the authentication of each of its queues (a fault; any thread). */
    void withdrawAuthentication() {
        admin.onLoop(admin::withdrawAuthentication);
        for (int i = 1; i < ioQueues.length(); i++) {
            TargetQueue q = ioQueues.get(i);
            if (q != null) {
                q.onLoop(q::withdrawAuthentication);
            }
        }
    }

    /** Deletes the controller from outside (unlinked subsystem): any thread. What it holds is dropped. */
    void delete(String reason) {
        loop.execute(() -> {
            tearDown(reason);
            pendingWrites.stop();
            removeWhenIdle(reason);
        });
    }

    /** Closes every connection of the association; on the controller's loop. */
    private void tearDown(String reason) {
        if (dead) {
            return;
        }
        dead = true;
        enabled = false;
        for (int i = 1; i < ioQueues.length(); i++) {
            TargetQueue q = ioQueues.getAndSet(i, null);
            if (q != null) {
                q.close("controller " + cntlid + " gone: " + reason);
            }
        }
        admin.close(reason);
        int held = pendingWrites.heldCount();
        if (held > 0) {
            log.info("{}: controller {} of {} for {} lost ({}) with {} write(s) held: applied when due unless"
                    + " it is reset or its keep-alive times out", port, cntlid, subsystem.nqn, hostNqn, reason, held);
        }
    }

    /** Removes the controller once nothing of it is pending: at once (on its loop) when that is so now. */
    private void removeWhenIdle(String reason) {
        pendingWrites.whenIdle(() -> {
            if (loop.inEventLoop()) {
                remove(reason);
            } else {
                loop.execute(() -> remove(reason));
            }
        });
    }

    private void remove(String reason) {
        if (removed) {
            return;
        }
        // once it is known removed (a Cross-Controller Reset then reports it gone), nothing of it may
        // still be applied: a write one of its I/O queues took after the last idle check is dropped,
        // or, already executing, waited for
        if (!pendingWrites.stop()) {
            pendingWrites.whenIdle(() -> loop.execute(() -> remove(reason)));
            return;
        }
        removed = true;
        tearDown(reason);
        if (katoTimer != null) {
            katoTimer.cancel(false);
        }
        target.controllerGone(this);
        subsystem.instanceRemoved(hostNqn, cntlid, ciu, cirn);
        log.info("{}: controller {} of {} for {} removed ({})", port, cntlid, subsystem.nqn, hostNqn, reason);
        gone.complete(null);
    }

    // ---- keep-alive ---------------------------------------------------------------------------

    /** Checks every KATO/4 (at least 50 ms) on the target's clock; more than KATO idle deletes the controller. */
    private void startKeepAliveTimer() {
        long kato = katoMillis;
        if (kato <= 0) {
            return;
        }
        katoCheckMillis = Math.max(50, kato / 4);
        katoTimer = target.scheduler().schedule(loop, this::checkKeepAlive, katoCheckMillis, TimeUnit.MILLISECONDS);
    }

    private void checkKeepAlive() {
        if (removed || quiescing) {
            return;
        }
        katoTimer = target.scheduler().schedule(loop, this::checkKeepAlive, katoCheckMillis, TimeUnit.MILLISECONDS);
        long idle = TimeUnit.NANOSECONDS.toMillis(target.scheduler().nanoTime() - lastKeepAliveNanos);
        // a blackholed port receives no keep-alive either: the controller times out as one behind a
        // network partition would, and stops within its CQT (its connections stay silent, see TargetQueue.close)
        if (idle > katoMillis) {
            log.warn("{}: controller {} for {}: no keep-alive for {} ms (KATO {} ms)", port, cntlid, hostNqn,
                    idle, katoMillis);
            keepAliveExpired();
        }
    }

    /**
     * The host is gone as far as this controller knows (TP4129): the association is torn down, and
     * the controller stops executing within its Command Quiesce Time of the keep-alive deadline (the
     * last keep-alive plus KATO). A held write due by then may still be applied; none is after it. A
     * host that cannot reach the controller waits KATO + CQT before it retries elsewhere.
     */
    private void keepAliveExpired() {
        quiescing = true;
        katoTimer.cancel(false);
        long deadline = lastKeepAliveNanos + TimeUnit.MILLISECONDS.toNanos(katoMillis)
                + TimeUnit.MILLISECONDS.toNanos(subsystem.cqt);
        tearDown("keep-alive timeout");
        pendingWrites.quiesceBy(loop, deadline);
        removeWhenIdle("keep-alive timeout");
    }

    // ---- properties ---------------------------------------------------------------------------

    void property(TargetQueue q, Sqe sqe) {
        int cid = sqe.cid();
        boolean eight = (sqe.cdw(10) & 0x7) == 1;
        int offset = sqe.cdw(11);
        if (sqe.fctype() == Opcodes.FCTYPE_PROPERTY_GET) {
            long v;
            switch (offset) {
                case Opcodes.PROP_CAP -> v = cap();
                case Opcodes.PROP_VS -> v = NvmeTarget.VERSION;
                case Opcodes.PROP_CC -> v = cc & 0xFFFFFFFFL;
                case Opcodes.PROP_CSTS -> v = csts & 0xFFFFFFFFL;
                default -> {
                    q.respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
                    return;
                }
            }
            if (eight != (offset == Opcodes.PROP_CAP)) {
                q.respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
                return;
            }
            respond2(q, cid, (int) v, (int) (v >>> 32));
            return;
        }
        if (offset != Opcodes.PROP_CC || eight) {
            q.respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
            return;
        }
        setCc(sqe.cdw(12));
        q.respond(cid, Status.SUCCESS, 0);
    }

    private void respond2(TargetQueue q, int cid, int dw0, int dw1) {
        q.respondWithDw1(cid, dw0, dw1);
    }

    private long cap() {
        long mqes = target.config().limits().ioQueueSize() - 1;
        return mqes | (1L << 16) /* CQR */ | ((long) CAP_TIMEOUT << 24) | (1L << 37) /* CSS: NVM */;
    }

    private void setCc(int value) {
        boolean en = (value & 1) != 0;
        int shn = (value >>> 14) & 0x3;
        boolean wasEnabled = (cc & 1) != 0;
        cc = value;
        if (en && !wasEnabled) {
            int iosqes = (value >>> 16) & 0xF;
            int iocqes = (value >>> 20) & 0xF;
            int mps = (value >>> 7) & 0xF;
            int css = (value >>> 4) & 0x7;
            if (!subsystem.discovery && (iosqes != 6 || iocqes != 4) || mps != 0 || css != 0) {
                csts = 0x2; // CFS: the host asked for something this controller cannot be
                log.info("{}: controller {}: CC 0x{} not supported, fatal status set", port, cntlid,
                        Integer.toHexString(value));
                return;
            }
            csts |= 0x1;
            enabled = true;
            ciu = ciu % 0xFF + 1; // a new instance: 1..255, never 0
            cirn = target.random().nextLong();
            ccrLog.removeIf(e -> e.status != ResetStatus.IN_PROGRESS);
        } else if (!en && wasEnabled) {
            csts &= ~0x1;
            enabled = false;
        }
        if (shn != 0) {
            // nothing is cached beyond the backends: flush them and report shutdown complete
            for (Namespace ns : subsystem.namespaces.values()) {
                ns.backend.flush();
            }
            csts = (csts & ~0xC) | 0x8;
        }
    }

    // ---- admin commands -----------------------------------------------------------------------

    /** Executes an admin command; {@code data} is in-capsule data, released by the caller. */
    void executeAdmin(TargetQueue q, Sqe sqe, ByteBuf data) {
        int cid = sqe.cid();
        if (!enabled && sqe.opcode() != Opcodes.ADMIN_KEEP_ALIVE) {
            q.respond(cid, Status.CMD_SEQ_ERROR | Status.DNR, 0);
            return;
        }
        switch (sqe.opcode()) {
            case Opcodes.ADMIN_IDENTIFY -> identify(q, sqe);
            case Opcodes.ADMIN_GET_LOG_PAGE -> getLogPage(q, sqe);
            case Opcodes.ADMIN_SET_FEATURES -> setFeatures(q, sqe);
            case Opcodes.ADMIN_GET_FEATURES -> getFeatures(q, sqe);
            case Opcodes.ADMIN_ASYNC_EVENT -> {
                if (aers.size() > AERL) {
                    q.respond(cid, 0x105 | Status.DNR, 0); // Asynchronous Event Request Limit Exceeded
                } else {
                    aers.addLast(cid);
                    deliverEvents();
                }
            }
            case Opcodes.ADMIN_KEEP_ALIVE -> {
                lastKeepAliveNanos = target.scheduler().nanoTime();
                q.respond(cid, Status.SUCCESS, 0);
            }
            case Opcodes.ADMIN_CROSS_CONTROLLER_RESET -> crossControllerReset(q, sqe);
            default -> q.respond(cid, Status.INVALID_OPCODE | Status.DNR, 0);
        }
    }

    private void identify(TargetQueue q, Sqe sqe) {
        int cid = sqe.cid();
        int cns = sqe.cdw(10) & 0xFF;
        int nsid = sqe.nsid();
        ByteBuf out;
        switch (cns) {
            case Opcodes.CNS_CONTROLLER -> out = IdentifyData.controller(this);
            case Opcodes.CNS_NAMESPACE -> {
                if (subsystem.discovery || nsid == 0 || (nsid & 0xFFFFFFFFL) > IdentifyData.MAX_NSID) {
                    q.respond(cid, Status.INVALID_NS | Status.DNR, 0);
                    return;
                }
                out = IdentifyData.namespace(this, namespace(nsid));
            }
            case Opcodes.CNS_ACTIVE_NSIDS -> {
                if ((nsid & 0xFFFFFFFFL) >= 0xFFFFFFFEL) {
                    q.respond(cid, Status.INVALID_NS | Status.DNR, 0);
                    return;
                }
                out = IdentifyData.activeNsids(this, nsid);
            }
            case Opcodes.CNS_NS_DESCRIPTORS -> {
                Namespace ns = namespace(nsid);
                if (ns == null) {
                    q.respond(cid, Status.INVALID_NS | Status.DNR, 0);
                    return;
                }
                out = IdentifyData.descriptors(ns);
            }
            case 0x06 -> {
                // I/O command set specific Identify Controller, NVM: no extra limits to report
                int csi = sqe.cdw(11) >>> 24;
                if (csi != 0) {
                    q.respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
                    return;
                }
                out = q.alloc().buffer(4096).writeZero(4096);
            }
            default -> {
                q.respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
                return;
            }
        }
        sendData(q, sqe, out);
    }

    /** Sends {@code out} as a command's data, truncated to what the host asked for. */
    private void sendData(TargetQueue q, Sqe sqe, ByteBuf out) {
        int cid = sqe.cid();
        if (sqe.sglIdentifier() != Sqe.SGL_TRANSPORT_DATA_BLOCK) {
            out.release();
            q.respond(cid, Status.SGL_INVALID_TYPE | Status.DNR, 0);
            return;
        }
        int want = sqe.sglLength();
        if (want <= 0) {
            out.release();
            q.respond(cid, Status.SGL_INVALID_DATA | Status.DNR, 0);
            return;
        }
        if (out.readableBytes() > want) {
            out.writerIndex(out.readerIndex() + want);
        } else if (out.readableBytes() < want) {
            out.writeZero(want - out.readableBytes());
        }
        q.sendReadData(cid, out);
    }

    private void getLogPage(TargetQueue q, Sqe sqe) {
        int cid = sqe.cid();
        int lid = sqe.cdw(10) & 0xFF;
        int lsp = (sqe.cdw(10) >>> 8) & 0x7F;
        boolean rae = (sqe.cdw(10) & (1 << 15)) != 0;
        long numd = ((sqe.cdw(10) >>> 16) & 0xFFFFL) | ((long) (sqe.cdw(11) & 0xFFFF) << 16);
        long length = (numd + 1) * 4;
        long offset = (sqe.cdw(12) & 0xFFFFFFFFL) | ((long) sqe.cdw(13) << 32);
        if (length != sqe.sglLength() || length > target.maxTransferBytes() || (offset & 3) != 0) {
            q.respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
            return;
        }
        ByteBuf log;
        switch (lid) {
            case Opcodes.LOG_ANA -> {
                if (subsystem.discovery) {
                    q.respond(cid, Status.INVALID_LOG_PAGE | Status.DNR, 0);
                    return;
                }
                long seen = target.anaChangeCount(); // before the log is built: it shows at least this
                log = IdentifyData.anaLog(this, (lsp & 1) != 0);
                if (!rae) {
                    anaMasked = false;
                    anaLogReadAt = seen;
                }
            }
            case Opcodes.LOG_CHANGED_NS -> {
                log = IdentifyData.changedNamespaces(q.alloc(), changedNamespaces);
                if (!rae) {
                    changedNamespaces.clear();
                    nsMasked = false;
                }
            }
            case Opcodes.LOG_DISCOVERY -> {
                if (!subsystem.discovery) {
                    q.respond(cid, Status.INVALID_LOG_PAGE | Status.DNR, 0);
                    return;
                }
                log = IdentifyData.discoveryLog(this);
                if (!rae) {
                    discoveryMasked = false;
                }
            }
            case Opcodes.LOG_CROSS_CONTROLLER_RESET -> {
                if (!subsystem.crossControllerReset) {
                    q.respond(cid, Status.INVALID_LOG_PAGE | Status.DNR, 0);
                    return;
                }
                log = q.alloc().buffer(CrossControllerResetLog.SIZE);
                crossControllerResetLog().encode(log);
                if ((lsp & CrossControllerResetLog.LSP_REMOVE_COMPLETED) != 0) {
                    ccrLog.removeIf(e -> e.status != ResetStatus.IN_PROGRESS);
                }
                if (!rae) {
                    ccrMasked = false;
                }
            }
            case Opcodes.LOG_ERROR -> log = q.alloc().buffer(64).writeZero(64);
            case 0x02, 0x03 -> log = q.alloc().buffer(512).writeZero(512); // SMART / firmware slot: nothing to report
            default -> {
                q.respond(cid, Status.INVALID_LOG_PAGE | Status.DNR, 0);
                return;
            }
        }
        // the page's defined size is what Identify implies (ANA: header + NANAGRPID descriptors +
        // MNAN NSIDs), not what it holds now: hosts read it in pieces up to that size
        long defined = Math.max(log.readableBytes(), definedLogSize(lid));
        if (offset > defined || (offset == defined && offset > 0)) {
            log.release();
            q.respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
            return;
        }
        ByteBuf slice = q.alloc().buffer((int) length);
        int from = (int) Math.min(offset, log.readableBytes());
        int n = (int) Math.min(length, log.readableBytes() - from);
        slice.writeBytes(log, log.readerIndex() + from, n);
        slice.writeZero((int) length - n);
        log.release();
        q.sendReadData(cid, slice);
    }

    private static long definedLogSize(int lid) {
        return switch (lid) {
            case Opcodes.LOG_ANA -> AnaLogSize.MAX;
            case Opcodes.LOG_CHANGED_NS -> 4096;
            case Opcodes.LOG_CROSS_CONTROLLER_RESET -> CrossControllerResetLog.SIZE;
            case Opcodes.LOG_ERROR -> 64;
            case 0x02, 0x03 -> 512;
            default -> 0;
        };
    }

    /** The ANA log's size as a host computes it from Identify Controller. */
    private static final class AnaLogSize {
        static final long MAX = 16 + (long) IdentifyData.ANA_GROUP_MAX * 32 + (long) IdentifyData.MAX_NSID * 4;
    }

    private void setFeatures(TargetQueue q, Sqe sqe) {
        int cid = sqe.cid();
        int fid = sqe.cdw(10) & 0xFF;
        int v = sqe.cdw(11);
        switch (fid) {
            case Opcodes.FEAT_NUM_QUEUES -> {
                int nsqr = (v & 0xFFFF) + 1;
                int ncqr = (v >>> 16) + 1;
                if (nsqr == 0x10000 || ncqr == 0x10000) {
                    q.respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
                    return;
                }
                int granted = Math.min(Math.min(nsqr, ncqr), target.config().limits().maxIoQueues());
                ioQueuesGranted = granted;
                q.respond(cid, Status.SUCCESS, (granted - 1) | ((granted - 1) << 16));
            }
            case Opcodes.FEAT_ASYNC_EVENT -> {
                asyncEventConfig = v & supportedEvents();
                q.respond(cid, Status.SUCCESS, 0);
            }
            case Opcodes.FEAT_KATO -> {
                katoMillis = v & 0xFFFFFFFFL;
                lastKeepAliveNanos = target.scheduler().nanoTime();
                if (katoTimer == null) {
                    startKeepAliveTimer();
                }
                q.respond(cid, Status.SUCCESS, 0);
            }
            default -> q.respond(cid, 0x10E | Status.DNR, 0); // Feature Not Changeable
        }
    }

    private void getFeatures(TargetQueue q, Sqe sqe) {
        int cid = sqe.cid();
        int fid = sqe.cdw(10) & 0xFF;
        switch (fid) {
            case Opcodes.FEAT_NUM_QUEUES -> q.respond(cid, Status.SUCCESS,
                    (ioQueuesGranted - 1) | ((ioQueuesGranted - 1) << 16));
            case Opcodes.FEAT_ASYNC_EVENT -> q.respond(cid, Status.SUCCESS, asyncEventConfig);
            case Opcodes.FEAT_KATO -> q.respond(cid, Status.SUCCESS, (int) katoMillis);
            case 0x06 -> q.respond(cid, Status.SUCCESS, 1); // volatile write cache: enabled
            default -> q.respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
        }
    }

    // ---- Cross-Controller Reset (TP8028) --------------------------------------------------------

    /**
     * Admin 38h: resets another controller of this subsystem, the impacted one, so that nothing it
     * holds is applied once the reset completes. Validated, then executed: the impacted controller is
     * named by CNTLID and by the instance the host knew (CIU, CIRN) and must be another controller of
     * the same host; at most {@link NvmeTarget#CCR_LIMIT} of this controller's resets may be in
     * progress, one per impacted controller; the log must have room. The reset is done at once (IRS)
     * unless the impacted controller has media commands executing in a backend; then it is in progress
     * until they finish, and the Cross-Controller Reset Completed notice says when.
     */
    private void crossControllerReset(TargetQueue q, Sqe sqe) {
        int cid = sqe.cid();
        if (!subsystem.crossControllerReset) {
            q.respond(cid, Status.INVALID_OPCODE | Status.DNR, 0);
            return;
        }
        CrossControllerReset ccr = CrossControllerReset.from(sqe);
        TargetController impacted = impacted(ccr);
        if (impacted == null && subsystem.instanceWasRemoved(hostNqn, ccr.icid(), ccr.ciu(), ccr.cirn())) {
            // the instance named is gone (its association ended and nothing of it was pending): it can
            // execute nothing more, which is what the reset is to establish: done, at once
            log.debug("{}: controller {}: cross-controller reset of removed controller {} (CIU {}): reset already",
                    port, cntlid, ccr.icid(), ccr.ciu());
            q.respond(cid, Status.SUCCESS, new CrossControllerReset.Result(true, true, false).dw0());
            return;
        }
        if (impacted == null) {
            log.info("{}: controller {}: cross-controller reset of controller {} (CIU {}) refused: no such"
                    + " controller instance of {} for {}", port, cntlid, ccr.icid(), ccr.ciu(), subsystem.nqn, hostNqn);
            q.respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
            return;
        }
        int inProgress = 0;
        for (CcrEntry e : ccrLog) {
            if (e.status == ResetStatus.IN_PROGRESS) {
                if (e.icid == ccr.icid()) {
                    q.respond(cid, Status.CCR_IN_PROGRESS, 0);
                    return;
                }
                inProgress++;
            }
        }
        if (inProgress >= NvmeTarget.CCR_LIMIT) {
            q.respond(cid, Status.CCR_LIMIT_EXCEEDED, 0);
            return;
        }
        if (ccrLog.size() >= CrossControllerResetLog.MAX_ENTRIES) {
            q.respond(cid, Status.CCR_LOG_FULL, 0);
            return;
        }
        CcrEntry entry = new CcrEntry(ccr.icid(), ccr.ciu());
        ccrLog.add(entry);
        if (impacted.resetBy(this)) {
            entry.status = ResetStatus.SUCCESS;
            log.info("{}: controller {}: cross-controller reset of controller {}: done", port, cntlid, ccr.icid());
            q.respond(cid, Status.SUCCESS, CrossControllerReset.Result.RESET.dw0());
            return;
        }
        log.info("{}: controller {}: cross-controller reset of controller {}: in progress (commands executing)",
                port, cntlid, ccr.icid());
        q.respond(cid, Status.SUCCESS, CrossControllerReset.Result.IN_PROGRESS.dw0());
        impacted.pendingWrites.whenIdle(() -> loop.execute(() -> crossControllerResetDone(entry)));
    }

    /** The controller instance {@code ccr} names: another one of this subsystem and host, still there. */
    private TargetController impacted(CrossControllerReset ccr) {
        for (TargetController c : subsystem.controllers) {
            if (c != this && c.cntlid == ccr.icid() && c.hostNqn.equals(hostNqn) && c.ciu == ccr.ciu()
                    && c.cirn == ccr.cirn()) {
                return c;
            }
        }
        return null;
    }

    /**
     * Resets this controller on behalf of {@code by} (any thread): nothing it holds is applied from
     * now on (held writes are dropped, new ones refused), and its association is torn down. True when
     * nothing of it is still executing, so the reset is complete.
     */
    private boolean resetBy(TargetController by) {
        boolean idle = pendingWrites.stop();
        String reason = "cross-controller reset through controller " + by.cntlid;
        loop.execute(() -> {
            tearDown(reason);
            removeWhenIdle(reason);
        });
        return idle;
    }

    /** An in-progress reset of {@code entry} completed: its entry says so, and the host is told if it asked. */
    private void crossControllerResetDone(CcrEntry entry) {
        entry.status = ResetStatus.SUCCESS;
        log.info("{}: controller {}: cross-controller reset of controller {}: done", port, cntlid, entry.icid);
        notice(AsyncEvent.CFG_CCR_COMPLETED, AsyncEvent.NOTICE_CCR_COMPLETED, Opcodes.LOG_CROSS_CONTROLLER_RESET);
    }

    /** The log page as it stands: this controller is the alternate controller of each entry. */
    private CrossControllerResetLog crossControllerResetLog() {
        List<CrossControllerResetLog.Entry> out = new ArrayList<>(ccrLog.size());
        int flags = CrossControllerResetLog.Entry.FLAG_VALIDATED | CrossControllerResetLog.Entry.FLAG_RESET_INITIATED;
        for (CcrEntry e : ccrLog) {
            out.add(new CrossControllerResetLog.Entry(e.icid, e.ciu, cntlid, e.status, flags));
        }
        return new CrossControllerResetLog(out);
    }

    /** OAES: the notices this controller can send. */
    int supportedEvents() {
        if (subsystem.discovery) {
            return AsyncEvent.CFG_DISCOVERY_CHANGE;
        }
        return AsyncEvent.CFG_NS_ATTR | AsyncEvent.CFG_ANA_CHANGE
                | (subsystem.crossControllerReset ? AsyncEvent.CFG_CCR_COMPLETED : 0);
    }

    // ---- asynchronous events ------------------------------------------------------------------

    /**
     * The ANA state of a group through this controller's port changed, as change number {@code change}
     * (any thread). No notice when the host has meanwhile read an ANA log that already shows it: the
     * change reaches this loop after the caller made it, and a Get Log Page may come in between.
     */
    void anaChanged(long change) {
        loop.execute(() -> {
            if (change > anaLogReadAt) {
                notice(AsyncEvent.CFG_ANA_CHANGE, AsyncEvent.NOTICE_ANA_CHANGE, Opcodes.LOG_ANA);
            }
        });
    }

    /** A namespace was added or removed (any thread). */
    void namespaceChanged(int nsid) {
        loop.execute(() -> {
            if (changedNamespaces.size() < 1024 && !changedNamespaces.contains(nsid)) {
                changedNamespaces.add(nsid);
            }
            notice(AsyncEvent.CFG_NS_ATTR, AsyncEvent.NOTICE_NS_CHANGED, Opcodes.LOG_CHANGED_NS);
        });
    }

    /** The discovery log changed (any thread). */
    void discoveryChanged() {
        loop.execute(() -> notice(AsyncEvent.CFG_DISCOVERY_CHANGE, AsyncEvent.NOTICE_DISCOVERY_CHANGE,
                Opcodes.LOG_DISCOVERY));
    }

    private void notice(int configBit, int info, int lid) {
        if (dead || (asyncEventConfig & configBit) == 0) {
            return;
        }
        switch (info) {
            case AsyncEvent.NOTICE_ANA_CHANGE -> {
                if (anaMasked) {
                    return;
                }
                anaMasked = true;
            }
            case AsyncEvent.NOTICE_NS_CHANGED -> {
                if (nsMasked) {
                    return;
                }
                nsMasked = true;
            }
            case AsyncEvent.NOTICE_CCR_COMPLETED -> {
                if (ccrMasked) {
                    return;
                }
                ccrMasked = true;
            }
            default -> {
                if (discoveryMasked) {
                    return;
                }
                discoveryMasked = true;
            }
        }
        pendingEvents.addLast(AsyncEvent.TYPE_NOTICE | (info << 8) | (lid << 16));
        deliverEvents();
    }

    private void deliverEvents() {
        while (!aers.isEmpty() && !pendingEvents.isEmpty()) {
            admin.respond(aers.pollFirst(), Status.SUCCESS, pendingEvents.pollFirst());
        }
    }

    @Override
    public String toString() {
        return "controller " + cntlid + " of " + subsystem.nqn + " for " + hostNqn + " on " + port;
    }
}
