package io.nvmpath.fabric.nvme;

import io.netty.buffer.ByteBuf;

/**
 * The fields of the Identify Controller data structure (CNS 01h) this project uses.
 *
 * @param cmic bit 1 multi-controller subsystem, bit 3 ANA reporting
 * @param mdts maximum data transfer size as a power of two of the minimum page size; 0 = no limit
 * @param oaes optional asynchronous events supported (bit 8 namespace attribute, 11 ANA change, 31 discovery)
 * @param ctratt controller attributes (bit 2 traffic-based keep-alive)
 * @param kas keep-alive granularity in 100 ms units
 * @param crdt command retry delay times 1..3, in 100 ms units (bytes 128..133)
 * @param anatt ANA transition time in seconds
 * @param ioccsz I/O queue command capsule size in 16-byte units (SQE included)
 * @param oncs optional NVM commands supported ({@link #ONCS_DSM}, {@link #ONCS_WRITE_ZEROES}...)
 * @param ciu Controller Instance Uniquifier (byte 135): non-zero, changes each time CSTS.RDY is set;
 *            0 from a controller that does not report it (TP8028)
 * @param cirn Controller Instance Random Number (bytes 136..143), regenerated each time CSTS.RDY is set
 * @param cqt Command Quiesce Time (bytes 386..387): milliseconds the controller may still need to
 *            quiesce commands after a keep-alive timeout or other loss of the host; 0 = not reported (TP4129)
 * @param ccrl Cross-Controller Reset Limit (byte 1807): how many Cross-Controller Resets this
 *             controller may have in progress at once; 0 = it does not support the command (TP8028)
 */
public record IdentifyController(int vid, int ssvid, String serial, String model, String firmware, int cmic,
                                 int mdts, int cntlid, int version, long oaes, long ctratt, int crdt1, int crdt2,
                                 int crdt3, int aerl, int lpa, int kas, int anatt, int anacap, long anagrpmax,
                                 long nanagrpid, int sqes, int cqes, int maxcmd, long nn, int oncs, int vwc,
                                 long sgls, String subnqn, long ioccsz, long iorcsz, int icdoff, int fcatt,
                                 int msdbd, int ciu, long cirn, int cqt, int ccrl) {
    public static final int SIZE = 4096;

    /** ONCS bit 2: Dataset Management (deallocate: what NBD TRIM becomes). */
    public static final int ONCS_DSM = 1 << 2;
    /** ONCS bit 3: Write Zeroes. */
    public static final int ONCS_WRITE_ZEROES = 1 << 3;

    /** Byte offsets of the Rapid Path Failure Recovery fields (TP4129, TP8028), for the target's encoder. */
    public static final int OFFSET_CIU = 135;
    public static final int OFFSET_CIRN = 136;
    public static final int OFFSET_CQT = 386;
    public static final int OFFSET_CCRL = 1807;

    public static IdentifyController parse(ByteBuf b) {
        Wire.require(b, SIZE, "Identify Controller");
        int r = b.readerIndex();
        return new IdentifyController(
                b.getUnsignedShortLE(r), b.getUnsignedShortLE(r + 2),
                Wire.ascii(b, r + 4, 20), Wire.ascii(b, r + 24, 40), Wire.ascii(b, r + 64, 8),
                b.getUnsignedByte(r + 76), b.getUnsignedByte(r + 77), b.getUnsignedShortLE(r + 78),
                b.getIntLE(r + 80), b.getUnsignedIntLE(r + 92), b.getUnsignedIntLE(r + 96),
                b.getUnsignedShortLE(r + 128), b.getUnsignedShortLE(r + 130), b.getUnsignedShortLE(r + 132),
                b.getUnsignedByte(r + 259), b.getUnsignedByte(r + 261), b.getUnsignedShortLE(r + 320),
                b.getUnsignedByte(r + 342), b.getUnsignedByte(r + 343), b.getUnsignedIntLE(r + 344),
                b.getUnsignedIntLE(r + 348), b.getUnsignedByte(r + 512), b.getUnsignedByte(r + 513),
                b.getUnsignedShortLE(r + 514), b.getUnsignedIntLE(r + 516), b.getUnsignedShortLE(r + 520),
                b.getUnsignedByte(r + 525), b.getUnsignedIntLE(r + 536), Wire.ascii(b, r + 768, 256),
                b.getUnsignedIntLE(r + 1792), b.getUnsignedIntLE(r + 1796), b.getUnsignedShortLE(r + 1800),
                b.getUnsignedByte(r + 1802), b.getUnsignedByte(r + 1803),
                b.getUnsignedByte(r + OFFSET_CIU), b.getLongLE(r + OFFSET_CIRN), b.getUnsignedShortLE(r + OFFSET_CQT),
                b.getUnsignedByte(r + OFFSET_CCRL));
    }

    /** The subsystem may have several controllers (CMIC bit 1). */
    public boolean multiController() {
        return (cmic & 0x2) != 0;
    }

    /** The controller reports Asymmetric Namespace Access (CMIC bit 3). */
    public boolean anaReporting() {
        return (cmic & 0x8) != 0;
    }

    /** Traffic-based keep-alive supported (CTRATT bit 2): any completion counts as keep-alive. */
    public boolean trafficBasedKeepAlive() {
        return (ctratt & 0x4) != 0;
    }

    /**
     * The controller accepts Cross-Controller Reset (admin 38h): CCRL is not zero. No CTRATT or OACS
     * bit says so (libnvme 3.2 defines none); the limit itself is the indication.
     */
    public boolean crossControllerReset() {
        return ccrl != 0;
    }

    /** Command Retry Delay for a CRD index (1..3) in milliseconds; 0 for index 0. */
    public long retryDelayMillis(int crd) {
        return switch (crd) {
            case 1 -> crdt1 * 100L;
            case 2 -> crdt2 * 100L;
            case 3 -> crdt3 * 100L;
            default -> 0;
        };
    }

    /** Version as "major.minor.tertiary". */
    public String versionString() {
        return (version >>> 16) + "." + ((version >>> 8) & 0xFF) + "." + (version & 0xFF);
    }
}
