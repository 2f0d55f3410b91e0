package io.nvmpath.fabric.host;

import io.netty.buffer.ByteBuf;
import io.nvmpath.fabric.nvme.CrossControllerReset;
import io.nvmpath.fabric.nvme.CrossControllerResetLog;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Sqe;

import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * Builds the commands this host sends, each field named after the specification. Data buffers
 * passed in stay owned by the caller.
 */
public final class Commands {
    /** Bytes of the Connect command's data. */
    public static final int CONNECT_DATA_SIZE = 1024;
    /** Identify data structures are one 4 KiB page. */
    public static final int IDENTIFY_SIZE = 4096;

    private Commands() {
    }

    // ---- Fabrics ------------------------------------------------------------------------------

    /**
     * Fabrics Connect: RECFMT 0, QID, SQSIZE (0's based), CATTR 0, KATO in ms; data in the capsule.
     *
     * @param data a 1024-byte buffer from {@link #connectData}
     */
    public static NvmeRequest connect(int qid, int sqsize0, long katoMillis, ByteBuf data) {
        return connect(qid, sqsize0, 0, katoMillis, data);
    }

    /** Connect carrying CATTR (bit 2: disable SQ flow control, so the controller may use C2HData SUCCESS). */
    public static NvmeRequest connect(int qid, int sqsize0, int cattr, long katoMillis, ByteBuf data) {
        Sqe s = Sqe.of(Opcodes.FABRICS).fctype(Opcodes.FCTYPE_CONNECT)
                .cdw(10, qid << 16)
                .cdw(11, (sqsize0 & 0xFFFF) | ((cattr & 0xFF) << 16))
                .cdw(12, (int) katoMillis);
        return NvmeRequest.write(s, data);
    }

    /** Connect data: HOSTID, CNTLID (FFFFh on the admin queue: any controller), SUBNQN, HOSTNQN. */
    public static void connectData(ByteBuf out, UUID hostId, int cntlid, String subnqn, String hostnqn) {
        int start = out.writerIndex();
        out.writeZero(CONNECT_DATA_SIZE);
        out.setLong(start, hostId.getMostSignificantBits());
        out.setLong(start + 8, hostId.getLeastSignificantBits());
        out.setShortLE(start + 16, cntlid);
        putNqn(out, start + 256, subnqn);
        putNqn(out, start + 512, hostnqn);
    }

    private static void putNqn(ByteBuf out, int index, String nqn) {
        byte[] b = nqn.getBytes(StandardCharsets.UTF_8);
        if (b.length > 223) {
            throw new IllegalArgumentException("NQN longer than 223 bytes: " + nqn);
        }
        out.setBytes(index, b);
    }

    /**
     * Fabrics Authentication Send ({@code struct nvmf_auth_send_command}): CDW10 byte 1 SPSP0, byte 2
     * SPSP1, byte 3 SECP (the reserved byte first: SECP is the top byte), CDW11 the transfer length TL;
     * the message in the data buffer.
     */
    public static NvmeRequest authSend(ByteBuf message) {
        return NvmeRequest.write(Sqe.of(Opcodes.FABRICS).fctype(Opcodes.FCTYPE_AUTH_SEND)
                .cdw(10, authCdw10()).cdw(11, message.readableBytes()), message);
    }

    /** Fabrics Authentication Receive: CDW10 as {@link #authSend}, CDW11 the allocation length AL. */
    public static NvmeRequest authReceive(int allocationLength) {
        return NvmeRequest.read(Sqe.of(Opcodes.FABRICS).fctype(Opcodes.FCTYPE_AUTH_RECV)
                .cdw(10, authCdw10()).cdw(11, allocationLength), allocationLength);
    }

    private static int authCdw10() {
        int sp = io.nvmpath.fabric.auth.AuthMessage.SPSP;
        return (sp << 8) | (sp << 16) | (io.nvmpath.fabric.auth.AuthMessage.SECP_DHCHAP << 24);
    }

    /** Property Get; the value comes back in dword 0 (and 1 for 8-byte properties). */
    public static NvmeRequest propertyGet(int offset, boolean eightBytes) {
        return NvmeRequest.noData(Sqe.of(Opcodes.FABRICS).fctype(Opcodes.FCTYPE_PROPERTY_GET)
                .cdw(10, eightBytes ? 1 : 0).cdw(11, offset));
    }

    public static NvmeRequest propertySet(int offset, long value, boolean eightBytes) {
        return NvmeRequest.noData(Sqe.of(Opcodes.FABRICS).fctype(Opcodes.FCTYPE_PROPERTY_SET)
                .cdw(10, eightBytes ? 1 : 0).cdw(11, offset).cdw(12, (int) value).cdw(13, (int) (value >>> 32)));
    }

    // ---- Admin --------------------------------------------------------------------------------

    public static NvmeRequest identify(int cns, int nsid, int cntid) {
        return NvmeRequest.read(Sqe.of(Opcodes.ADMIN_IDENTIFY).nsid(nsid).cdw(10, (cns & 0xFF) | (cntid << 16)),
                IDENTIFY_SIZE);
    }

