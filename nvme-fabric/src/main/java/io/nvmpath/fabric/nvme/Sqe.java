package io.nvmpath.fabric.nvme;

import io.netty.buffer.ByteBuf;

/**
 * A 64-byte NVMe Submission Queue Entry, held as its sixteen command dwords.
 *
 * <p>Mutable on purpose: a request owns one SQE for its whole life, and the queue that sends it
 * only stamps the command identifier and the data pointer, so resubmitting on another path costs
 * no copy. Named accessors cover the fields callers need; nobody pokes at byte offsets.
 */
public final class Sqe {
    /** Bytes on the wire. */
    public static final int SIZE = 64;

    /** PSDT = 01b in CDW0 flags: SGLs for the data pointer, which NVMe over Fabrics requires. */
    public static final int FLAGS_PSDT_SGL = 0x40;

    /** SGL identifier of a Data Block descriptor, Offset subtype: data is in the capsule. */
    public static final int SGL_DATA_BLOCK_OFFSET = 0x01;
    /** SGL identifier of a Transport SGL Data Block, transport-specific subtype: R2T/C2HData move it. */
    public static final int SGL_TRANSPORT_DATA_BLOCK = 0x5A;

    private final int[] dw = new int[16];

    public Sqe() {
    }

    /** A command with {@code opcode}, SGL data pointer flag set, identifier zero. */
    public static Sqe of(int opcode) {
        Sqe s = new Sqe();
        s.dw[0] = (opcode & 0xFF) | (FLAGS_PSDT_SGL << 8);
        return s;
    }

    /** Reads 64 bytes at {@code index} (absolute) of {@code buf}. */
    public static Sqe decode(ByteBuf buf, int index) {
        Sqe s = new Sqe();
        for (int i = 0; i < 16; i++) {
            s.dw[i] = buf.getIntLE(index + 4 * i);
        }
        return s;
    }

    /** Writes the 64 bytes at the writer index. */
    public void encode(ByteBuf out) {
        for (int d : dw) {
            out.writeIntLE(d);
        }
    }

    public int opcode() {
        return dw[0] & 0xFF;
    }

    /** CDW0 bits 15:8: FUSE (9:8) and PSDT (15:14). */
    public int flags() {
        return (dw[0] >>> 8) & 0xFF;
    }

    public int cid() {
        return dw[0] >>> 16;
    }

    public Sqe cid(int cid) {
        dw[0] = (dw[0] & 0xFFFF) | ((cid & 0xFFFF) << 16);
        return this;
    }

    /** Fabrics command type (byte 4), meaningful when {@link #opcode()} is the Fabrics opcode. */
    public int fctype() {
        return dw[1] & 0xFF;
    }

    public Sqe fctype(int fctype) {
        dw[1] = fctype & 0xFF;
        return this;
    }

    public int nsid() {
        return dw[1];
    }

    public Sqe nsid(int nsid) {
        dw[1] = nsid;
        return this;
    }

    /** Command dword {@code n} (0..15). */
    public int cdw(int n) {
        return dw[n];
    }

    public Sqe cdw(int n, int value) {
        dw[n] = value;
        return this;
    }

    /** Address field of SGL1 (bytes 24..31). */
    public long sglAddress() {
        return (dw[6] & 0xFFFFFFFFL) | ((long) dw[7] << 32);
    }

    /** Length field of SGL1 (bytes 32..35). */
    public int sglLength() {
        return dw[8];
    }

    /** SGL identifier (byte 39): descriptor type in bits 7:4, subtype in bits 3:0. */
    public int sglIdentifier() {
        return dw[9] >>> 24;
    }

    /** Sets SGL1 to one descriptor. */
    public Sqe sgl(long address, int length, int identifier) {
        dw[6] = (int) address;
        dw[7] = (int) (address >>> 32);
        dw[8] = length;
        dw[9] = (identifier & 0xFF) << 24;
        return this;
    }

    /** Starting LBA of an NVM read/write-style command (CDW10..11). */
    public long slba() {
        return (dw[10] & 0xFFFFFFFFL) | ((long) dw[11] << 32);
    }

    /** Number of logical blocks of an NVM read/write-style command (CDW12 bits 15:0, 0's based, plus one). */
    public int nlb() {
        return (dw[12] & 0xFFFF) + 1;
    }

    @Override
    public String toString() {
        return String.format("Sqe{opc=0x%02x cid=%d nsid=%d cdw10=0x%x}", opcode(), cid(), nsid(), dw[10]);
    }
}
