package io.nvmpath.server.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.nvmpath.fabric.host.NvmeException;
import io.nvmpath.fabric.log.WarnLimiter;
import io.nvmpath.server.block.BlockDevice;
import io.nvmpath.server.block.BlockException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.RejectedExecutionException;

/**
 * The transmission phase of one connection: where an NBD request becomes a {@link BlockDevice}
 * operation, and its completion a reply.
 *
 * <p>Each request is validated first (command, flags against what was negotiated, read-only, range
 * against the export size, payload against the maximum) and refused alone with the error the
 * protocol recommends; only then does it reach the device. Replies go out as requests complete, in
 * any order, each one whole (header and data written back to back on the event loop). Failures
 * become NBD errors in {@link NbdError#of}; their causes are logged, at most one line a second per
 * connection.
 *
 * <p>At most {@code maxInFlight} requests are on the device at once; requests decoded beyond that
 * wait here in arrival order, and reading stops while the device holds the limit. While the
 * channel is not writable (a client that does not read its replies) reading stops and no waiting
 * request is started, so a connection holds at most {@code maxInFlight} payloads wherever they are.
 * Bytes are bounded too: reading stops while the READ/WRITE bytes received and not yet answered
 * reach {@link #MIN_BYTES_IN_FLIGHT} (or twice the payload bound), and a waiting request starts only
 * when its bytes fit beside those already on the device (or nothing is) — 128 requests of 32 MiB
 * never pile up.
 *
 * <p>NBD_CMD_CACHE is accepted and validated but does no I/O: the gateway keeps no cache, and the
 * namespace behind it offers nothing to prefetch into, so it succeeds at once.
 *
 * <p>NBD_CMD_BLOCK_STATUS ({@code base:allocation}): an NVMe namespace reached through the gateway
 * cannot tell allocated from deallocated blocks cheaply, so the whole queried range is reported as
 * one extent with flags 0 (allocated, contents unknown), which the protocol allows any server to say.
 *
 * <p>NBD_CMD_DISC, and a drain (the export going away, or the server shutting down), stop reading;
 * every request already received is executed and answered, then the connection is closed. During a
 * drain, requests that still arrive are answered ESHUTDOWN. Per-connection state is confined to the
 * channel's event loop; device completions on other threads hop onto it.
 */
