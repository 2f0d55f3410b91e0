package io.nvmpath.fabric.nvme;

import io.netty.buffer.ByteBuf;

/**
 * A 16-byte NVMe Completion Queue Entry.
 *
 * @param dw0 command-specific result (e.g. the CNTLID of an admin Connect)
 * @param dw1 command-specific result, second dword
 * @param sqhd submission queue head pointer
 * @param sqid submission queue identifier
 * @param cid identifier of the command this completes
 * @param status the status field as {@link Status} encodes it (phase bit stripped)
 */
public record Cqe(int dw0, int dw1, int sqhd, int sqid, int cid, int status) {
    /** Bytes on the wire. */
    public static final int SIZE = 16;

    /** Reads 16 bytes at absolute {@code index}. */
    public static Cqe decode(ByteBuf buf, int index) {
        int statusField = buf.getUnsignedShortLE(index + 14);
        return new Cqe(buf.getIntLE(index), buf.getIntLE(index + 4), buf.getUnsignedShortLE(index + 8),
                buf.getUnsignedShortLE(index + 10), buf.getUnsignedShortLE(index + 12), statusField >>> 1);
    }

    /** Writes 16 bytes at the writer index (phase bit zero: fabrics have no phase). */
    public void encode(ByteBuf out) {
        out.writeIntLE(dw0);
        out.writeIntLE(dw1);
        out.writeShortLE(sqhd);
        out.writeShortLE(sqid);
        out.writeShortLE(cid);
        out.writeShortLE((status << 1) & 0xFFFF);
    }

    public boolean ok() {
        return Status.isSuccess(status);
    }
}
