package io.nvmpath.fabric.auth;

import io.netty.buffer.ByteBuf;

/**
 * DH-HMAC-CHAP_Success2 (host to controller, after the host verified R2;
 * {@code struct nvmf_auth_dhchap_success2_data}, 16 bytes): AUTH_TYPE 1, AUTH_ID 04h, T_ID, 10 reserved.
 */
public record DhchapSuccess2(int transactionId) implements AuthMessage {
    public static final int SIZE = 16;

    public DhchapSuccess2 {
        Fields.u16(transactionId, "T_ID");
    }

    @Override
    public int size() {
        return SIZE;
    }

    @Override
    public void encode(ByteBuf out) {
        Fields.header(out, TYPE_DHCHAP, ID_SUCCESS2, transactionId);
        out.writeZero(10);
    }

    public static DhchapSuccess2 parse(ByteBuf b) {
        Fields.require(b, SIZE, "DH-HMAC-CHAP_Success2", "header");
        Fields.expect(b, TYPE_DHCHAP, ID_SUCCESS2, "DH-HMAC-CHAP_Success2");
        return new DhchapSuccess2(b.getUnsignedShortLE(b.readerIndex() + 4));
    }
}
