package io.nvmpath.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.Cqe;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.tcp.ConnectionParams;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.fabric.tcp.PduException;
import io.nvmpath.fabric.tcp.PduType;
import io.nvmpath.fabric.tcp.TermReqStatus;
import io.nvmpath.fabric.tls.PskCredentials;
import io.nvmpath.fabric.tls.TlsPskHandler;
import io.nvmpath.target.config.TargetConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The controller side of one NVMe/TCP connection (one queue): ICReq/ICResp, Connect, command
 * dispatch, R2T solicitation for write data, C2HData for read data, and the NVM I/O commands.
 *
 * <p>All of it runs on the connection's event loop. Validation comes before execution: a bad
 * command gets its NVMe status and the connection carries on; a bad stream (malformed PDU, data the
 * host was not asked for) gets a C2HTermReq and the connection closes. Other connections never notice.
 */
final class TargetQueue extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(TargetQueue.class);
    /** Most read data per C2HData PDU. */
    private static final int MAX_C2H_DATA = 128 * 1024;
    /** Commands a host may have outstanding before it has connected the queue. */
    private static final int PRE_CONNECT_LIMIT = 32;
    /** Connect response dword 0, AUTHREQ ATR: the host must authenticate (Linux {@code NVME_CONNECT_AUTHREQ_ATR}). */
    static final int CONNECT_AUTHREQ_ATR = 1 << 17;
    /** Largest Authentication Send/Receive transfer: well above the biggest message (ffdhe8192, SHA-512). */
    private static final int MAX_AUTH_TRANSFER = 8192;
    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();
    /** How long an authentication transaction may stall without a KATO (nvmet: 120 s). */
    static final long AUTH_EXPIRY_WITHOUT_KATO_MS = 120_000;

    /** Where the connection stands. */
    enum Phase {
        /** Waiting for ICReq. */
        AWAIT_ICREQ,
        /** Initialized; only a Fabrics Connect is accepted. */
        AWAIT_CONNECT,
        /** Connected to a controller as an admin or I/O queue. */
        CONNECTED,
        /** Closed; everything that arrives is dropped. */
        CLOSED
    }

    /**
     * A completion held by the port's delay or throttle until {@code dueNanos}, on the target's clock:
     * sending it is {@code send}; {@code data}, the read data it would send, is released if the queue
     * closes first.
     */
    private record Held(long dueNanos, Runnable send, ByteBuf data) {
    }

    /** Write data being collected through R2T/H2CData. */
    private static final class Transfer {
        final int cid;
        final int length;
        final CompositeByteBuf data;
        final Consumer<ByteBuf> then;
        int received;

        Transfer(int cid, int length, CompositeByteBuf data, Consumer<ByteBuf> then) {
            this.cid = cid;
            this.length = length;
            this.data = data;
            this.then = then;
        }
    }

    private final NvmeTarget target;
    private final TargetPort port;
    private final ConnectionParams params;
    private final Map<Integer, Transfer> transfers = new HashMap<>();
    /**
     * Completions the port's fault holds, in due order: due times never go down while one fault
     * holds them (a throttle's bucket says so; a delay adds the same time to each arrival).
     */
    private final ArrayDeque<Held> held = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private EventLoop loop;
    private Phase phase = Phase.AWAIT_ICREQ;
    private int qid = -1;
    private TargetController controller;
    /** The queue's in-band authentication when its host has a key; {@code null} when it needs none. */
    private TargetAuthentication auth;
    /** Drops a stalled authentication transaction, on the target's clock. */
    private java.util.concurrent.ScheduledFuture<?> authExpiry;
    private int queueSize = PRE_CONNECT_LIMIT;
    private int sqhd;
    private boolean sqFlowDisabled;
    private int outstanding;
    private int nextTtag;
    private boolean flushScheduled;
    private String remote;
    /**
     * What holds the held completions: the {@link IoThrottle} of the throttle in force, or the
     * {@link Fault.Delay} itself. A completion held by another (the fault changed) sends them first.
     */
    private Object heldBy;
    /** The one timer of the held completions, on the target's clock: due when the first of them is. */
    private java.util.concurrent.ScheduledFuture<?> heldTimer;

    TargetQueue(NvmeTarget target, TargetPort port, ConnectionParams params) {
        this.target = target;
        this.port = port;
        this.params = params;
    }

    EventLoop eventLoop() {
        return loop;
    }

    int qid() {
        return qid;
    }

    TargetPort port() {
        return port;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.loop = ctx.channel().eventLoop();
        this.remote = String.valueOf(ctx.channel().remoteAddress());
        port.register(this);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        teardown();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof io.nvmpath.fabric.tls.TlsHandshakeException) {
            // why a host is refused: once per connection, with the alert
            log.info("{}: connection from {} refused: {}", port, remote, cause.getMessage());
        } else {
            log.debug("{} from {}: {}", port, remote, cause.toString());
        }
        close("connection error: " + cause.getMessage());
    }

    private void teardown() {
        if (phase == Phase.CLOSED) {
            return;
        }
        phase = Phase.CLOSED;
        port.unregister(this);
        for (Transfer t : transfers.values()) {
            t.data.release();
        }
        transfers.clear();
        dropHeld();
        cancelAuthExpiry();
        if (controller != null) {
            controller.queueClosed(this);
        }
    }

    /** Closes the connection (from any thread); the future completes once it is closed and torn down. */
    CompletableFuture<Void> cut(String reason) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        if (loop == null) {
            done.complete(null);
            return done;
        }
        loop.execute(() -> {
            close(reason);
            done.complete(null);
        });
        return done;
    }

    /** Closes the connection (from any thread). */
    void close(String reason) {
        if (loop != null && !loop.inEventLoop()) {
            loop.execute(() -> close(reason));
            return;
        }
        log.debug("{} queue {} from {}: closing ({})", port, qid, remote, reason);
        if (ctx != null) {
            if (port.blackholed()) {
                // nothing leaves a blackholed port, a close neither: the host must find the loss itself
                port.closeWhenHeard(ctx.channel());
            } else {
                ctx.close();
            }
        }
        teardown();
    }

    // ---- receive ------------------------------------------------------------------------------

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (phase == Phase.CLOSED || port.blackholed()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        switch (msg) {
            case PduException e -> fatal(e);
            case Pdu.ICReq r -> onICReq(r);
            case Pdu.TermReq t -> {
                log.warn("{}: host {} terminated the connection: {} FEI {}", port, remote,
                        TermReqStatus.describe(t.fes()), t.fei());
                t.release();
                close("host sent H2CTermReq");
            }
            case Pdu p when phase == Phase.AWAIT_ICREQ -> {
                ReferenceCountUtil.release(p);
                fatal(new PduException(TermReqStatus.PDU_SEQUENCE_ERROR, 0, p.type() + " before ICReq"));
            }
            case Pdu.CapsuleCmd c -> onCapsule(c);
            case Pdu.H2CData d -> onH2CData(d);
            default -> {
                ReferenceCountUtil.release(msg);
                fatal(new PduException(TermReqStatus.INVALID_HEADER_FIELD, 0, "unexpected " + msg));
            }
        }
    }

    private void onICReq(Pdu.ICReq r) {
        if (phase != Phase.AWAIT_ICREQ) {
            fatal(new PduException(TermReqStatus.PDU_SEQUENCE_ERROR, 0, "second ICReq"));
            return;
        }
        if (r.pfv() != 0) {
            fatal(new PduException(TermReqStatus.UNSUPPORTED_PARAMETER, 8, "ICReq PFV " + r.pfv()));
            return;
        }
        if (r.hpda() > 31) {
            fatal(new PduException(TermReqStatus.INVALID_HEADER_FIELD, 10, "ICReq HPDA " + r.hpda()));
            return;
        }
        boolean hd = r.headerDigest() && target.config().limits().headerDigest();
        boolean dd = r.dataDigest() && target.config().limits().dataDigest();
        // the ICResp itself goes out without digests; everything after it uses them
        write(new Pdu.ICResp(0, 0, hd, dd, target.config().limits().maxH2CData()));
        params.digests(hd, dd).peerDataAlignment(r.hpda());
        phase = Phase.AWAIT_CONNECT;
    }

    private void onCapsule(Pdu.CapsuleCmd c) {
        Sqe sqe = c.sqe();
        ByteBuf data = c.data();
        if (++outstanding > queueSize) {
            data.release();
            fatal(new PduException(TermReqStatus.PDU_SEQUENCE_ERROR, 0,
                    "more than " + queueSize + " commands outstanding (SQ overflow)"));
            return;
        }
        sqhd = (sqhd + 1) % Math.max(queueSize, 1);
        int cid = sqe.cid();
        if (sqe.opcode() == Opcodes.FABRICS) {
            try {
                fabrics(sqe, data);
            } finally {
                data.release();
            }
            return;
        }
        if (phase != Phase.CONNECTED) {
            data.release();
            respond(cid, Status.CMD_SEQ_ERROR | Status.DNR, 0);
            return;
        }
        if (auth != null && !auth.authenticated()) {
            // nvmet_check_auth_status: only the Fabrics commands until the queue has authenticated
            data.release();
            respond(cid, Status.AUTH_REQUIRED | Status.DNR, 0);
            return;
        }
        if (qid == 0) {
            try {
                controller.executeAdmin(this, sqe, data);
            } finally {
                data.release();
            }
        } else {
            io(sqe, data);
        }
    }

    private void onH2CData(Pdu.H2CData d) {
        Transfer t = transfers.get(d.ttag());
        int len = d.data().readableBytes();
        if (t == null || t.cid != d.cccid()) {
            d.release();
            fatal(new PduException(TermReqStatus.INVALID_HEADER_FIELD, 10,
                    "H2CData with TTAG " + d.ttag() + " / CCCID " + d.cccid() + " that no R2T asked for"));
            return;
        }
        if (len > target.config().limits().maxH2CData()) {
            d.release();
            fatal(new PduException(TermReqStatus.DATA_LIMIT_EXCEEDED, 16,
                    "H2CData of " + len + " bytes, MAXH2CDATA is " + target.config().limits().maxH2CData()));
            return;
        }
        if (d.datao() != t.received || d.datao() + len > t.length) {
            d.release();
            fatal(new PduException(TermReqStatus.DATA_OUT_OF_RANGE, 12, "H2CData at " + d.datao() + "+" + len
                    + " for a transfer of " + t.length + " with " + t.received + " received"));
            return;
        }
        t.data.addComponent(true, d.data());
        t.received += len;
        if (t.received == t.length) {
            transfers.remove(d.ttag());
            t.then.accept(t.data);
        } else if (d.last()) {
            fatal(new PduException(TermReqStatus.PDU_SEQUENCE_ERROR, 0,
                    "LAST_PDU after " + t.received + " of " + t.length + " bytes"));
        }
    }

    // ---- Fabrics: Connect, properties ---------------------------------------------------------

    private void fabrics(Sqe sqe, ByteBuf data) {
        int cid = sqe.cid();
        switch (sqe.fctype()) {
            case Opcodes.FCTYPE_CONNECT -> connect(sqe, data);
            case Opcodes.FCTYPE_PROPERTY_GET, Opcodes.FCTYPE_PROPERTY_SET -> {
                if (phase != Phase.CONNECTED || qid != 0) {
                    respond(cid, Status.CMD_SEQ_ERROR | Status.DNR, 0);
                } else {
                    controller.property(this, sqe);
                }
            }
            case Opcodes.FCTYPE_AUTH_SEND -> authSend(sqe, data.retain());
            case Opcodes.FCTYPE_AUTH_RECV -> authReceive(sqe);
            case Opcodes.FCTYPE_DISCONNECT -> {
                respond(cid, Status.SUCCESS, 0);
                ctx.channel().eventLoop().execute(() -> close("Disconnect"));
            }
            default -> respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
        }
    }

    /** Fabrics Connect. Errors use the Connect-specific statuses with IATTR/IPO in dword 0. */
    private void connect(Sqe sqe, ByteBuf data) {
        int cid = sqe.cid();
        if (phase != Phase.AWAIT_CONNECT) {
            respond(cid, Status.CMD_SEQ_ERROR | Status.DNR, 0);
            return;
        }
        int recfmt = sqe.cdw(10) & 0xFFFF;
        int wantQid = sqe.cdw(10) >>> 16;
        int sqsize0 = sqe.cdw(11) & 0xFFFF;
        int cattr = (sqe.cdw(11) >>> 16) & 0xFF;
        long kato = sqe.cdw(12) & 0xFFFFFFFFL;
        if (recfmt != 0) {
            respond(cid, 0x180 | Status.DNR, 0); // Connect Incompatible Format
            return;
        }
        if (sqe.sglIdentifier() != Sqe.SGL_DATA_BLOCK_OFFSET || data.readableBytes() < 1024) {
            respond(cid, Status.SGL_INVALID_DATA | Status.DNR, 0);
            return;
        }
        int base = data.readerIndex();
        UUID hostId = new UUID(data.getLong(base), data.getLong(base + 8));
        int cntlid = data.getUnsignedShortLE(base + 16);
        String subnqn = nqn(data, base + 256);
        String hostnqn = nqn(data, base + 512);
        Subsystem sub = port.subsystem(subnqn);
        if (sub == null) {
            log.info("{}: host {} asked for unknown subsystem {}", port, hostnqn, subnqn);
            connectError(cid, 1, 256);
            return;
        }
        if (!sub.allows(hostnqn)) {
            log.info("{}: host {} not allowed on {}", port, hostnqn, subnqn);
            respond(cid, Status.CONNECT_INVALID_HOST | Status.DNR, 0);
            return;
        }
        TlsPskHandler tls = ctx.pipeline().get(TlsPskHandler.class);
        if (tls != null) {
            // the TLS session is the identity's: a Connect for another host or subsystem is refused
            // (Linux 6.12 nvmet let one host's PSK carry another host's Connect)
            PskCredentials who = tls.handshake().getNow(null);
            if (who == null || !who.hostNqn().equals(hostnqn) || !who.subsysNqn().equals(subnqn)) {
                log.info("{}: Connect as host {} to {} refused: the TLS session is {}", port, hostnqn, subnqn,
                        who == null ? "not established" : "of " + who.identity());
                respond(cid, Status.CONNECT_INVALID_HOST | Status.DNR, 0);
                return;
            }
        }
        TargetConfig.DhchapHost keys = sub.dhchap(hostnqn);
        int authreq = keys == null ? 0 : CONNECT_AUTHREQ_ATR;
        int maxQueue = wantQid == 0 ? 32 : target.config().limits().ioQueueSize();
        if (sqsize0 == 0 || sqsize0 + 1 > maxQueue || (wantQid == 0 && sqsize0 < 31)) {
            connectError(cid, 0, 44);
            return;
        }
        if (wantQid == 0) {
            if (cntlid != 0xFFFF) {
                connectError(cid, 1, 16);
                return;
            }
            TargetController c = target.createController(sub, port, this, hostnqn, hostId, kato);
            attach(c, 0, sqsize0 + 1, cattr, keys, sub, hostnqn, subnqn);
            respond(cid, Status.SUCCESS, c.cntlid | authreq);
            return;
        }
        TargetController c = target.findController(sub, cntlid, hostnqn);
        if (c == null) {
            connectError(cid, 1, 16);
            return;
        }
        if (!c.enabled()) {
            respond(cid, Status.CMD_SEQ_ERROR | Status.DNR, 0);
            return;
        }
        if (!c.addIoQueue(wantQid, this)) {
            connectError(cid, 0, 42);
            return;
        }
        attach(c, wantQid, sqsize0 + 1, cattr, keys, sub, hostnqn, subnqn);
        respond(cid, Status.SUCCESS, authreq);
    }

    private void attach(TargetController c, int qid, int size, int cattr, TargetConfig.DhchapHost keys, Subsystem sub,
                        String hostnqn, String subnqn) {
        this.auth = keys == null ? null
                : new TargetAuthentication(() -> sub.dhchap(hostnqn), sub::reauthenticated, hostnqn, subnqn, qid, RANDOM);
        this.controller = c;
        this.qid = qid;
        this.queueSize = size;
        this.sqFlowDisabled = (cattr & 0x4) != 0;
        this.phase = Phase.CONNECTED;
    }

    /**
     * Fabrics Authentication Send: SECP E9h, SPSP0/SPSP1 01h in CDW10 (bytes 1..3 are SPSP0, SPSP1,
     * SECP), TL in CDW11; the message comes in the capsule or through R2T. Owns {@code data}.
     */
    private void authSend(Sqe sqe, ByteBuf data) {
        int cid = sqe.cid();
        int tl = sqe.cdw(11);
        int bad = checkAuthCommand(sqe, tl);
        if (bad != Status.SUCCESS) {
            data.release();
            respond(cid, bad, 0);
            return;
        }
        Consumer<ByteBuf> then = msg -> {
            try {
                auth.send(msg);
            } finally {
                msg.release();
            }
            armAuthExpiry();
            respond(cid, Status.SUCCESS, 0);
            endIfAuthenticationLost();
        };
        if (sqe.sglIdentifier() == Sqe.SGL_DATA_BLOCK_OFFSET && sqe.sglLength() == tl && data.readableBytes() == tl) {
            then.accept(data); // in-capsule, as hosts send every Fabrics command
        } else {
            withWriteData(sqe, data, tl, then);
        }
    }

    /** Fabrics Authentication Receive: the message the queue's step owes, AL bytes zero-filled as nvmet sends. */
    private void authReceive(Sqe sqe) {
        int cid = sqe.cid();
        int al = sqe.cdw(11);
        int bad = checkAuthCommand(sqe, al);
        if (bad == Status.SUCCESS && sqe.sglIdentifier() != Sqe.SGL_TRANSPORT_DATA_BLOCK) {
            bad = Status.SGL_INVALID_TYPE | Status.DNR;
        } else if (bad == Status.SUCCESS && sqe.sglLength() != al) {
            bad = Status.SGL_INVALID_DATA | Status.DNR;
        }
        if (bad != Status.SUCCESS) {
            respond(cid, bad, 0);
            return;
        }
        io.nvmpath.fabric.auth.AuthMessage m = auth.receive();
        if (!auth.inProgress()) {
            cancelAuthExpiry();
        }
        if (m.size() > al) {
            log.info("{}: Authentication Receive of {} bytes for a {}-byte message", this, al, m.size());
            respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
            return;
        }
        ByteBuf b = ctx.alloc().buffer(al);
        m.encode(b);
        b.writeZero(al - b.readableBytes());
        sendReadData(cid, b);
        endIfAuthenticationLost();
    }

    /**
     * A failed re-authentication ends the association once what was just answered is on its way, as
     * nvmet's {@code nvmet_ctrl_fatal_error}: the host has to connect (and authenticate) again.
     */
    private void endIfAuthenticationLost() {
        if (!auth.lost() || controller == null) {
            return;
        }
        TargetController c = controller;
        String reason = "re-authentication of host " + c.hostNqn + " failed on queue " + qid;
        // after what was answered has left (an empty write completes after the writes before it): on
        // io_uring a close may otherwise overtake the Failure1 still in the ring
        loop.execute(() -> ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> c.delete(reason)));
    }

    /** The target withdraws this queue's authentication (a fault): on the queue's loop. */
    void withdrawAuthentication() {
        if (auth != null && phase == Phase.CONNECTED) {
            auth.withdraw();
        }
    }

    /** Runs {@code r} on this queue's event loop (any thread). */
    void onLoop(Runnable r) {
        EventLoop l = loop;
        if (l != null) {
            l.execute(r);
        }
    }

    /**
     * (Re)arms the expiry of the queue's authentication transaction after each Authentication Send,
     * as nvmet: the controller's KATO, or 120 s without one.
     */
    private void armAuthExpiry() {
        cancelAuthExpiry();
        if (!auth.inProgress()) {
            return;
        }
        long kato = controller.katoMillis();
        TargetAuthentication a = auth;
        authExpiry = target.scheduler().schedule(loop, () -> {
            authExpiry = null;
            if (phase != Phase.CLOSED) {
                a.expire();
            }
        }, kato > 0 ? kato : AUTH_EXPIRY_WITHOUT_KATO_MS, TimeUnit.MILLISECONDS);
    }

    private void cancelAuthExpiry() {
        if (authExpiry != null) {
            authExpiry.cancel(false);
            authExpiry = null;
        }
    }

    /** The status of an Authentication Send/Receive that cannot run, or success. */
    private int checkAuthCommand(Sqe sqe, int length) {
        if (phase != Phase.CONNECTED) {
            return Status.CMD_SEQ_ERROR | Status.DNR;
        }
        int cdw10 = sqe.cdw(10);
        int spsp0 = (cdw10 >>> 8) & 0xFF;
        int spsp1 = (cdw10 >>> 16) & 0xFF;
        int secp = cdw10 >>> 24;
        if (auth == null || secp != io.nvmpath.fabric.auth.AuthMessage.SECP_DHCHAP
                || spsp0 != io.nvmpath.fabric.auth.AuthMessage.SPSP || spsp1 != io.nvmpath.fabric.auth.AuthMessage.SPSP
                || length <= 0 || length > MAX_AUTH_TRANSFER) {
            // a host without a key has nothing to authenticate (nvmet: Invalid Field)
            return Status.INVALID_FIELD | Status.DNR;
        }
        return Status.SUCCESS;
    }

    private void connectError(int cid, int iattr, int ipo) {
        respond(cid, Status.CONNECT_INVALID_PARAM | Status.DNR, (iattr << 16) | ipo);
    }

    private static String nqn(ByteBuf b, int index) {
        int end = index;
        while (end < index + 256 && b.getByte(end) != 0) {
            end++;
        }
        return b.toString(index, end - index, StandardCharsets.UTF_8);
    }

    // ---- NVM I/O ------------------------------------------------------------------------------

    private void io(Sqe sqe, ByteBuf inCapsule) {
        int cid = sqe.cid();
        Namespace ns = controller.namespace(sqe.nsid());
        if (ns == null) {
            inCapsule.release();
            respond(cid, Status.INVALID_NS | Status.DNR, 0);
            return;
        }
        AnaState ana = port.anaState(ns.anaGroup);
        if (!ana.usable()) {
            inCapsule.release();
            respondIo(cid, switch (ana) {
                case INACCESSIBLE -> Status.ANA_INACCESSIBLE;
                case PERSISTENT_LOSS -> Status.ANA_PERSISTENT_LOSS;
                default -> Status.ANA_TRANSITION;
            });
            return;
        }
        int injected = port.takeInjectedFailure();
        if (injected != 0) {
            inCapsule.release();
            respondIo(cid, injected);
            return;
        }
        switch (sqe.opcode()) {
            case Opcodes.NVM_READ -> read(sqe, ns, inCapsule);
            case Opcodes.NVM_WRITE -> write(sqe, ns, inCapsule);
            case Opcodes.NVM_FLUSH -> {
                inCapsule.release();
                finish(cid, ns.backend.flush());
            }
            case Opcodes.NVM_WRITE_ZEROES -> {
                inCapsule.release();
                long slba = sqe.slba();
                int nlb = sqe.nlb();
                if (!inRange(ns, slba, nlb)) {
                    respond(cid, Status.LBA_RANGE | Status.DNR, 0);
                } else if (ns.readOnly) {
                    respond(cid, 0x182 | Status.DNR, 0);
                } else {
                    applyMedia(cid, () -> ns.backend.zero(slba * ns.lbaSize, (long) nlb * ns.lbaSize), () -> {
                    }, Status.INTERNAL, 0, "write zeroes to namespace " + ns.nsid);
                }
            }
            case Opcodes.NVM_DSM -> dsm(sqe, ns, inCapsule);
            default -> {
                inCapsule.release();
                respond(cid, Status.INVALID_OPCODE | Status.DNR, 0);
            }
        }
    }

    private static boolean inRange(Namespace ns, long slba, long nlb) {
        return slba >= 0 && nlb > 0 && slba + nlb <= ns.blocks && slba + nlb > slba;
    }

    private void read(Sqe sqe, Namespace ns, ByteBuf inCapsule) {
        inCapsule.release();
        int cid = sqe.cid();
        long slba = sqe.slba();
        int nlb = sqe.nlb();
        long len = (long) nlb * ns.lbaSize;
        if (!inRange(ns, slba, nlb)) {
            respond(cid, Status.LBA_RANGE | Status.DNR, 0);
            return;
        }
        if (len > target.maxTransferBytes()) {
            respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
            return;
        }
        if (sqe.sglIdentifier() != Sqe.SGL_TRANSPORT_DATA_BLOCK) {
            respond(cid, Status.SGL_INVALID_TYPE | Status.DNR, 0);
            return;
        }
        if (sqe.sglLength() != len) {
            respond(cid, Status.SGL_INVALID_DATA | Status.DNR, 0);
            return;
        }
        CompletableFuture<ByteBuf> f = ns.backend.read(slba * ns.lbaSize, (int) len, ctx.alloc());
        onLoop(f, (data, err) -> {
            if (err != null) {
                log.warn("{}: read of namespace {} failed: {}", port, ns.nsid, err.toString());
                completeIo(cid, Status.READ_ERROR, len);
            } else {
                afterExecution(() -> sendReadData(cid, data), data, len);
            }
        });
    }

    private void write(Sqe sqe, Namespace ns, ByteBuf inCapsule) {
        int cid = sqe.cid();
        long slba = sqe.slba();
        int nlb = sqe.nlb();
        long len = (long) nlb * ns.lbaSize;
        boolean fua = (sqe.cdw(12) & (1 << 30)) != 0;
        if (!inRange(ns, slba, nlb)) {
            inCapsule.release();
            respond(cid, Status.LBA_RANGE | Status.DNR, 0);
            return;
        }
        if (ns.readOnly) {
            inCapsule.release();
            respond(cid, 0x182 | Status.DNR, 0);
            return;
        }
        if (len > target.maxTransferBytes()) {
            inCapsule.release();
            respond(cid, Status.INVALID_FIELD | Status.DNR, 0);
            return;
        }
        withWriteData(sqe, inCapsule, (int) len, data -> applyMedia(cid,
                () -> ns.backend.write(slba * ns.lbaSize, data, fua), data::release, Status.WRITE_FAULT, len,
                "write to namespace " + ns.nsid));
    }

    private void dsm(Sqe sqe, Namespace ns, ByteBuf inCapsule) {
        int cid = sqe.cid();
        int ranges = (sqe.cdw(10) & 0xFF) + 1;
        boolean deallocate = (sqe.cdw(11) & 0x4) != 0;
        withWriteData(sqe, inCapsule, ranges * 16, data -> {
            if (!deallocate) {
                data.release(); // no attribute with a side effect: nothing to do
                finish(cid, CompletableFuture.completedFuture(null));
                return;
            }
            long[] slbas = new long[ranges];
            long[] nlbs = new long[ranges];
            int r = data.readerIndex();
            for (int i = 0; i < ranges; i++) {
                nlbs[i] = data.getUnsignedIntLE(r + 16 * i + 4);
                slbas[i] = data.getLongLE(r + 16 * i + 8);
            }
            data.release();
            for (int i = 0; i < ranges; i++) {
                if (nlbs[i] != 0 && !inRange(ns, slbas[i], nlbs[i])) {
                    respond(cid, Status.LBA_RANGE | Status.DNR, 0);
                    return;
                }
            }
            applyMedia(cid, () -> {
                CompletableFuture<Void> all = CompletableFuture.completedFuture(null);
                for (int i = 0; i < ranges; i++) {
                    if (nlbs[i] != 0) {
                        all = all.thenCombine(ns.backend.zero(slbas[i] * ns.lbaSize, nlbs[i] * ns.lbaSize),
                                (a, b) -> null);
                    }
                }
                return all;
            }, () -> {
            }, Status.INTERNAL, 0, "deallocate in namespace " + ns.nsid);
        });
    }

    /**
     * Applies a command with media side effects as one of its controller's {@link PendingWrites}: at
     * once, or after the port's ghost-writes fault has held it (then even if this connection closed
     * meanwhile), and never once the controller has been stopped. {@code release} frees what the
     * command holds (its write data) when the backend is done with it or it is dropped.
     */
    private void applyMedia(int cid, Supplier<CompletableFuture<Void>> apply, Runnable release, int failure,
                            long bytes, String what) {
        PendingWrites pending = controller.pendingWrites();
        Runnable execute = () -> execute(cid, apply, release, failure, bytes, what, pending);
        Fault.GhostWrites ghost = port.ghostWrites();
        if (ghost != null) {
            pending.hold(loop, ghost.millis(), execute, release);
        } else if (pending.startExecution()) {
            execute.run();
        } else {
            release.run(); // its controller was reset: it is never applied
        }
    }

    /** Runs a media command counted as executing in {@code pending}, and completes it if the host is still there. */
    private void execute(int cid, Supplier<CompletableFuture<Void>> apply, Runnable release, int failure, long bytes,
                         String what, PendingWrites pending) {
        CompletableFuture<Void> f;
        try {
            f = apply.get();
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((v, err) -> {
            release.run();
            pending.executionDone();
        });
        onLoop(f, (v, err) -> {
            if (err != null) {
                log.warn("{}: {} failed: {}", port, what, err.toString());
            }
            completeIo(cid, err == null ? Status.SUCCESS : failure, bytes);
        });
    }

    /**
     * Gets a command's host-to-controller data: from the capsule (SGL Data Block, Offset) or through
     * R2T (Transport SGL Data Block). {@code then} owns the buffer it is given.
     */
    private void withWriteData(Sqe sqe, ByteBuf inCapsule, int expected, Consumer<ByteBuf> then) {
        int cid = sqe.cid();
        int id = sqe.sglIdentifier();
        int sglLen = sqe.sglLength();
        if (sglLen != expected) {
            inCapsule.release();
            respond(cid, Status.SGL_INVALID_DATA | Status.DNR, 0);
            return;
        }
        if (id == Sqe.SGL_DATA_BLOCK_OFFSET) {
            if (inCapsule.readableBytes() != expected || expected > target.config().limits().inCapsuleDataSize()) {
                inCapsule.release();
                respond(cid, Status.SGL_INVALID_DATA | Status.DNR, 0);
                return;
            }
            then.accept(inCapsule);
            return;
        }
        inCapsule.release();
        if (id != Sqe.SGL_TRANSPORT_DATA_BLOCK) {
            respond(cid, Status.SGL_INVALID_TYPE | Status.DNR, 0);
            return;
        }
        int ttag = nextTtag = (nextTtag + 1) & 0xFFFF;
        Transfer t = new Transfer(cid, expected, ctx.alloc().compositeBuffer(Integer.MAX_VALUE), then);
        Transfer old = transfers.put(ttag, t);
        if (old != null) {
            old.data.release();
        }
        write(new Pdu.R2T(cid, ttag, 0, expected));
    }

    // ---- responses ----------------------------------------------------------------------------

    /**
     * Completes an I/O command that carries no data (Flush, Write Zeroes, Dataset Management) once
     * {@code f} does, with success or Internal Error.
     */
    private void finish(int cid, CompletableFuture<Void> f) {
        onLoop(f, (v, err) -> completeIo(cid, err == null ? Status.SUCCESS : Status.INTERNAL, 0));
    }

    /**
     * The completion of an I/O command the namespace executed, {@code bytes} of data: subject to the
     * port's delay or throttle.
     */
    private void completeIo(int cid, int status, long bytes) {
        if (phase == Phase.CLOSED) {
            return; // applied after the connection closed (a ghost write): no one to tell
        }
        afterExecution(() -> respond(cid, status, 0), null, bytes);
    }

    /** An I/O completion before execution (ANA, injected failure): subject to the delay fault only. */
    private void respondIo(int cid, int status) {
        afterDelay(() -> respond(cid, status, 0), null);
    }

    /**
     * Sends an executed command's completion ({@code r}, which owns {@code data}) when the port's
     * throttle allows, else as {@link #afterDelay} does.
     */
    private void afterExecution(Runnable r, ByteBuf data, long bytes) {
        IoThrottle t = port.throttle();
        if (t == null) {
            afterDelay(r, data);
            return;
        }
        hold(t, t.reserve(bytes), r, data);
    }

    /** Sends a completion ({@code r}, which owns {@code data}) once the port's delay fault, if any, has passed. */
    private void afterDelay(Runnable r, ByteBuf data) {
        Fault.Delay d = port.delay();
        if (d == null || d.millis() <= 0) {
            r.run();
            return;
        }
        hold(d, target.scheduler().nanoTime() + TimeUnit.MILLISECONDS.toNanos(d.millis()), r, data);
    }

    /** Sends {@code r} at {@code due} on the target's clock, after what {@code by} holds before it. */
    private void hold(Object by, long due, Runnable r, ByteBuf data) {
        if (heldBy != by) {
            sendHeld(true, 0); // a new fault (or bucket): what the old one held goes first
            heldBy = by;
        }
        if (held.isEmpty() && due - target.scheduler().nanoTime() <= 0) {
            r.run();
            return;
        }
        held.addLast(new Held(due, r, data));
        if (by instanceof IoThrottle t) {
            t.holding();
        }
        if (heldTimer == null) {
            armHeldTimer();
        }
    }

    private void armHeldTimer() {
        long delay = held.peekFirst().dueNanos() - target.scheduler().nanoTime();
        heldTimer = target.scheduler().schedule(loop, this::heldTimerFired, Math.max(0, delay), TimeUnit.NANOSECONDS);
    }

    private void heldTimerFired() {
        heldTimer = null;
        if (phase == Phase.CLOSED || held.isEmpty()) {
            return;
        }
        sendHeld(false, target.scheduler().nanoTime());
        if (!held.isEmpty()) {
            armHeldTimer();
        }
    }

    /** Sends the held completions due by {@code now} (every one with {@code all}), in order. */
    private void sendHeld(boolean all, long now) {
        while (!held.isEmpty() && (all || held.peekFirst().dueNanos() - now <= 0)) {
            Held h = held.pollFirst();
            released();
            h.send().run();
        }
    }

    private void released() {
        if (heldBy instanceof IoThrottle t) {
            t.released();
        }
    }

    /**
     * Sends at once every completion that {@code by} (a throttle's bucket or a delay fault) holds:
     * that fault was replaced or cleared. Completions held by the fault now in force stay. Any thread.
     */
    void releaseHeld(Object by) {
        if (loop == null) {
            return;
        }
        if (!loop.inEventLoop()) {
            loop.execute(() -> releaseHeld(by));
            return;
        }
        if (heldBy != by) {
            return; // nothing of it held, or a completion of the next fault sent it already
        }
        if (heldTimer != null) {
            heldTimer.cancel(false);
            heldTimer = null;
        }
        if (phase != Phase.CLOSED) {
            sendHeld(true, 0);
        }
    }

    /** The queue closed: held completions go nowhere; their read data is released. */
    private void dropHeld() {
        if (heldTimer != null) {
            heldTimer.cancel(false);
            heldTimer = null;
        }
        Held h;
        while ((h = held.pollFirst()) != null) {
            released();
            ReferenceCountUtil.safeRelease(h.data());
        }
    }

    /** Runs {@code then} on this queue's event loop once {@code f} completes (inline if it already has). */
    private <T> void onLoop(CompletableFuture<T> f, java.util.function.BiConsumer<T, Throwable> then) {
        if (f.isDone() && loop.inEventLoop()) {
            T v = null;
            Throwable err = null;
            try {
                v = f.join();
            } catch (RuntimeException e) {
                err = e;
            }
            then.accept(v, err);
            return;
        }
        f.whenComplete((v, err) -> loop.execute(() -> {
            if (phase == Phase.CLOSED) {
                ReferenceCountUtil.safeRelease(v);
                return;
            }
            then.accept(v, err);
        }));
    }

    /** Sends a response capsule. */
    void respond(int cid, int status, int dw0) {
        respondWithDw1(cid, status, dw0, 0);
    }

    /** A successful response carrying two result dwords (an 8-byte Property Get). */
    void respondWithDw1(int cid, int dw0, int dw1) {
        respondWithDw1(cid, Status.SUCCESS, dw0, dw1);
    }

    private void respondWithDw1(int cid, int status, int dw0, int dw1) {
        outstanding = Math.max(0, outstanding - 1);
        write(new Pdu.CapsuleResp(new Cqe(dw0, dw1, sqhd, Math.max(qid, 0), cid, status)));
    }

    io.netty.buffer.ByteBufAllocator alloc() {
        return ctx.alloc();
    }

    /**
     * Sends read data as C2HData PDUs and completes the command: with the SUCCESS flag on the last
     * PDU when the host disabled SQ flow control (no response capsule then), else with a capsule.
     */
    void sendReadData(int cid, ByteBuf data) {
        int len = data.readableBytes();
        int off = 0;
        try {
            while (off < len) {
                int n = Math.min(MAX_C2H_DATA, len - off);
                boolean last = off + n == len;
                write(new Pdu.C2HData(cid, off, data.retainedSlice(data.readerIndex() + off, n), last,
                        last && sqFlowDisabled));
                off += n;
            }
        } finally {
            data.release();
        }
        if (sqFlowDisabled) {
            outstanding = Math.max(0, outstanding - 1);
        } else {
            respond(cid, Status.SUCCESS, 0);
        }
    }

    private void write(Object msg) {
        if (phase == Phase.CLOSED || port.blackholed()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        ctx.write(msg, ctx.voidPromise());
        if (!flushScheduled) {
            flushScheduled = true;
            loop.execute(() -> {
                flushScheduled = false;
                ctx.flush();
            });
        }
    }

    private void fatal(PduException e) {
        log.info("{}: protocol error from {} (queue {}): {}", port, remote, qid, e.getMessage());
        if (e.status() != null && ctx.channel().isActive()) {
            ctx.writeAndFlush(new Pdu.TermReq(PduType.C2H_TERM_REQ, e.status().code(), e.fei(), Unpooled.EMPTY_BUFFER))
                    .addListener(ChannelFutureListener.CLOSE);
        } else {
            ctx.close();
        }
        teardown();
    }

    @Override
    public String toString() {
        return port + " queue " + qid + " from " + remote;
    }
}
