package io.nvmpath.fabric.nvme;

import io.netty.buffer.ByteBuf;

/**
 * The fields of the Identify Namespace data structure (CNS 00h) this project uses.
 *
 * @param nsze namespace size in logical blocks
 * @param nmic bit 0: the namespace may be attached to several controllers
 * @param anagrpid the ANA group the namespace belongs to
 * @param nguid namespace globally unique identifier (16 bytes, zero if not reported)
 * @param eui64 IEEE extended unique identifier (8 bytes, zero if not reported)
 * @param lbads log2 of the logical block size of the format in use
 */
public record IdentifyNamespace(long nsze, long ncap, long nuse, int nsfeat, int nlbaf, int flbas, int dlfeat,
                                int nmic, int npwg, int npwa, int npdg, int npda, int nows, long anagrpid,
                                int nsattr, byte[] nguid, byte[] eui64, int lbads, int metadataSize) {
    public static final int SIZE = 4096;

    /** NSFEAT bit 4 (OPTPERF): NPWG, NPWA, NPDG, NPDA and NOWS are valid. */
    public static final int NSFEAT_OPTPERF = 1 << 4;

    public static IdentifyNamespace parse(ByteBuf b) {
        Wire.require(b, SIZE, "Identify Namespace");
        int r = b.readerIndex();
        int flbas = b.getUnsignedByte(r + 26);
        int format = (flbas & 0xF) | ((flbas >> 1) & 0x30);
        int lbaf = r + 128 + 4 * format;
        return new IdentifyNamespace(
                b.getLongLE(r), b.getLongLE(r + 8), b.getLongLE(r + 16), b.getUnsignedByte(r + 24),
                b.getUnsignedByte(r + 25), flbas, b.getUnsignedByte(r + 33), b.getUnsignedByte(r + 30),
                b.getUnsignedShortLE(r + 64), b.getUnsignedShortLE(r + 66), b.getUnsignedShortLE(r + 68),
                b.getUnsignedShortLE(r + 70), b.getUnsignedShortLE(r + 72), b.getUnsignedIntLE(r + 92),
                b.getUnsignedByte(r + 99), Wire.bytes(b, r + 104, 16), Wire.bytes(b, r + 120, 8),
                b.getUnsignedByte(lbaf + 2), b.getUnsignedShortLE(lbaf));
    }

    /** Logical block size in bytes. */
    public int lbaSize() {
        return 1 << lbads;
    }

    /** Capacity in bytes. */
    public long sizeBytes() {
        return nsze << lbads;
    }

    /** The namespace may be shared by several controllers (NMIC bit 0). */
    public boolean shared() {
        return (nmic & 1) != 0;
    }

    /** An inactive NSID answers Identify with an all-zero structure. */
    public boolean active() {
        return nsze != 0;
    }
}