final class NbdCommandHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(NbdCommandHandler.class);

    private final NbdSession session;
    /** A flush of the replies written so far is queued on the event loop. */
    private boolean flushScheduled;
    private final NbdExport export;
    private final BlockDevice device;
    private final ExportStats stats;
    /** Bytes of reads and writes a connection may hold at once, at least (else twice the payload bound). */
    static final long MIN_BYTES_IN_FLIGHT = 64L << 20;

    private final int maxInFlight;
    private final WarnLimiter warnings;

    private ChannelHandlerContext ctx;
    /** Requests received but not yet started, in arrival order. */
    private final ArrayDeque<NbdRequest> waiting = new ArrayDeque<>();
    /** Requests started and not yet completed. */
    private int inFlight;
    /** READ/WRITE bytes of requests received and not yet answered (waiting, and on the device). */
    private long bytesHeld;
    /** Of those, the bytes of requests started on the device. */
    private long bytesOnDevice;
    /** Bound on {@link #bytesHeld} (reading stops) and {@link #bytesOnDevice} (starting waits). */
    private final long maxBytes;
    /** The channel is open and counted in the export's connections. */
    private boolean open;
    /** DISC or drain: read no more, close once everything received is answered. */
    private boolean stopping;
    /** Drain: requests received from now on are answered ESHUTDOWN. */
    private boolean refuseNew;
    private boolean pumping;
    private boolean closeRequested;

    NbdCommandHandler(NbdSession session, int maxInFlight) {
        this(session, maxInFlight, new WarnLimiter(log, WarnLimiter.DEFAULT_INTERVAL_NANOS, System::nanoTime));
    }

    NbdCommandHandler(NbdSession session, int maxInFlight, WarnLimiter warnings) {
        this.session = session;
        this.export = session.export();
        this.device = export.device();
        this.stats = export.stats();
        this.maxInFlight = maxInFlight;
        this.maxBytes = Math.max(MIN_BYTES_IN_FLIGHT, 2L * session.maxPayload());
        this.warnings = warnings;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        open = true;
        stats.connectionOpened();
        if (!ctx.channel().isActive()) {
            closeDown();
            return;
        }
        updateReading();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        closeDown();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        closeDown();
        super.channelInactive(ctx);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        pump();
        super.channelWritabilityChanged(ctx);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt == NbdServer.DrainEvent.INSTANCE) {
            refuseNew = true;
            stopping = true;
            updateReading();
            maybeClose();
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException) {
            log.debug("NBD client {} on export {}: {}", ctx.channel().remoteAddress(), export.name(), cause.toString());
        } else {
            log.warn("NBD client {} on export {}: closing after an unexpected error", ctx.channel().remoteAddress(),
                    export.name(), cause);
        }
        ctx.close();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        assert ctx.executor().inEventLoop();
        if (!(msg instanceof NbdRequest request)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (!open) {
            request.release();
            return;
        }
        if (request.type == Nbd.CMD_DISC) {
            request.release();
            stopping = true;
            updateReading();
            maybeClose();
            return;
        }
        bytesHeld += weight(request);
        if (refuseNew) {
            Op op = Op.of(request.type);
            bytesOnDevice += weight(request);
            begin(op);
            request.release();
            finish(op, request.handle, request.offset, request.length, NbdError.ESHUTDOWN,
                    "the export is shutting down", null);
            return;
        }
        waiting.add(request);
        pump();
    }

    /** A request is taken on: it counts as in flight until {@link #finish} answers it. */
    private void begin(Op op) {
        inFlight++;
        if (op.counted != null) {
            stats.started();
        }
    }

    /**
     * Starts waiting requests while the device has room and the channel takes replies; never
     * re-entered by synchronous completions.
     */
    private void pump() {
        if (pumping) {
            return;
        }
        pumping = true;
        try {
            while (open && inFlight < maxInFlight && !waiting.isEmpty() && ctx.channel().isWritable()
                    && (inFlight == 0 || bytesOnDevice + weight(waiting.peek()) <= maxBytes)) {
                NbdRequest next = waiting.poll();
                bytesOnDevice += weight(next);
                start(next);
            }
        } finally {
            pumping = false;
        }
        updateReading();
        maybeClose();
    }

    private void start(NbdRequest request) {
        Op op = Op.of(request.type);
        begin(op);
        ByteBuf payload = request.takePayload();
        request.release();
        Refusal refusal = validate(request, op);
        if (refusal != null) {
            if (payload != null) {
                payload.release();
            }
            // the operator sees why errors rise (rate-limited with this connection's other warnings);
            // a client with structured replies gets the same words in its error reply
            warnings.warn("NBD client " + ctx.channel().remoteAddress() + " on export " + export.name() + ": "
                    + describe(op, request) + " refused with " + refusal.error() + ": " + refusal.why(), null);
            finish(op, request.handle, request.offset, request.length, refusal.error(), refusal.why(), null);
            return;
        }
        Pending p = new Pending(op, request.handle, request.offset, request.length, request.flags);
        boolean fua = (request.flags & Nbd.CMD_FLAG_FUA) != 0;
        try {
            switch (op) {
                case READ -> device.read(request.offset, (int) request.length, p);
                case WRITE -> {
                    ByteBuf data = payload;
                    payload = null;
                    device.write(request.offset, data, fua, p);
                }
                case FLUSH -> device.flush(p);
                case TRIM -> device.trim(request.offset, request.length, p);
                case WRITE_ZEROES -> device.writeZeroes(request.offset, request.length,
                        (request.flags & Nbd.CMD_FLAG_NO_HOLE) == 0, (request.flags & Nbd.CMD_FLAG_FAST_ZERO) != 0,
                        fua, p);
                case CACHE, BLOCK_STATUS -> p.done(null, null); // no I/O: see the class comment
                default -> throw new IllegalStateException(op.name()); // validate() refused the rest
            }
        } catch (RuntimeException e) {
            // a device that throws instead of completing: answer the request once, whatever it did
            if (payload != null) {
                payload.release();
            }
            p.done(null, e);
        }
    }

    /** The request as a log line names it: the command, and its range where it has one. */
    private static String describe(Op op, NbdRequest r) {
        String name = op == Op.UNKNOWN ? "command " + r.type : op.toString();
        return r.length == 0 && r.offset == 0 ? name : name + " at " + Long.toUnsignedString(r.offset) + "+"
                + r.length;
    }

    /** Why a request does not reach the device: the error answered, and a message for the client. */
    private record Refusal(NbdError error, String why) {
    }

    /**
     * Checks {@code request} against the protocol and what was negotiated: command, flags,
     * read-only, range, payload size.
     *
     * @return null if it may run, else why not
     */
    private Refusal validate(NbdRequest r, Op op) {
        if (op == Op.UNKNOWN) {
            return refuse(NbdError.EINVAL, "unknown command " + r.type);
        }
        if ((r.flags & ~op.flags) != 0) {
            return refuse(NbdError.EINVAL, String.format("flags 0x%x are not valid for %s", r.flags, op));
        }
        if ((r.flags & Nbd.CMD_FLAG_FUA) != 0 && !session.has(Nbd.FLAG_SEND_FUA)) {
            return refuse(NbdError.EINVAL, "FUA was not offered");
        }
        if ((r.flags & Nbd.CMD_FLAG_DF) != 0 && !session.has(Nbd.FLAG_SEND_DF)) {
            return refuse(NbdError.EINVAL, "DF needs structured replies");
        }
        if ((r.flags & Nbd.CMD_FLAG_FAST_ZERO) != 0 && !session.has(Nbd.FLAG_SEND_FAST_ZERO)) {
            return refuse(NbdError.EINVAL, "FAST_ZERO was not offered");
        }
        if (op.writes && session.readOnly()) {
            return refuse(NbdError.EPERM, "the export is read-only");
        }
        switch (op) {
            case FLUSH -> {
                if (!session.has(Nbd.FLAG_SEND_FLUSH)) {
                    return refuse(NbdError.EINVAL, "FLUSH was not offered");
                }
                return r.offset != 0 || r.length != 0 ? refuse(NbdError.EINVAL, "FLUSH with offset or length") : null;
            }
            case TRIM -> {
                if (!session.has(Nbd.FLAG_SEND_TRIM)) {
                    return refuse(NbdError.EINVAL, "TRIM was not offered");
                }
            }
            case BLOCK_STATUS -> {
                if (!session.baseAllocation()) {
                    return refuse(NbdError.EINVAL, "no metadata context was negotiated");
                }
            }
            default -> {
            }
        }
        if (r.length == 0) {
            return refuse(NbdError.EINVAL, op + " of length 0");
        }
        long size = device.size();
        if (Long.compareUnsigned(r.offset, size) > 0 || r.length > size - r.offset) {
            return refuse(op == Op.WRITE || op == Op.WRITE_ZEROES ? NbdError.ENOSPC : NbdError.EINVAL,
                    op + " past the end of the export");
        }
        if ((op == Op.READ || op == Op.WRITE) && r.length > session.maxPayload()) {
            return refuse(NbdError.EINVAL, op + " of " + r.length + " bytes, over the maximum payload of "
                    + session.maxPayload());
        }
        if (r.payloadDiscarded) {
            return refuse(NbdError.EINVAL, "payload not accepted");
        }
        return null;
    }

    private static Refusal refuse(NbdError error, String why) {
        return new Refusal(error, why);
    }

    /** One started request waiting for its device completion, which may come on any thread. */
    private final class Pending implements BlockDevice.Completion {
        final Op op;
        final long handle;
        final long offset;
        final long length;
        /** The request's command flags: they decide which error a failure is answered with. */
        final int flags;
        private volatile boolean completed;

        Pending(Op op, long handle, long offset, long length, int flags) {
            this.op = op;
            this.handle = handle;
            this.offset = offset;
            this.length = length;
            this.flags = flags;
        }

        @Override
        public void done(ByteBuf data, Throwable failure) {
            if (completed) {
                if (data != null) {
                    data.release();
                }
                log.error("BlockDevice completed {} twice on export {}", op, export.name());
                return;
            }
            completed = true;
            EventLoop loop = ctx.channel().eventLoop();
            if (loop.inEventLoop()) {
                complete(this, data, failure);
                return;
            }
            try {
                loop.execute(() -> complete(this, data, failure));
            } catch (RejectedExecutionException e) {
                // the event loop is gone, and the connection with it: nobody to answer
                if (data != null) {
                    data.release();
                }
                if (op.counted != null) {
                    stats.finished(op.counted, 0, NbdError.ESHUTDOWN.name());
                }
            }
        }
    }

    /** On the event loop: turns a device completion into the reply. */
    private void complete(Pending p, ByteBuf data, Throwable failure) {
        assert ctx.executor().inEventLoop();
        NbdError error = null;
        String message = null;
        if (failure == null && p.op == Op.READ && (data == null || data.readableBytes() != p.length)) {
            failure = new IllegalStateException("device returned " + (data == null ? "no data" : data.readableBytes()
                    + " bytes") + " for a read of " + p.length);
        }
        if (failure != null) {
            if (data != null) {
                data.release();
                data = null;
            }
            error = NbdError.of(failure, p.flags);
            message = failure.getMessage() != null ? failure.getMessage() : failure.getClass().getSimpleName();
            boolean expected = failure instanceof BlockException || failure instanceof NvmeException;
            // a fast zero that cannot be fast is an answer, not a failure: clients ask to find out
            boolean quiet = error == NbdError.ENOTSUP && p.op == Op.WRITE_ZEROES;
            if (!quiet) {
                warnings.warn("NBD client " + ctx.channel().remoteAddress() + " on export " + export.name() + ": "
                        + p.op + " at " + Long.toUnsignedString(p.offset) + "+" + p.length + " failed with " + error
                        + ": " + message, expected ? null : failure);
            }
        }
        finish(p.op, p.handle, p.offset, p.length, error, message, data);
        pump();
    }

    /**
     * Answers one request (success when {@code error} is null) and counts it; takes ownership of
     * {@code data}, a successful READ's bytes.
     */
    private void finish(Op op, long handle, long offset, long length, NbdError error, String message, ByteBuf data) {
        inFlight--;
        long w = weight(op == Op.READ || op == Op.WRITE, length);
        bytesHeld -= w;
        bytesOnDevice -= w;
        if (op.counted != null) {
            stats.finished(op.counted, op == Op.FLUSH ? 0 : length, error == null ? null : error.name());
        }
        if (!open) {
            if (data != null) {
                data.release();
            }
            return;
        }
        if (!session.structuredReplies()) {
            send(NbdReplies.simple(ctx.alloc(), handle, error));
            if (data != null) {
                send(data);
            }
        } else if (error != null) {
            send(NbdReplies.error(ctx.alloc(), handle, error, error + ": " + message));
        } else if (op == Op.READ) {
            send(NbdReplies.offsetDataHeader(ctx.alloc(), handle, offset, data.readableBytes()));
            send(data);
        } else if (op == Op.BLOCK_STATUS) {
            long extent = Math.min(length, device.size() - offset); // validated: within the export
            send(NbdReplies.blockStatus(ctx.alloc(), handle, Nbd.BASE_ALLOCATION_ID, extent, 0));
        } else {
            send(NbdReplies.none(ctx.alloc(), handle));
        }
    }

    /**
     * Queues part of a reply; the first part of a burst schedules one flush behind the completions
     * already queued on the event loop, so replies finishing together leave in one gathering write
     * (a READ's header and its data, which may be many receive buffers, among them).
     */
    private void send(ByteBuf part) {
        ctx.write(part, ctx.voidPromise());
        if (!flushScheduled) {
            flushScheduled = true;
            ctx.executor().execute(this::flushReplies);
        }
    }

    private void flushReplies() {
        flushScheduled = false;
        ctx.flush();
    }

    /** What a request weighs against the byte bounds: the data a READ or WRITE moves, at most a payload. */
    private long weight(NbdRequest r) {
        return weight(r.type == Nbd.CMD_READ || r.type == Nbd.CMD_WRITE, r.length);
    }

    private long weight(boolean movesData, long length) {
        return movesData ? Math.min(Math.max(length, 0), session.maxPayload()) : 0;
    }

    /** Reads while there is room for more work and nothing asks to stop. */
    private void updateReading() {
        if (ctx == null) {
            return;
        }
        boolean read = open && !stopping && inFlight + waiting.size() < maxInFlight && bytesHeld < maxBytes
                && ctx.channel().isWritable();
        ChannelConfig config = ctx.channel().config();
        if (config.isAutoRead() != read) {
            config.setAutoRead(read);
        }
    }

    /** After DISC or a drain: closes once every request received has been answered and written. */
    private void maybeClose() {
        if (stopping && open && !pumping && !closeRequested && inFlight == 0 && waiting.isEmpty()) {
            closeRequested = true;
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** The channel is gone: drops what never started; what is on the device releases itself on completion. */
    private void closeDown() {
        if (!open) {
            return;
        }
        open = false;
        NbdRequest r;
        while ((r = waiting.poll()) != null) {
            r.release();
        }
        stats.connectionClosed();
        log.debug("NBD client {} closed export {} ({} request(s) still on the device)",
                ctx.channel().remoteAddress(), export.name(), inFlight);
    }

    /** The commands, with the flags valid on each and what the export's counters call them. */
    enum Op {
        /** NBD_CMD_READ. */
        READ(Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_DF, false, ExportStats.Op.READ),
        /** NBD_CMD_WRITE. */
        WRITE(Nbd.CMD_FLAG_FUA, true, ExportStats.Op.WRITE),
        /** NBD_CMD_FLUSH. */
        FLUSH(Nbd.CMD_FLAG_FUA, false, ExportStats.Op.FLUSH),
        /** NBD_CMD_TRIM. */
        TRIM(Nbd.CMD_FLAG_FUA, true, ExportStats.Op.TRIM),
        /** NBD_CMD_CACHE. */
        CACHE(Nbd.CMD_FLAG_FUA, false, ExportStats.Op.CACHE),
        /** NBD_CMD_WRITE_ZEROES. */
        WRITE_ZEROES(Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FAST_ZERO, true, ExportStats.Op.WRITE_ZEROES),
        /** NBD_CMD_BLOCK_STATUS. */
        BLOCK_STATUS(Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_REQ_ONE, false, ExportStats.Op.BLOCK_STATUS),
        /** A command type this server does not know (answered EINVAL, not counted). */
        UNKNOWN(0, false, null);

        /** Command flags valid on this command (FUA is valid on all, when offered). */
        final int flags;
        /** Changes the export: refused on a read-only one. */
        final boolean writes;
        final ExportStats.Op counted;

        Op(int flags, boolean writes, ExportStats.Op counted) {
            this.flags = flags;
            this.writes = writes;
            this.counted = counted;
        }

        static Op of(int type) {
            return switch (type) {
                case Nbd.CMD_READ -> READ;
                case Nbd.CMD_WRITE -> WRITE;
                case Nbd.CMD_FLUSH -> FLUSH;
                case Nbd.CMD_TRIM -> TRIM;
                case Nbd.CMD_CACHE -> CACHE;
                case Nbd.CMD_WRITE_ZEROES -> WRITE_ZEROES;
                case Nbd.CMD_BLOCK_STATUS -> BLOCK_STATUS;
                default -> UNKNOWN;
            };
        }
    }
}