    /**
     * Get Log Page.
     *
     * @param lsp log specific field (for the ANA log, bit 0 is RGO: return groups only)
     * @param rae retain asynchronous event: keep the event outstanding after this read
     * @param offset byte offset into the log (dword aligned)
     * @param length bytes to read (dword multiple)
     */
    public static NvmeRequest getLogPage(int lid, int lsp, boolean rae, int nsid, long offset, int length) {
        if (length <= 0 || (length & 3) != 0 || (offset & 3) != 0) {
            throw new IllegalArgumentException("log page length/offset must be positive dword multiples: "
                    + length + "/" + offset);
        }
        int numd = (length >>> 2) - 1;
        Sqe s = Sqe.of(Opcodes.ADMIN_GET_LOG_PAGE).nsid(nsid)
                .cdw(10, (lid & 0xFF) | ((lsp & 0x7F) << 8) | (rae ? 1 << 15 : 0) | ((numd & 0xFFFF) << 16))
                .cdw(11, numd >>> 16)
                .cdw(12, (int) offset)
                .cdw(13, (int) (offset >>> 32));
        return NvmeRequest.read(s, length);
    }

    public static NvmeRequest setFeatures(int fid, int cdw11) {
        return NvmeRequest.noData(Sqe.of(Opcodes.ADMIN_SET_FEATURES).cdw(10, fid & 0xFF).cdw(11, cdw11));
    }

    /** Asynchronous Event Request: outstanding until an event; never times out. */
    public static NvmeRequest asyncEventRequest() {
        return NvmeRequest.noData(Sqe.of(Opcodes.ADMIN_ASYNC_EVENT)).timeoutNanos(0);
    }

    public static NvmeRequest keepAlive() {
        return NvmeRequest.noData(Sqe.of(Opcodes.ADMIN_KEEP_ALIVE));
    }

    /**
     * Cross-Controller Reset (admin 38h) of the controller {@code ccr} names, to be sent to another
     * controller of the same subsystem; the result is in dword 0 ({@link CrossControllerReset.Result}).
     */
    public static NvmeRequest crossControllerReset(CrossControllerReset ccr) {
        return NvmeRequest.noData(ccr.toSqe());
    }

    /** Get Log Page Cross-Controller Reset (1Eh), the whole page; {@code removeCompleted} sets RMC. */
    public static NvmeRequest crossControllerResetLog(boolean removeCompleted) {
        return getLogPage(Opcodes.LOG_CROSS_CONTROLLER_RESET,
                removeCompleted ? CrossControllerResetLog.LSP_REMOVE_COMPLETED : 0, false, 0,
                0, CrossControllerResetLog.SIZE);
    }

    // ---- NVM I/O ------------------------------------------------------------------------------

    /** Read {@code nlb} blocks of {@code lbaSize} bytes from {@code slba}. */
    public static NvmeRequest read(int nsid, long slba, int nlb, int lbaSize) {
        return NvmeRequest.read(rw(Opcodes.NVM_READ, nsid, slba, nlb, false), Math.multiplyExact(nlb, lbaSize));
    }

    /** Write the readable bytes of {@code data} ({@code nlb} whole blocks) at {@code slba}. */
    public static NvmeRequest write(int nsid, long slba, int nlb, ByteBuf data, boolean fua) {
        return NvmeRequest.write(rw(Opcodes.NVM_WRITE, nsid, slba, nlb, fua), data);
    }

    public static NvmeRequest flush(int nsid) {
        return NvmeRequest.noData(Sqe.of(Opcodes.NVM_FLUSH).nsid(nsid));
    }

    /**
     * Write Zeroes.
     *
     * @param deallocate DEAC: the controller may deallocate the blocks (they still read as zeroes)
     */
    public static NvmeRequest writeZeroes(int nsid, long slba, int nlb, boolean deallocate, boolean fua) {
        Sqe s = rw(Opcodes.NVM_WRITE_ZEROES, nsid, slba, nlb, fua);
        if (deallocate) {
            s.cdw(12, s.cdw(12) | (1 << 25));
        }
        return NvmeRequest.noData(s);
    }

    /**
     * Dataset Management with the Deallocate attribute over {@code rangeCount} ranges.
     *
     * @param ranges 16 bytes per range from {@link #dsmRange}
     */
    public static NvmeRequest deallocate(int nsid, int rangeCount, ByteBuf ranges) {
        if (rangeCount < 1 || rangeCount > 256) {
            throw new IllegalArgumentException("DSM takes 1..256 ranges, not " + rangeCount);
        }
        Sqe s = Sqe.of(Opcodes.NVM_DSM).nsid(nsid).cdw(10, rangeCount - 1).cdw(11, 1 << 2);
        return NvmeRequest.write(s, ranges);
    }

    /** One 16-byte DSM range: context attributes 0, length in blocks, starting LBA. */
    public static void dsmRange(ByteBuf out, long slba, long nlb) {
        out.writeIntLE(0);
        out.writeIntLE((int) nlb);
        out.writeLongLE(slba);
    }

    private static Sqe rw(int opcode, int nsid, long slba, int nlb, boolean fua) {
        if (nlb < 1 || nlb > 65536) {
            throw new IllegalArgumentException("block count must be 1..65536, not " + nlb);
        }
        return Sqe.of(opcode).nsid(nsid)
                .cdw(10, (int) slba).cdw(11, (int) (slba >>> 32))
                .cdw(12, (nlb - 1) | (fua ? 1 << 30 : 0));
    }
}
