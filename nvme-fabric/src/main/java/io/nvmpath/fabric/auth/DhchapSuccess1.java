package io.nvmpath.fabric.auth;

import io.netty.buffer.ByteBuf;

/**
 * DH-HMAC-CHAP_Success1 (controller to host; {@code struct nvmf_auth_dhchap_success1_data}): AUTH_TYPE 1,
 * AUTH_ID 03h, T_ID, HL (byte 6), RVALID (byte 8, bit 0), 7 reserved, then R2 of HL bytes when RVALID
 * is set. nvmet always fills HL with its hash length, with or without R2 ({@code nvmet_auth_success1});
 * the Linux host checks HL against the negotiated hash ({@code nvme_auth_process_dhchap_success1}).
 *
 * @param hashLength HL
 * @param response R2, or {@code null} when the host asked for no controller authentication
 */
public record DhchapSuccess1(int transactionId, int hashLength, byte[] response) implements AuthMessage {
    public static final int HEADER_SIZE = 16;
    private static final String NAME = "DH-HMAC-CHAP_Success1";

    public DhchapSuccess1 {
        Fields.u16(transactionId, "T_ID");
        Fields.u8(hashLength, "HL");
        if (response != null) {
            if (response.length != hashLength) {
                throw new IllegalArgumentException(NAME + ": R2 of " + response.length + " bytes for HL " + hashLength);
            }
            response = response.clone();
        }
    }

    /** R2, or {@code null}. */
    @Override
    public byte[] response() {
        return response == null ? null : response.clone();
    }

    @Override
    public int size() {
        return HEADER_SIZE + (response == null ? 0 : hashLength);
    }

    @Override
    public void encode(ByteBuf out) {
        Fields.header(out, TYPE_DHCHAP, ID_SUCCESS1, transactionId);
        out.writeByte(hashLength).writeByte(0).writeByte(response == null ? 0 : 1).writeZero(7);
        if (response != null) {
            out.writeBytes(response);
        }
    }

    public static DhchapSuccess1 parse(ByteBuf b) {
        Fields.require(b, HEADER_SIZE, NAME, "header");
        Fields.expect(b, TYPE_DHCHAP, ID_SUCCESS1, NAME);
        int r = b.readerIndex();
        int hl = b.getUnsignedByte(r + 6);
        boolean rvalid = (b.getUnsignedByte(r + 8) & 1) != 0;
        byte[] rval = null;
        if (rvalid) {
            Fields.require(b, HEADER_SIZE + hl, NAME, "RVAL (HL " + hl + ")");
            rval = Fields.bytes(b, r + HEADER_SIZE, hl);
        }
        return new DhchapSuccess1(b.getUnsignedShortLE(r + 4), hl, rval);
    }
}
