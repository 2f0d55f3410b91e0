package io.nvmpath.fabric.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCounted;
import io.nvmpath.fabric.nvme.Cqe;
import io.nvmpath.fabric.nvme.Sqe;

/**
 * One NVMe/TCP PDU, decoded. Headers are plain values; a data section is a {@link ByteBuf} owned by
 * the PDU (a retained slice of the received bytes, or of the sender's buffer), so a data PDU is
 * {@link ReferenceCounted}: whoever holds it last releases it.
 */
public sealed interface Pdu permits Pdu.ICReq, Pdu.ICResp, Pdu.CapsuleResp, Pdu.R2T, Pdu.DataPdu {

    /** Common-header flag: a header digest follows the PDU header. */
    int FLAG_HDGST = 0x01;
    /** Common-header flag: a data digest follows the data. */
    int FLAG_DDGST = 0x02;
    /** Common-header flag on data PDUs: last data PDU of a transfer (of a command, or of one R2T). */
    int FLAG_LAST_PDU = 0x04;
    /** Common-header flag on C2HData: the command succeeded and no response capsule follows. */
    int FLAG_SUCCESS = 0x08;

    PduType type();

    /** A PDU with a data section; releasing it releases the data. */
    sealed interface DataPdu extends Pdu, ReferenceCounted permits TermReq, CapsuleCmd, H2CData, C2HData {
        ByteBuf data();

        @Override
        default int refCnt() {
            return data().refCnt();
        }

        @Override
        default DataPdu retain() {
            data().retain();
            return this;
        }

        @Override
        default DataPdu retain(int increment) {
            data().retain(increment);
            return this;
        }

        @Override
        default DataPdu touch() {
            data().touch();
            return this;
        }

        @Override
        default DataPdu touch(Object hint) {
            data().touch(hint);
            return this;
        }

        @Override
        default boolean release() {
            return data().release();
        }

        @Override
        default boolean release(int decrement) {
            return data().release(decrement);
        }
    }

    /**
     * @param pfv protocol format version (0 is the only one defined)
     * @param hpda host PDU data alignment, 0's based in dwords: where the controller must start data
     * @param headerDigest host asks for header digests
     * @param dataDigest host asks for data digests
     * @param maxr2t most outstanding R2Ts per command, 0's based
     */
    record ICReq(int pfv, int hpda, boolean headerDigest, boolean dataDigest, long maxr2t) implements Pdu {
        @Override
        public PduType type() {
            return PduType.IC_REQ;
        }
    }

    /**
     * @param pfv protocol format version
     * @param cpda controller PDU data alignment, 0's based in dwords: where the host must start data
     * @param headerDigest header digests are on for this connection
     * @param dataDigest data digests are on for this connection
     * @param maxh2cdata the most data one H2CData PDU may carry
     */
    record ICResp(int pfv, int cpda, boolean headerDigest, boolean dataDigest, long maxh2cdata) implements Pdu {
        @Override
        public PduType type() {
            return PduType.IC_RESP;
        }
    }

    /**
     * Terminate Connection Request, either direction.
     *
     * @param type {@link PduType#H2C_TERM_REQ} or {@link PduType#C2H_TERM_REQ}
     * @param fes fatal error status ({@link TermReqStatus})
     * @param fei fatal error information (e.g. the byte offset of a bad header field)
     * @param data the offending PDU header, as much as fits
     */
    record TermReq(PduType type, int fes, int fei, ByteBuf data) implements DataPdu {
        /** The most of the offending PDU a TermReq carries. */
        public static final int MAX_DATA = 152;
    }

    /** Command capsule: an SQE and its in-capsule data (empty when none). */
    record CapsuleCmd(Sqe sqe, ByteBuf data) implements DataPdu {
        @Override
        public PduType type() {
            return PduType.CAPSULE_CMD;
        }
    }

    /** Response capsule. */
    record CapsuleResp(Cqe cqe) implements Pdu {
        @Override
        public PduType type() {
            return PduType.CAPSULE_RESP;
        }
    }

    /**
     * @param cccid command capsule CID the data belongs to
     * @param ttag transfer tag from the R2T
     * @param datao offset of this data within the command's data
     * @param data the bytes
     * @param last LAST_PDU: the last H2CData answering one R2T
     */
    record H2CData(int cccid, int ttag, long datao, ByteBuf data, boolean last) implements DataPdu {
        @Override
        public PduType type() {
            return PduType.H2C_DATA;
        }
    }

    /**
     * @param cccid command capsule CID the data belongs to
     * @param datao offset of this data within the command's data
     * @param data the bytes
     * @param last LAST_PDU: the last C2HData of the command
     * @param success SUCCESS: the command completed successfully, no response capsule follows
     */
    record C2HData(int cccid, long datao, ByteBuf data, boolean last, boolean success) implements DataPdu {
        @Override
        public PduType type() {
            return PduType.C2H_DATA;
        }
    }

    /**
     * @param cccid command capsule CID
     * @param ttag transfer tag the host echoes in its H2CData
     * @param r2to offset of the requested range within the command's data
     * @param r2tl length of the requested range
     */
    record R2T(int cccid, int ttag, long r2to, long r2tl) implements Pdu {
        @Override
        public PduType type() {
            return PduType.R2T;
        }
    }
}
