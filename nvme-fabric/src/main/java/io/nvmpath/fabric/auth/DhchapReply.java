package io.nvmpath.fabric.auth;

import io.netty.buffer.ByteBuf;

/**
 * DH-HMAC-CHAP_Reply (host to controller; {@code struct nvmf_auth_dhchap_reply_data}): AUTH_TYPE 1,
 * AUTH_ID 02h, T_ID, HL (byte 6), a reserved byte, CVALID (byte 8), a reserved byte, DHVLEN
 * (bytes 10-11), SEQNUM (bytes 12-15, S2, 0 when no controller authentication is asked), then R1 of HL
 * bytes, C2 of HL bytes (present, zero-filled, even when CVALID is 0, as the Linux host sends it and
 * nvmet reads it: {@code nvme_auth_set_dhchap_reply_data}, {@code nvmet_auth_reply}) and the host's DH
 * value of DHVLEN bytes.
 *
 * @param response R1, HL bytes
 * @param challenge C2, HL bytes, or {@code null} (CVALID 0)
 * @param seqnum S2 (u32, as a Java int)
 * @param dhValue the host's public value (empty for the null group)
 */
public record DhchapReply(int transactionId, byte[] response, byte[] challenge, int seqnum, byte[] dhValue)
        implements AuthMessage {
    public static final int HEADER_SIZE = 16;
    private static final String NAME = "DH-HMAC-CHAP_Reply";

    public DhchapReply {
        Fields.u16(transactionId, "T_ID");
        Fields.u8(response.length, "HL");
        Fields.u16(dhValue.length, "DHVLEN");
        if (challenge != null) {
            if (challenge.length != response.length) {
                throw new IllegalArgumentException(NAME + ": C2 of " + challenge.length + " bytes for HL " + response.length);
            }
            challenge = challenge.clone();
        }
        response = response.clone();
        dhValue = dhValue.clone();
    }

    @Override
    public byte[] response() {
        return response.clone();
    }

    /** C2, or {@code null}. */
    @Override
    public byte[] challenge() {
        return challenge == null ? null : challenge.clone();
    }

    @Override
    public byte[] dhValue() {
        return dhValue.clone();
    }

    @Override
    public int size() {
        return HEADER_SIZE + 2 * response.length + dhValue.length;
    }

    @Override
    public void encode(ByteBuf out) {
        Fields.header(out, TYPE_DHCHAP, ID_REPLY, transactionId);
        out.writeByte(response.length).writeByte(0).writeByte(challenge == null ? 0 : 1).writeByte(0)
                .writeShortLE(dhValue.length).writeIntLE(seqnum).writeBytes(response);
        if (challenge == null) {
            out.writeZero(response.length);
        } else {
            out.writeBytes(challenge);
        }
        out.writeBytes(dhValue);
    }

    public static DhchapReply parse(ByteBuf b) {
        Fields.require(b, HEADER_SIZE, NAME, "header");
        Fields.expect(b, TYPE_DHCHAP, ID_REPLY, NAME);
        int r = b.readerIndex();
        int hl = b.getUnsignedByte(r + 6);
        boolean cvalid = b.getUnsignedByte(r + 8) != 0;
        int dhvlen = b.getUnsignedShortLE(r + 10);
        Fields.require(b, HEADER_SIZE + hl, NAME, "RVAL (HL " + hl + ")");
        Fields.require(b, HEADER_SIZE + 2L * hl, NAME, "CVAL (HL " + hl + ")");
        Fields.require(b, HEADER_SIZE + 2L * hl + dhvlen, NAME, "DHV (DHVLEN " + dhvlen + ")");
        int v = r + HEADER_SIZE;
        return new DhchapReply(b.getUnsignedShortLE(r + 4), Fields.bytes(b, v, hl),
                cvalid ? Fields.bytes(b, v + hl, hl) : null, b.getIntLE(r + 12), Fields.bytes(b, v + 2 * hl, dhvlen));
    }
}
