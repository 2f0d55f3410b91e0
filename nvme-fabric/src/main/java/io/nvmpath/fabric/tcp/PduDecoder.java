package io.nvmpath.fabric.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.nvmpath.fabric.nvme.Cqe;
import io.nvmpath.fabric.nvme.Sqe;

/**
 * Frames and checks NVMe/TCP PDUs from a byte stream split anywhere, without copying data.
 *
 * <p>A PDU's header region (common header, PDU-specific header, header digest, padding up to PDO) is
 * parsed where it lies in the received buffer, or gathered into a small buffer of this decoder's own
 * when a read ends inside it (at most 259 bytes). The data section is never gathered: each read
 * contributes a retained slice of the socket's own buffer, and a {@link Pdu} is emitted when its last
 * byte (and data digest) has arrived, its data being that one slice or a composite of the slices.
 * A slice pins only the read buffer it comes from, so no later read is copied because of it.
 *
 * <p>On anything malformed it emits one {@link PduException} describing the fatal error, then moves
 * to {@link State#BAD} and discards the rest of the stream: the handler answers with a Terminate
 * Connection Request and closes.
 */
public final class PduDecoder extends ChannelInboundHandlerAdapter {
    /** Common header length. */
    public static final int CH_LENGTH = 8;
    private static final int IC_LENGTH = 128;
    /** The longest header region: PDO (one byte) or a data-free PDU's HLEN plus header digest. */
    private static final int MAX_HEAD = 255 + Digests.LENGTH;

    /** Where the decoder stands within the stream. */
    enum State {
        /** Waiting for the header region of the next PDU (its common header first). */
        HEADER,
        /** Header checked; receiving the data section's remaining bytes as slices. */
        DATA,
        /** Data whole; waiting for the 4-byte data digest. */
        DATA_DIGEST,
        /** A fatal error was reported; everything else is dropped. */
        BAD
    }

    private final PduType.Direction receives;
    private final ConnectionParams params;

    private State state = State.HEADER;
    /**
     * Header (or data digest) bytes gathered across reads; empty when the header is parsed in place.
     * A plain array of the heap, not the allocator's: nothing to release, whatever ends the channel.
     */
    private final ByteBuf head = Unpooled.wrappedBuffer(new byte[MAX_HEAD]).clear();
    private boolean commonHeaderRead;
    private PduType type;
    private int flags;
    private int hlen;
    private int pdo;
    private int plen;
    private int headLength;
    private int dataLength;

    /** The data PDU whose data is arriving: its header fields, data so far, bytes still to come. */
    private Sqe pendingSqe;
    private int pendingCccid;
    private int pendingTtag;
    private long pendingDatao;
    private ByteBuf data;
    private int dataRemaining;
    private boolean emitted;

