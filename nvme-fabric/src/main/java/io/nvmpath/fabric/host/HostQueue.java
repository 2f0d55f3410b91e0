package io.nvmpath.fabric.host;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.nvmpath.fabric.nvme.Cqe;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.tcp.ConnectionParams;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.fabric.tcp.PduException;
import io.nvmpath.fabric.tcp.PduType;
import io.nvmpath.fabric.tcp.TermReqStatus;
import io.nvmpath.fabric.time.Scheduler;
import io.nvmpath.transport.SocketErrors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One NVMe queue pair over its own TCP connection: the host side of the NVMe/TCP data path, once
 * {@link ConnectionInit} has set the connection up (it opens queues and hands them over).
 *
 * <p>Everything here runs on the connection's event loop: the in-flight table ({@link CommandSlots},
 * whose command identifiers catch a late or bogus completion for a reused slot), R2T answers, data
 * reassembly. Submission from another thread hops onto the loop.
 *
 * <p>At most {@code depth} commands are outstanding; more wait for a free slot, in arrival order, in
 * a slot queue bounded to four times that, beyond which submission fails: the caller gets
 * backpressure, never an unbounded queue. That is flow control on this one connection, not a wait
 * for a path: what waits for a slot is aborted with the connection like what is in flight (the
 * controller's {@code HeldIo} is where a command may wait across a reconnect).
 *
 * <p>Command timeouts run on the clock of {@link ControllerOptions#scheduler()}: a sweep every
 * 250 ms, from the moment the connection is active, fails the queue when a command is past its
 * deadline.
 */
final class HostQueue extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(HostQueue.class);

    /** Admin and Fabrics commands may carry up to 8 KiB in the capsule. */
    static final int ADMIN_IN_CAPSULE = 8192;
    private static final long SWEEP_MILLIS = 250;

    /** Told about a queue whose connection failed or that stalled. */
    interface Owner {
        /** Called on the queue's event loop, once per queue, when it stops being usable. */
        void queueFailed(HostQueue queue, String reason);
    }

    /** Runs the queue's DH-HMAC-CHAP transaction again (on the queue's loop); see {@link Authentication#again}. */
    interface Reauthenticator {
        CompletableFuture<Void> run(HostQueue queue);
    }

    private final int qid;
    private final TransportAddress address;
    private final ControllerOptions options;
    private final Scheduler scheduler;
    private final Owner owner;
    /** Shared with the connection's decoder and encoder; its digests are set by ICResp. */
    private final ConnectionParams params;

    private final CommandSlots slots;
    /** Commands waiting for a free slot (flow control, bounded to 4 × depth); sent as slots free. */
    private final ArrayDeque<NvmeRequest> waitingForSlot = new ArrayDeque<>();

    private final EventLoop loop;
    private ChannelHandlerContext ctx;
    /** ICResp accepted: commands may be sent. */
    private boolean initialized;
    private boolean closed;
    private boolean failureReported;
    private String closeReason;
    /** Why the queue went, once known; the owner's close without one is a host reset. */
    private LossCause closeCause;
    private boolean flushScheduled;
    private ScheduledFuture<?> sweeper;
    private long maxH2CData;
    private int ioInCapsule;
    private PathStats stats;
    private volatile long lastCompletionNanos;
    /** When a PDU was last written to the connection ({@link #scheduler} time), 0 before any. */
    private volatile long lastSentNanos;
    /** The association this queue belongs to, once it is part of one; aborted commands are marked lost on it. */
    private ControllerInstance instance;
    /** Set once the queue has authenticated; {@code null} on a queue that needs no authentication. */
    private Reauthenticator reauthenticator;
    /** The re-authentication under way, or {@code null}. */
    private CompletableFuture<Void> reauthenticating;
    /** Commands the controller refused with Authentication Required, sent again once the queue has re-authenticated. */
    private final ArrayDeque<NvmeRequest> awaitingReauthentication = new ArrayDeque<>();

    HostQueue(EventLoop loop, int qid, int size, TransportAddress address, ControllerOptions options,
              ConnectionParams params, Owner owner) {
        this.loop = loop;
        this.qid = qid;
        this.address = address;
        this.options = options;
        this.scheduler = options.scheduler();
        this.params = params;
        this.owner = owner;
        this.slots = new CommandSlots(Math.min(size - 1, CommandSlots.MAX_DEPTH));
    }

    /** The connection is initialized (ICResp accepted, {@code params} set): commands may be sent. */
    void initialized(long maxH2CData) {
        this.maxH2CData = maxH2CData;
        initialized = true;
    }

    int qid() {
        return qid;
    }

    int depth() {
        return slots.depth();
    }

    /** Commands currently outstanding on the wire. */
    int inFlight() {
        return slots.inFlight();
    }

    long lastCompletionNanos() {
        return lastCompletionNanos;
    }

    long lastSentNanos() {
        return lastSentNanos;
    }

    /** Joins the queue to its association (on any thread, before the queue carries its commands). */
    void instance(ControllerInstance i) {
        if (loop.inEventLoop()) {
            instance = i;
            i.add(this);
        } else {
            loop.execute(() -> instance(i));
        }
    }

    EventLoop eventLoop() {
        return loop;
    }

    boolean headerDigest() {
        return params.headerDigest();
    }

    boolean dataDigest() {
        return params.dataDigest();
    }

    long maxH2CData() {
        return maxH2CData;
    }

    /** Where completions of this I/O queue are counted. */
    void stats(PathStats stats) {
        this.stats = stats;
    }

    /** In-capsule data limit for NVM commands on this I/O queue, from IOCCSZ. */
    void ioInCapsule(int bytes) {
        this.ioInCapsule = Math.max(0, bytes);
    }

    // ---- re-authentication ---------------------------------------------------------------------

    /** The queue has authenticated: {@code r} runs the transaction again when asked. On the queue's loop. */
    void reauthenticator(Reauthenticator r) {
        reauthenticator = r;
    }

    /** Whether the queue authenticated when it connected. */
    boolean authenticates() {
        return reauthenticator != null;
    }

    /**
     * Runs the queue's authentication again, joining one under way; completes at once on a queue that
     * needs none. Any thread; the transaction runs on the queue's loop, beside its I/O.
     */
    CompletableFuture<Void> reauthenticate() {
        if (!loop.inEventLoop()) {
            CompletableFuture<Void> f = new CompletableFuture<>();
            loop.execute(() -> reauthenticate().whenComplete((v, err) -> {
                if (err != null) {
                    f.completeExceptionally(CommandFutures.unwrap(err));
                } else {
                    f.complete(null);
                }
            }));
            return f;
        }
        if (reauthenticator == null || closed) {
            return CompletableFuture.completedFuture(null);
        }
        if (reauthenticating == null) {
            CompletableFuture<Void> running = reauthenticator.run(this);
            reauthenticating = running;
            running.whenComplete((v, err) -> loop.execute(() -> reauthenticated(running, err)));
        }
        return reauthenticating;
    }

    /** Sends again what waited for the re-authentication, or fails it with the refusal it had. */
    private void reauthenticated(CompletableFuture<Void> which, Throwable err) {
        if (reauthenticating == which) {
            reauthenticating = null;
        }
        Throwable cause = err == null ? null : CommandFutures.unwrap(err);
        while (!awaitingReauthentication.isEmpty()) {
            NvmeRequest r = awaitingReauthentication.pollFirst();
            if (cause == null) {
                r.reset();
                r.retriedAfterReauthentication = true;
                submit0(r);
            } else {
                r.complete(Status.AUTH_REQUIRED | Status.DNR, 0, 0, cause);
            }
        }
    }

    /**
     * The controller answered Authentication Required on this authenticated queue: it wants the host
     * to authenticate again. The command was not executed, so it waits for that and is sent once more
     * (once: a second refusal is its outcome).
     */
    private boolean heldForReauthentication(NvmeRequest r, int status) {
        if (Status.code(status) != Status.AUTH_REQUIRED || reauthenticator == null || closed
                || r.retriedAfterReauthentication || r.sqe().opcode() == Opcodes.FABRICS) {
            return false;
        }
        if (reauthenticating == null) {
            log.info("{} queue {}: the controller answered Authentication Required; authenticating the queue again",
                    address, qid);
        }
        awaitingReauthentication.addLast(r);
        reauthenticate();
        return true;
    }

    // ---- submission ---------------------------------------------------------------------------

    /** Queues the command for sending; completes it with Host Pathing Error if the queue is closed. */
    void submit(NvmeRequest r) {
        if (loop.inEventLoop()) {
            submit0(r);
        } else {
            loop.execute(() -> submit0(r));
        }
    }

    private void submit0(NvmeRequest r) {
        if (closed || !initialized) {
            r.complete(Status.HOST_PATH_ERROR, 0, 0,
                    new TransportException("queue " + qid + " to " + address + " is not connected"));
            return;
        }
        if (slots.full()) {
            if (waitingForSlot.size() >= 4 * slots.depth()) {
                r.complete(Status.INTERNAL | Status.DNR, 0, 0, new TransportException("queue " + qid + " full: "
                        + slots.depth() + " in flight and " + waitingForSlot.size() + " waiting"));
                return;
            }
            waitingForSlot.addLast(r);
            return;
        }
        send(r);
    }

    private void send(NvmeRequest r) {
        int cid = slots.add(r);
        r.received = 0;
        r.solicited = 0;
        long timeout = r.timeoutNanos() < 0
                ? (qid == 0 ? options.adminTimeout() : options.ioTimeout()).toNanos()
                : r.timeoutNanos();
        long now = scheduler.nanoTime();
        r.submitNanos(now);
        r.deadlineNanos = timeout == 0 ? Long.MAX_VALUE : now + timeout;
        Sqe sqe = r.sqe();
        sqe.cid(cid);
        ByteBuf data = Unpooled.EMPTY_BUFFER;
        switch (r.direction()) {
            case TO_CONTROLLER -> {
                int len = r.dataLength();
                if (len <= inCapsuleLimit(sqe)) {
                    sqe.sgl(0, len, Sqe.SGL_DATA_BLOCK_OFFSET);
                    ByteBuf wd = r.writeData();
                    data = wd.retainedSlice(wd.readerIndex(), len);
                } else {
                    sqe.sgl(0, len, Sqe.SGL_TRANSPORT_DATA_BLOCK);
                }
            }
            case FROM_CONTROLLER -> sqe.sgl(0, r.dataLength(), Sqe.SGL_TRANSPORT_DATA_BLOCK);
            case NONE -> sqe.sgl(0, 0, Sqe.SGL_TRANSPORT_DATA_BLOCK);
        }
        write(new Pdu.CapsuleCmd(sqe, data));
    }

    private int inCapsuleLimit(Sqe sqe) {
        if (qid == 0 || sqe.opcode() == Opcodes.FABRICS) {
            return ADMIN_IN_CAPSULE;
        }
        return ioInCapsule;
    }

    private void write(Object msg) {
        lastSentNanos = scheduler.nanoTime();
        ctx.write(msg, ctx.voidPromise());
        if (!flushScheduled) {
            flushScheduled = true;
            loop.execute(this::flushNow);
        }
    }

    private void flushNow() {
        flushScheduled = false;
        if (ctx != null) {
            ctx.flush();
        }
    }

    // ---- receive ------------------------------------------------------------------------------

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        sweeper = scheduler.schedule(loop, this::sweep, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (closed) {
            ReferenceCountUtil.release(msg);
            return;
        }
        switch (msg) {
            case PduException e -> fatal(e);
            case Pdu.TermReq t -> {
                String what = "controller terminated the connection: " + TermReqStatus.describe(t.fes())
                        + " FEI " + t.fei();
                t.release();
                close(what);
            }
            case Pdu.CapsuleResp r -> onResponse(r.cqe());
            case Pdu.C2HData d -> onData(d);
            case Pdu.R2T r -> onR2T(r);
            case Pdu.ICResp r -> fatal(new PduException(TermReqStatus.PDU_SEQUENCE_ERROR, 0, "second ICResp"));
            default -> {
                ReferenceCountUtil.release(msg);
                fatal(new PduException(TermReqStatus.INVALID_HEADER_FIELD, 0, "unexpected " + msg));
            }
        }
    }

    private void onResponse(Cqe cqe) {
        int slot = slots.slotOf(cqe.cid());
        if (slot < 0) {
            fatal(new PduException(TermReqStatus.INVALID_HEADER_FIELD, 20,
                    "response for unknown command ID " + cqe.cid()));
            return;
        }
        NvmeRequest r = slots.get(slot);
        int status = cqe.status();
        Throwable cause = null;
        if (Status.isSuccess(status) && r.direction() == NvmeRequest.Direction.FROM_CONTROLLER
                && r.received != r.dataLength()) {
            status = Status.DATA_XFER_ERROR;
            cause = new TransportException("short read: " + r.received + " of " + r.dataLength() + " bytes");
        }
        complete(slot, status, cqe.dw0(), cqe.dw1(), cause);
    }

    private void onData(Pdu.C2HData d) {
        int slot = slots.slotOf(d.cccid());
        if (slot < 0) {
            d.release();
            fatal(new PduException(TermReqStatus.INVALID_HEADER_FIELD, 8, "C2HData for unknown command ID " + d.cccid()));
            return;
        }
        NvmeRequest r = slots.get(slot);
        int len = d.data().readableBytes();
        if (r.direction() != NvmeRequest.Direction.FROM_CONTROLLER) {
            d.release();
            fatal(new PduException(TermReqStatus.INVALID_HEADER_FIELD, 8, "C2HData for a command that reads nothing"));
            return;
        }
        if (d.datao() != r.received) {
            d.release();
            fatal(new PduException(TermReqStatus.DATA_OUT_OF_RANGE, 12,
                    "C2HData at offset " + d.datao() + ", expected " + r.received));
            return;
        }
        if (d.datao() + len > r.dataLength()) {
            d.release();
            fatal(new PduException(TermReqStatus.DATA_OUT_OF_RANGE, 16,
                    "C2HData past the command's " + r.dataLength() + " bytes"));
            return;
        }
        ByteBuf have = r.readData();
        if (have == null) {
            r.readData(d.data());
        } else if (have instanceof CompositeByteBuf comp) {
            comp.addFlattenedComponents(true, d.data());
        } else {
            // flattened: a PDU's data that spanned reads is itself a composite of the reads' slices
            CompositeByteBuf comp = ctx.alloc().compositeBuffer(Integer.MAX_VALUE);
            comp.addFlattenedComponents(true, have);
            comp.addFlattenedComponents(true, d.data());
            r.readData(comp);
        }
        r.received += len;
        if (d.success()) {
            if (r.received != r.dataLength()) {
                complete(slot, Status.DATA_XFER_ERROR, 0, 0, new TransportException(
                        "C2HData SUCCESS after " + r.received + " of " + r.dataLength() + " bytes"));
            } else {
                complete(slot, Status.SUCCESS, 0, 0, null);
            }
        }
    }

    private void onR2T(Pdu.R2T t) {
        int slot = slots.slotOf(t.cccid());
        if (slot < 0) {
            fatal(new PduException(TermReqStatus.INVALID_HEADER_FIELD, 8, "R2T for unknown command ID " + t.cccid()));
            return;
        }
        NvmeRequest r = slots.get(slot);
        if (r.direction() != NvmeRequest.Direction.TO_CONTROLLER) {
            fatal(new PduException(TermReqStatus.INVALID_HEADER_FIELD, 8, "R2T for a command that writes nothing"));
            return;
        }
        if (t.r2tl() == 0 || t.r2to() + t.r2tl() > r.dataLength() || t.r2to() < r.solicited) {
            fatal(new PduException(TermReqStatus.DATA_OUT_OF_RANGE, 12, "R2T offset " + t.r2to() + " length "
                    + t.r2tl() + " for " + r.dataLength() + " bytes (" + r.solicited + " already sent)"));
            return;
        }
        ByteBuf wd = r.writeData();
        long off = t.r2to();
        long end = t.r2to() + t.r2tl();
        while (off < end) {
            int n = (int) Math.min(maxH2CData, end - off);
            ByteBuf slice = wd.retainedSlice(wd.readerIndex() + (int) off, n);
            write(new Pdu.H2CData(t.cccid(), t.ttag(), off, slice, off + n == end));
            off += n;
        }
        r.solicited = end;
    }

    private void complete(int slot, int status, int dw0, int dw1, Throwable cause) {
        NvmeRequest r = slots.remove(slot);
        long now = scheduler.nanoTime();
        lastCompletionNanos = now;
        if (heldForReauthentication(r, status)) {
            while (!slots.full() && !waitingForSlot.isEmpty() && !closed) {
                send(waitingForSlot.pollFirst());
            }
            return;
        }
        r.retriedAfterReauthentication = false;
        PathStats s = stats;
        if (s != null) {
            s.record(r, status, now - r.submitNanos());
        }
        r.complete(status, dw0, dw1, cause);
        while (!slots.full() && !waitingForSlot.isEmpty() && !closed) {
            send(waitingForSlot.pollFirst());
        }
    }

    // ---- failure ------------------------------------------------------------------------------

    /** Every 250 ms while open: a command past its deadline fails the whole queue (the controller resets). */
    private void sweep() {
        if (closed) {
            return;
        }
        sweeper = scheduler.schedule(loop, this::sweep, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
        if (slots.inFlight() == 0) {
            return;
        }
        long now = scheduler.nanoTime();
        for (int i = 0; i < slots.depth(); i++) {
            NvmeRequest r = slots.get(i);
            if (r != null && now - r.deadlineNanos > 0) {
                String what = (qid == 0 ? Opcodes.adminName(r.sqe().opcode()) : Opcodes.ioName(r.sqe().opcode()))
                        + " (cid " + r.sqe().cid() + ") on queue " + qid + " timed out";
                closeCause = qid == 0 && r.sqe().opcode() == Opcodes.ADMIN_KEEP_ALIVE
                        ? LossCause.KEEP_ALIVE_TIMEOUT : LossCause.IO_TIMEOUT;
                if (instance != null) {
                    instance.lost(closeCause, what);
                }
                reportFailure(what);
                return;
            }
        }
    }

    private void fatal(PduException e) {
        String reason = "NVMe/TCP protocol error from " + address + " on queue " + qid + ": " + e.getMessage();
        log.debug("{}", reason);
        if (e.status() != null && ctx != null && ctx.channel().isActive()) {
            Pdu.TermReq term = new Pdu.TermReq(PduType.H2C_TERM_REQ, e.status().code(), e.fei(), Unpooled.EMPTY_BUFFER);
            ctx.writeAndFlush(term).addListener(ChannelFutureListener.CLOSE);
        }
        close(reason);
    }

    /** Closes the connection; every outstanding command completes with Command Aborted By Host. */
    void close(String reason) {
        if (!loop.inEventLoop()) {
            loop.execute(() -> close(reason));
            return;
        }
        if (closeReason == null) {
            closeReason = reason;
        }
        if (ctx != null) {
            ctx.close();
        }
        failOutstanding();
        reportFailure(reason);
    }

    /** Tells the owner once; intentional closes by the owner are reported too (it ignores them). */
    private void reportFailure(String reason) {
        if (!failureReported) {
            failureReported = true;
            owner.queueFailed(this, reason);
        }
    }

    private void failOutstanding() {
        if (closed) {
            return;
        }
        closed = true;
        if (sweeper != null) {
            sweeper.cancel(false);
        }
        TransportException cause = new TransportException(closeReason != null ? closeReason : "connection closed");
        ControllerInstance lost = instance;
        if (lost != null) {
            lost.lost(closeCause != null ? closeCause : LossCause.HOST_RESET, closeReason);
        }
        for (int i = 0; i < slots.depth(); i++) {
            NvmeRequest r = slots.get(i);
            if (r != null) {
                r.lostOn(lost); // it reached the wire and no completion came back: the target may still run it
                complete(i, Status.HOST_ABORTED_CMD, 0, 0, cause);
            }
        }
        while (!waitingForSlot.isEmpty()) {
            waitingForSlot.pollFirst().complete(Status.HOST_ABORTED_CMD, 0, 0, cause);
        }
        while (!awaitingReauthentication.isEmpty()) {
            // refused by the controller, never executed: not lost on the association
            NvmeRequest r = awaitingReauthentication.pollFirst();
            r.retriedAfterReauthentication = false;
            r.complete(Status.HOST_ABORTED_CMD, 0, 0, cause);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (closeReason == null) {
            closeReason = "connection to " + address + " closed by the peer";
            closeCause = LossCause.TRANSPORT_CLOSED;
        }
        failOutstanding();
        reportFailure(closeReason);
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (closeCause == null) {
            closeCause = LossCause.TRANSPORT_CLOSED;
        }
        close("connection to " + address + " failed: " + rootMessage(cause));
    }

    /**
     * The message of the innermost cause, as the system words it: the native transports put the call
     * before it ("io_uring connect(..) failed with error(-111): Connection refused"), NIO does not, and
     * a user should read the same "Connection refused" whichever transport the process picked.
     */
    static String rootMessage(Throwable t) {
        return SocketErrors.rootMessage(t);
    }

    @Override
    public String toString() {
        return "queue " + qid + " to " + address;
    }
}
