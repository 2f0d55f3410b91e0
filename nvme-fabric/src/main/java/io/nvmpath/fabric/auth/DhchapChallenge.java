package io.nvmpath.fabric.auth;

import io.netty.buffer.ByteBuf;

/**
 * DH-HMAC-CHAP_Challenge (controller to host; {@code struct nvmf_auth_dhchap_challenge_data}): AUTH_TYPE 1,
 * AUTH_ID 01h, T_ID, HL (byte 6), a reserved byte, HASHID (byte 8), DHGID (byte 9), DHVLEN (bytes 10-11),
 * SEQNUM (bytes 12-15), then C1 of HL bytes and the controller's DH value of DHVLEN bytes (empty for the
 * null group; for an ffdhe group the size of p, {@code nvmet_auth_challenge}).
 *
 * <p>The ids are kept raw: a HashID or DH group this side does not know is for the host to answer with
 * hash / DH group not usable, as {@code nvme_auth_process_dhchap_challenge} does, not a decode error.
 *
 * @param hashId HASHID
 * @param dhGroupId DHGID
 * @param seqnum S1 (u32, as a Java int)
 * @param challenge C1, HL bytes
 * @param dhValue the controller's public value, DHVLEN bytes (empty for none)
 */
public record DhchapChallenge(int transactionId, int hashId, int dhGroupId, int seqnum, byte[] challenge,
        byte[] dhValue) implements AuthMessage {
    public static final int HEADER_SIZE = 16;
    private static final String NAME = "DH-HMAC-CHAP_Challenge";

    public DhchapChallenge {
        Fields.u16(transactionId, "T_ID");
        Fields.u8(hashId, "HASHID");
        Fields.u8(dhGroupId, "DHGID");
        Fields.u8(challenge.length, "HL");
        Fields.u16(dhValue.length, "DHVLEN");
        challenge = challenge.clone();
        dhValue = dhValue.clone();
    }

    /** The hash, or {@code null} for a HashID not defined. */
    public AuthHash hash() {
        return AuthHash.fromId(hashId);
    }

    /** The DH group, or {@code null} for an id not defined. */
    public DhGroup dhGroup() {
        return DhGroup.fromId(dhGroupId);
    }

    @Override
    public byte[] challenge() {
        return challenge.clone();
    }

    @Override
    public byte[] dhValue() {
        return dhValue.clone();
    }

    @Override
    public int size() {
        return HEADER_SIZE + challenge.length + dhValue.length;
    }

    @Override
    public void encode(ByteBuf out) {
        Fields.header(out, TYPE_DHCHAP, ID_CHALLENGE, transactionId);
        out.writeByte(challenge.length).writeByte(0).writeByte(hashId).writeByte(dhGroupId)
                .writeShortLE(dhValue.length).writeIntLE(seqnum).writeBytes(challenge).writeBytes(dhValue);
    }

    public static DhchapChallenge parse(ByteBuf b) {
        Fields.require(b, HEADER_SIZE, NAME, "header");
        Fields.expect(b, TYPE_DHCHAP, ID_CHALLENGE, NAME);
        int r = b.readerIndex();
        int hl = b.getUnsignedByte(r + 6);
        int dhvlen = b.getUnsignedShortLE(r + 10);
        Fields.require(b, HEADER_SIZE + hl, NAME, "CVAL (HL " + hl + ")");
        Fields.require(b, HEADER_SIZE + hl + dhvlen, NAME, "DHV (DHVLEN " + dhvlen + ")");
        return new DhchapChallenge(b.getUnsignedShortLE(r + 4), b.getUnsignedByte(r + 8), b.getUnsignedByte(r + 9),
                b.getIntLE(r + 12), Fields.bytes(b, r + HEADER_SIZE, hl), Fields.bytes(b, r + HEADER_SIZE + hl, dhvlen));
    }
}
