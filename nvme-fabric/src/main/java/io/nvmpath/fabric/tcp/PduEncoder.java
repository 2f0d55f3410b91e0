package io.nvmpath.fabric.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;

import java.util.List;

/**
 * Writes PDUs as a header buffer followed by the data section as a retained slice of the sender's
 * buffer (never a copy) and, when negotiated, the digests. Data starts at the peer's requested
 * alignment (PDO), padded with zeros.
 */
@ChannelHandler.Sharable
public final class PduEncoder extends MessageToMessageEncoder<Pdu> {
    private final ConnectionParams params;

    public PduEncoder(ConnectionParams params) {
        super(Pdu.class);
        this.params = params;
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Pdu pdu, List<Object> out) {
        PduType type = pdu.type();
        ByteBuf data = pdu instanceof Pdu.DataPdu d ? d.data() : null;
        int dataLen = data == null ? 0 : data.readableBytes();
        boolean digests = !type.digestFree();
        int hdLen = digests && params.headerDigest() ? Digests.LENGTH : 0;
        int ddLen = digests && params.dataDigest() && dataLen > 0 ? Digests.LENGTH : 0;
        int hlen = type.headerLength();
        int pdo;
        if (dataLen == 0 || type == PduType.H2C_TERM_REQ || type == PduType.C2H_TERM_REQ) {
            pdo = 0;
        } else {
            pdo = alignUp(hlen + hdLen, params.txDataAlignment());
            if (pdo > 255) {
                throw new IllegalStateException("PDO " + pdo + " does not fit the common header");
            }
        }
        int headerEnd = pdo != 0 ? pdo : hlen + hdLen;
        long plen = (long) headerEnd + dataLen + ddLen;
        int flags = (hdLen != 0 ? Pdu.FLAG_HDGST : 0) | (ddLen != 0 ? Pdu.FLAG_DDGST : 0);

        ByteBuf h = ctx.alloc().buffer(headerEnd);
        try {
            h.writeByte(type.code());
            int flagsIndex = h.writerIndex();
            h.writeByte(flags);
            h.writeByte(hlen);
            h.writeByte(pdo);
            h.writeIntLE((int) plen);
            int extraFlags = writePsh(pdu, h, dataLen);
            h.setByte(flagsIndex, flags | extraFlags);
            if (h.writerIndex() != hlen) {
                throw new IllegalStateException(type + " header is " + h.writerIndex() + " bytes, HLEN " + hlen);
            }
            if (hdLen != 0) {
                h.writeIntLE(Digests.crc32c(h, 0, hlen));
            }
            h.writeZero(headerEnd - h.writerIndex());
            out.add(h);
            h = null;
        } finally {
            if (h != null) {
                h.release();
            }
        }
        if (dataLen > 0) {
            out.add(data.retainedSlice());
            if (ddLen != 0) {
                ByteBuf dd = ctx.alloc().buffer(Digests.LENGTH);
                dd.writeIntLE(Digests.crc32c(data, data.readerIndex(), dataLen));
                out.add(dd);
            }
        }
    }

    /** Writes the PDU-specific header; returns flags that depend on the PDU (LAST_PDU, SUCCESS). */
    private static int writePsh(Pdu pdu, ByteBuf h, int dataLen) {
        switch (pdu) {
            case Pdu.ICReq r -> {
                h.writeShortLE(r.pfv());
                h.writeByte(r.hpda());
                h.writeByte((r.headerDigest() ? 1 : 0) | (r.dataDigest() ? 2 : 0));
                h.writeIntLE((int) r.maxr2t());
                h.writeZero(112);
                return 0;
            }
            case Pdu.ICResp r -> {
                h.writeShortLE(r.pfv());
                h.writeByte(r.cpda());
                h.writeByte((r.headerDigest() ? 1 : 0) | (r.dataDigest() ? 2 : 0));
                h.writeIntLE((int) r.maxh2cdata());
                h.writeZero(112);
                return 0;
            }
            case Pdu.TermReq t -> {
                h.writeShortLE(t.fes());
                h.writeIntLE(t.fei());
                h.writeZero(10);
                return 0;
            }
            case Pdu.CapsuleCmd c -> {
                c.sqe().encode(h);
                return 0;
            }
            case Pdu.CapsuleResp c -> {
                c.cqe().encode(h);
                return 0;
            }
            case Pdu.H2CData d -> {
                writeDataPsh(h, d.cccid(), d.ttag(), d.datao(), dataLen);
                return d.last() ? Pdu.FLAG_LAST_PDU : 0;
            }
            case Pdu.C2HData d -> {
                writeDataPsh(h, d.cccid(), 0, d.datao(), dataLen);
                return (d.last() ? Pdu.FLAG_LAST_PDU : 0) | (d.success() ? Pdu.FLAG_SUCCESS : 0);
            }
            case Pdu.R2T r -> {
                writeDataPsh(h, r.cccid(), r.ttag(), r.r2to(), (int) r.r2tl());
                return 0;
            }
        }
    }

    private static void writeDataPsh(ByteBuf h, int cccid, int ttag, long offset, int length) {
        h.writeShortLE(cccid);
        h.writeShortLE(ttag);
        h.writeIntLE((int) offset);
        h.writeIntLE(length);
        h.writeZero(4);
    }

    private static int alignUp(int value, int alignment) {
        return (value + alignment - 1) / alignment * alignment;
    }
}
