package io.nvmpath.server.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;

/**
 * Frames transmission-phase requests from a byte stream split anywhere, into {@link NbdRequest}s.
 *
 * <p>A WRITE's payload is emitted once whole, as a retained slice of the received bytes: no copy
 * (payloads that span reads are joined by a composite cumulation, still without copying). A WRITE
 * payload larger than the connection's maximum payload, or sent to a read-only export, is read
 * and dropped as it arrives, so the stream stays in sync and the handler answers that request
 * alone with an error. Only a bad stream ends the connection: a wrong request magic, or a WRITE
 * length beyond any sane bound ({@code maxDiscard}), which could not be drained in reasonable time.
 */
final class NbdRequestDecoder extends ByteToMessageDecoder {
    private static final Logger log = LoggerFactory.getLogger(NbdRequestDecoder.class);

    /** Where the decoder stands within the stream. */
    enum State {
        /** Waiting for the 28-byte header of the next request. */
        HEADER,
        /** A WRITE header was read; waiting for its whole payload, kept as one slice. */
        PAYLOAD,
        /** A WRITE payload being dropped as it arrives; its request was already passed on. */
        DISCARD,
        /** NBD_CMD_DISC was received: the client must send nothing more; anything that comes is dropped. */
        DISCONNECTED,
        /** Bad stream: the connection is closing; everything is dropped. */
        BAD
    }

    private final int maxPayload;
    private final long maxDiscard;
    private final boolean keepWrites;

    private State state = State.HEADER;
    private int flags;
    private int type;
    private long handle;
    private long offset;
    private long length;
    private long discardRemaining;

    /**
     * @param maxPayload the largest WRITE payload kept and passed on
     * @param maxDiscard the largest WRITE payload drained when not kept; a longer one closes the connection
     * @param keepWrites false for a read-only export: WRITE payloads are drained, never buffered
     */
    NbdRequestDecoder(int maxPayload, long maxDiscard, boolean keepWrites) {
        this.maxPayload = maxPayload;
        this.maxDiscard = Math.max(maxDiscard, maxPayload);
        this.keepWrites = keepWrites;
        setCumulator(COMPOSITE_CUMULATOR);
    }

    @Override
    @SuppressWarnings("fallthrough")
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        switch (state) {
            case HEADER:
                if (in.readableBytes() < Nbd.REQUEST_LENGTH) {
                    return;
                }
                int r = in.readerIndex();
                int magic = in.getInt(r);
                if (magic != Nbd.REQUEST_MAGIC) {
                    bad(ctx, in, String.format("bad request magic 0x%08x", magic));
                    return;
                }
                flags = in.getUnsignedShort(r + 4);
                type = in.getUnsignedShort(r + 6);
                handle = in.getLong(r + 8);
                offset = in.getLong(r + 16);
                length = in.getUnsignedInt(r + 24);
                in.skipBytes(Nbd.REQUEST_LENGTH);
                if (type != Nbd.CMD_WRITE) {
                    if (type == Nbd.CMD_DISC) {
                        state = State.DISCONNECTED;
                    }
                    out.add(new NbdRequest(flags, type, handle, offset, length, null, false));
                    return;
                }
                if (length > maxDiscard) {
                    bad(ctx, in, "WRITE of " + length + " bytes, beyond the " + maxDiscard + "-byte bound");
                    return;
                }
                if (length > maxPayload || !keepWrites) {
                    out.add(new NbdRequest(flags, type, handle, offset, length, null, true));
                    discardRemaining = length;
                    state = length == 0 ? State.HEADER : State.DISCARD;
                    return;
                }
                state = State.PAYLOAD;
                // fall through: the payload may be here already
            case PAYLOAD:
                if (in.readableBytes() < length) {
                    return;
                }
                ByteBuf payload = in.readRetainedSlice((int) length);
                state = State.HEADER;
                out.add(new NbdRequest(flags, type, handle, offset, length, payload, false));
                return;
            case DISCARD: {
                int n = (int) Math.min(discardRemaining, in.readableBytes());
                in.skipBytes(n);
                discardRemaining -= n;
                if (discardRemaining == 0) {
                    state = State.HEADER;
                }
                return;
            }
            case DISCONNECTED:
            case BAD:
                in.skipBytes(in.readableBytes());
                return;
            default:
                throw new IllegalStateException(state.name());
        }
    }

    private void bad(ChannelHandlerContext ctx, ByteBuf in, String why) {
        state = State.BAD;
        in.skipBytes(in.readableBytes());
        log.warn("NBD client {}: {}; closing the connection", ctx.channel().remoteAddress(), why);
        ctx.close();
    }
}
