package io.nvmpath.fabric.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.nvmpath.fabric.nvme.Cqe;
import io.nvmpath.fabric.nvme.Sqe;

import java.util.List;

/**
 * Frames and checks NVMe/TCP PDUs from a byte stream split anywhere.
 *
 * <p>Emits a {@link Pdu} per whole PDU, data sections as retained slices of the received bytes (no
 * copy). On anything malformed it emits one {@link PduException} describing the fatal error, then
 * moves to {@link State#BAD} and discards the rest of the stream: the handler answers with a
 * Terminate Connection Request and closes.
 */
public final class PduDecoder extends ByteToMessageDecoder {
    /** Common header length. */
    public static final int CH_LENGTH = 8;
    private static final int IC_LENGTH = 128;

    /** Where the decoder stands within the stream. */
    enum State {
        /** Waiting for the 8-byte common header of the next PDU. */
        COMMON_HEADER,
        /** Common header checked; waiting for the PDU's remaining PLEN bytes. */
        PDU_BODY,
        /** A fatal error was reported; everything else is dropped. */
        BAD
    }

    private final PduType.Direction receives;
    private final ConnectionParams params;

    private State state = State.COMMON_HEADER;
    private PduType type;
    private int flags;
    private int hlen;
    private int pdo;
    private int plen;

    /**
     * @param receives the direction of PDUs this side accepts (C2H on a host, H2C on a target)
     * @param params the connection's negotiated digests and limits
     */
    public PduDecoder(PduType.Direction receives, ConnectionParams params) {
        this.receives = receives;
        this.params = params;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        try {
            switch (state) {
                case COMMON_HEADER:
                    if (in.readableBytes() < CH_LENGTH) {
                        return;
                    }
                    readCommonHeader(in);
                    state = State.PDU_BODY;
                    // fall through: the body may be here already
                case PDU_BODY:
                    if (in.readableBytes() < plen) {
                        return;
                    }
                    Pdu pdu = readPdu(in, in.readerIndex());
                    in.skipBytes(plen);
                    state = State.COMMON_HEADER;
                    out.add(pdu);
                    return;
                case BAD:
                    in.skipBytes(in.readableBytes());
                    return;
                default:
                    throw new IllegalStateException(state.name());
            }
        } catch (PduException e) {
            state = State.BAD;
            in.skipBytes(in.readableBytes());
            out.add(e);
        }
    }

    private void readCommonHeader(ByteBuf in) throws PduException {
        int r = in.readerIndex();
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
    }

    private Pdu readPdu(ByteBuf in, int r) throws PduException {
        boolean hd = (flags & Pdu.FLAG_HDGST) != 0;
        if (hd) {
            int expected = Digests.crc32c(in, r, hlen);
            int actual = in.getIntLE(r + hlen);
            if (expected != actual) {
                throw new PduException(TermReqStatus.HEADER_DIGEST_ERROR, 0,
                        String.format("%s header digest 0x%08x, computed 0x%08x", type, actual, expected));
            }
        }
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
            case C2H_TERM_REQ:
                return new Pdu.TermReq(type, in.getUnsignedShortLE(r + 8), in.getIntLE(r + 10),
                        in.retainedSlice(r + hlen, plen - hlen));
            case CAPSULE_CMD:
                return new Pdu.CapsuleCmd(Sqe.decode(in, r + CH_LENGTH), dataSlice(in, r));
            case CAPSULE_RESP:
                return new Pdu.CapsuleResp(Cqe.decode(in, r + CH_LENGTH));
            case R2T:
                return new Pdu.R2T(in.getUnsignedShortLE(r + 8), in.getUnsignedShortLE(r + 10),
                        in.getUnsignedIntLE(r + 12), in.getUnsignedIntLE(r + 16));
            case H2C_DATA:
            case C2H_DATA: {
                long datal = in.getUnsignedIntLE(r + 16);
                int actualLength = pdo == 0 ? 0 : plen - pdo - ddLength();
                if (datal != actualLength || datal == 0) {
                    throw bad(16, "%s DATAL %d but the PDU carries %d bytes", type, datal, actualLength);
                }
                int cccid = in.getUnsignedShortLE(r + 8);
                long datao = in.getUnsignedIntLE(r + 12);
                boolean last = (flags & Pdu.FLAG_LAST_PDU) != 0;
                if (type == PduType.H2C_DATA) {
                    return new Pdu.H2CData(cccid, in.getUnsignedShortLE(r + 10), datao, dataSlice(in, r), last);
                }
                boolean success = (flags & Pdu.FLAG_SUCCESS) != 0;
                if (success && !last) {
                    throw bad(1, "C2HData with SUCCESS but not LAST_PDU");
                }
                return new Pdu.C2HData(cccid, datao, dataSlice(in, r), last, success);
            }
            default:
                throw bad(0, "unexpected %s", type);
        }
    }

    private int ddLength() {
        return (flags & Pdu.FLAG_DDGST) != 0 ? Digests.LENGTH : 0;
    }

    /** The data section as a retained slice, after checking its digest. */
    private ByteBuf dataSlice(ByteBuf in, int r) throws PduException {
        if (pdo == 0) {
            return in.alloc().buffer(0, 0);
        }
        int ddLen = ddLength();
        int length = plen - pdo - ddLen;
        if (ddLen != 0) {
            int expected = Digests.crc32c(in, r + pdo, length);
            int actual = in.getIntLE(r + plen - ddLen);
            if (expected != actual) {
                throw new PduException(null, 0,
                        String.format("%s data digest 0x%08x, computed 0x%08x", type, actual, expected));
            }
        }
        return in.retainedSlice(r + pdo, length);
    }

    private PduException bad(int fei, String format, Object... args) {
        return new PduException(TermReqStatus.INVALID_HEADER_FIELD, fei, String.format(format, args));
    }
}