    /**
     * @param receives the direction of PDUs this side accepts (C2H on a host, H2C on a target)
     * @param params the connection's negotiated digests and limits
     */
    public PduDecoder(PduType.Direction receives, ConnectionParams params) {
        this.receives = receives;
        this.params = params;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releasePending();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        releasePending();
        super.channelInactive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ctx.fireChannelRead(msg);
            return;
        }
        try {
            while (in.isReadable() && !ctx.isRemoved()) {
                switch (state) {
                    case HEADER -> readHeader(ctx, in);
                    case DATA -> readData(ctx, in);
                    case DATA_DIGEST -> readDataDigest(ctx, in);
                    case BAD -> in.skipBytes(in.readableBytes());
                    default -> throw new IllegalStateException(state.name());
                }
            }
        } catch (PduException e) {
            state = State.BAD;
            releasePending();
            in.skipBytes(in.readableBytes());
            emitted = true;
            ctx.fireChannelRead(e);
        } finally {
            in.release();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!emitted && !ctx.channel().config().isAutoRead()) {
            ctx.read();
        }
        emitted = false;
        ctx.fireChannelReadComplete();
    }

    /** Parses the header region in place when it is all in {@code in}, else gathers it into {@link #head}. */
    private void readHeader(ChannelHandlerContext ctx, ByteBuf in) throws PduException {
        if (!head.isReadable() && in.readableBytes() >= CH_LENGTH) {
            int r = in.readerIndex();
            if (!commonHeaderRead) {
                readCommonHeader(in, r);
                commonHeaderRead = true;
            }
            if (in.readableBytes() >= headLength) {
                onHeader(ctx, in, r);
                in.skipBytes(headLength);
                return;
            }
        }
        int need = commonHeaderRead ? headLength : CH_LENGTH;
        int n = Math.min(need - head.readableBytes(), in.readableBytes());
        head.writeBytes(in, n);
        if (head.readableBytes() < need) {
            return;
        }
        if (!commonHeaderRead) {
            readCommonHeader(head, head.readerIndex());
            commonHeaderRead = true;
            if (head.readableBytes() < headLength) {
                return;
            }
        }
        onHeader(ctx, head, head.readerIndex());
        head.clear();
    }

    /** A whole header region at {@code r}: emits a PDU without data, or starts receiving the data. */
    private void onHeader(ChannelHandlerContext ctx, ByteBuf buf, int r) throws PduException {
        commonHeaderRead = false;
        if ((flags & Pdu.FLAG_HDGST) != 0) {
            int expected = Digests.crc32c(buf, r, hlen);
            int actual = buf.getIntLE(r + hlen);
            if (expected != actual) {
                throw new PduException(TermReqStatus.HEADER_DIGEST_ERROR, 0,
                        String.format("%s header digest 0x%08x, computed 0x%08x", type, actual, expected));
            }
        }
        if (!type.mayCarryData() || pdo == 0) {
            emit(ctx, headerOnlyPdu(ctx, buf, r));
            return;
        }
        switch (type) {
            case CAPSULE_CMD -> pendingSqe = Sqe.decode(buf, r + CH_LENGTH);
            case H2C_DATA, C2H_DATA -> {
                long datal = buf.getUnsignedIntLE(r + 16);
                if (datal != dataLength || datal == 0) {
                    throw bad(16, "%s DATAL %d but the PDU carries %d bytes", type, datal, dataLength);
                }
                pendingCccid = buf.getUnsignedShortLE(r + 8);
                pendingTtag = buf.getUnsignedShortLE(r + 10);
                pendingDatao = buf.getUnsignedIntLE(r + 12);
                if (type == PduType.C2H_DATA && (flags & Pdu.FLAG_SUCCESS) != 0 && (flags & Pdu.FLAG_LAST_PDU) == 0) {
                    throw bad(1, "C2HData with SUCCESS but not LAST_PDU");
                }
            }
            default -> throw bad(0, "unexpected %s", type);
        }
        dataRemaining = dataLength;
        state = dataLength > 0 ? State.DATA : ddLength() > 0 ? State.DATA_DIGEST : State.HEADER;
        if (state == State.HEADER) {
            data = ctx.alloc().buffer(0, 0);
            emit(ctx, dataPdu());
        }
    }

    /** Takes what this read holds of the data section as a retained slice of the read's own buffer. */
    private void readData(ChannelHandlerContext ctx, ByteBuf in) throws PduException {
        int n = Math.min(dataRemaining, in.readableBytes());
        ByteBuf slice = in.readRetainedSlice(n);
        if (data == null) {
            data = slice;
        } else {
            CompositeByteBuf composite;
            if (data instanceof CompositeByteBuf c) {
                composite = c;
            } else {
                composite = ctx.alloc().compositeBuffer(Integer.MAX_VALUE);
                composite.addComponent(true, data);
                data = composite;
            }
            composite.addComponent(true, slice);
        }
        dataRemaining -= n;
        if (dataRemaining == 0) {
            if (ddLength() > 0) {
                state = State.DATA_DIGEST;
            } else {
                state = State.HEADER;
                emit(ctx, dataPdu());
            }
        }
    }

    private void readDataDigest(ChannelHandlerContext ctx, ByteBuf in) throws PduException {
        int n = Math.min(Digests.LENGTH - head.readableBytes(), in.readableBytes());
        head.writeBytes(in, n);
        if (head.readableBytes() < Digests.LENGTH) {
            return;
        }
        int actual = head.getIntLE(head.readerIndex());
        head.clear();
        if (data == null) {
            data = ctx.alloc().buffer(0, 0);
        }
        int expected = Digests.crc32c(data, data.readerIndex(), data.readableBytes());
        if (expected != actual) {
            throw new PduException(null, 0,
                    String.format("%s data digest 0x%08x, computed 0x%08x", type, actual, expected));
        }
        state = State.HEADER;
        emit(ctx, dataPdu());
    }

    /** The data PDU now whole; hands its data on (this decoder no longer owns it). */
    private Pdu dataPdu() {
        ByteBuf d = data;
        data = null;
        boolean last = (flags & Pdu.FLAG_LAST_PDU) != 0;
        return switch (type) {
            case CAPSULE_CMD -> {
                Sqe sqe = pendingSqe;
                pendingSqe = null;
                yield new Pdu.CapsuleCmd(sqe, d);
            }
            case H2C_DATA -> new Pdu.H2CData(pendingCccid, pendingTtag, pendingDatao, d, last);
            case C2H_DATA -> new Pdu.C2HData(pendingCccid, pendingDatao, d, last, (flags & Pdu.FLAG_SUCCESS) != 0);
            default -> throw new IllegalStateException(type.name());
        };
    }

    private void emit(ChannelHandlerContext ctx, Pdu pdu) {
        emitted = true;
        ctx.fireChannelRead(pdu);
    }

    private void readCommonHeader(ByteBuf in, int r) throws PduException {
        int code = in.getUnsignedByte(r);
        type = PduType.fromCode(code);
        if (type == null) {
            throw bad(0, "unknown PDU type 0x%02x", code);
        }
        if (type.direction() != receives) {
            throw bad(0, "%s PDU sent the wrong way", type);
        }
        flags = in.getUnsignedByte(r + 1);
        hlen = in.getUnsignedByte(r + 2);
        pdo = in.getUnsignedByte(r + 3);
        long plenField = in.getUnsignedIntLE(r + 4);
        if (hlen != type.headerLength()) {
            throw bad(2, "%s with HLEN %d, expected %d", type, hlen, type.headerLength());
        }
        boolean hd = (flags & Pdu.FLAG_HDGST) != 0;
        boolean dd = (flags & Pdu.FLAG_DDGST) != 0;
        if (type.digestFree()) {
            if (hd || dd) {
                throw bad(1, "%s must not carry digests (flags 0x%02x)", type, flags);
            }
        } else {
            if (hd != params.headerDigest()) {
                throw bad(1, "%s header digest flag %s but digests are %s", type, hd,
                        params.headerDigest() ? "on" : "off");
            }
            if (dd && !params.dataDigest()) {
                throw bad(1, "%s carries a data digest that was not negotiated", type);
            }
        }
        int hdLen = hd ? Digests.LENGTH : 0;
        int ddLen = dd ? Digests.LENGTH : 0;
        int maxPlen = 255 + Digests.LENGTH + params.maxRxData() + Digests.LENGTH;
        if (plenField < hlen + hdLen || plenField > maxPlen) {
            throw bad(4, "%s with PLEN %d (HLEN %d, limit %d)", type, plenField, hlen, maxPlen);
        }
        plen = (int) plenField;
        if (type == PduType.IC_REQ || type == PduType.IC_RESP) {
            if (plen != IC_LENGTH || pdo != 0) {
                throw bad(plen != IC_LENGTH ? 4 : 3, "%s with PLEN %d PDO %d", type, plen, pdo);
            }
        } else if (type == PduType.H2C_TERM_REQ || type == PduType.C2H_TERM_REQ) {
            if (plen - hlen > Pdu.TermReq.MAX_DATA) {
                throw bad(4, "%s with PLEN %d", type, plen);
            }
        } else if (!type.mayCarryData() || pdo == 0) {
            if (pdo != 0) {
                throw bad(3, "%s carries no data but has PDO %d", type, pdo);
            }
            if (ddLen != 0 || plen != hlen + hdLen) {
                throw bad(4, "%s without data has PLEN %d, expected %d", type, plen, hlen + hdLen);
            }
        } else {
            if (pdo < hlen + hdLen) {
                throw bad(3, "%s PDO %d overlaps the header (HLEN %d + digest %d)", type, pdo, hlen, hdLen);
            }
            if (pdo > plen - ddLen) {
                throw bad(3, "%s PDO %d past PLEN %d", type, pdo, plen);
            }
            if (params.dataDigest() && !dd && plen - pdo > 0) {
                throw bad(1, "%s lacks the negotiated data digest", type);
            }
        }
        dataLength = type.mayCarryData() && pdo != 0 ? plen - pdo - ddLen : 0;
        headLength = type.mayCarryData() && pdo != 0 ? pdo : plen;
    }
    /** A PDU whose header region is all of it (no data section, or a Terminate request's few bytes). */
    private Pdu headerOnlyPdu(ChannelHandlerContext ctx, ByteBuf in, int r) throws PduException {
        switch (type) {
            case IC_REQ: {
                int dgst = in.getUnsignedByte(r + 11);
                return new Pdu.ICReq(in.getUnsignedShortLE(r + 8), in.getUnsignedByte(r + 10),
                        (dgst & 1) != 0, (dgst & 2) != 0, in.getUnsignedIntLE(r + 12));
            }
            case IC_RESP: {
                int dgst = in.getUnsignedByte(r + 11);
                return new Pdu.ICResp(in.getUnsignedShortLE(r + 8), in.getUnsignedByte(r + 10),
                        (dgst & 1) != 0, (dgst & 2) != 0, in.getUnsignedIntLE(r + 12));
            }
            case H2C_TERM_REQ:
            case C2H_TERM_REQ: {
                // a copy: at most 152 bytes, and the header region may be this decoder's own buffer
                ByteBuf d = ctx.alloc().buffer(plen - hlen);
                d.writeBytes(in, r + hlen, plen - hlen);
                return new Pdu.TermReq(type, in.getUnsignedShortLE(r + 8), in.getIntLE(r + 10), d);
            }
            case CAPSULE_CMD:
                return new Pdu.CapsuleCmd(Sqe.decode(in, r + CH_LENGTH), ctx.alloc().buffer(0, 0));
            case CAPSULE_RESP:
                return new Pdu.CapsuleResp(Cqe.decode(in, r + CH_LENGTH));
            case R2T:
                return new Pdu.R2T(in.getUnsignedShortLE(r + 8), in.getUnsignedShortLE(r + 10),
                        in.getUnsignedIntLE(r + 12), in.getUnsignedIntLE(r + 16));
            case H2C_DATA:
            case C2H_DATA:
                throw bad(16, "%s DATAL %d but the PDU carries no data", type, in.getUnsignedIntLE(r + 16));
            default:
                throw bad(0, "unexpected %s", type);
        }
    }

    private int ddLength() {
        return (flags & Pdu.FLAG_DDGST) != 0 ? Digests.LENGTH : 0;
    }

    private void releasePending() {
        if (data != null) {
            data.release();
            data = null;
        }
        pendingSqe = null;
        head.clear();
        commonHeaderRead = false;
    }

    private PduException bad(int fei, String format, Object... args) {
        return new PduException(TermReqStatus.INVALID_HEADER_FIELD, fei, String.format(format, args));
    }
}
