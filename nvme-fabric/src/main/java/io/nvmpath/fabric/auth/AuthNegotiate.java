package io.nvmpath.fabric.auth;

import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.List;

/**
 * AUTH_Negotiate (host to controller; {@code struct nvmf_auth_dhchap_negotiate_data}): AUTH_TYPE 0,
 * AUTH_ID 0, T_ID, SC_C (byte 6), NAPD (byte 7, the number of protocol descriptors), then 64-byte
 * descriptors. The DH-HMAC-CHAP descriptor ({@code nvmf_auth_dhchap_protocol_descriptor}): AUTHID 01h,
 * a reserved byte, HALEN, DHLEN, and a 60-byte IDLIST whose bytes 0..HALEN-1 are HashIDs and bytes
 * 30..30+DHLEN-1 DH group ids (at most 30 of each, {@code NVME_AUTH_DHCHAP_MAX_HASH_IDS}/
 * {@code _DH_IDS}). Linux hosts send NAPD 1 with SHA-256, SHA-384, SHA-512 and null, ffdhe2048..8192
 * ({@code nvme_auth_set_dhchap_negotiate_data}).
 *
 * <p>The id lists are kept raw: ids this side does not know are skipped when choosing, as nvmet does,
 * not refused.
 *
 * @param secureChannel SC_C, see {@link SecureChannel}
 * @param hashIds the offered HashIDs in the host's order of preference
 * @param dhGroupIds the offered DH group ids in the host's order
 */
public record AuthNegotiate(int transactionId, int secureChannel, List<Integer> hashIds, List<Integer> dhGroupIds)
        implements AuthMessage {
    public static final int HEADER_SIZE = 8;
    public static final int DESCRIPTOR_SIZE = 64;
    /** AUTHID of the DH-HMAC-CHAP protocol descriptor. */
    public static final int AUTHID_DHCHAP = 0x01;
    public static final int MAX_IDS = 30;
    private static final String NAME = "AUTH_Negotiate";

    public AuthNegotiate {
        Fields.u16(transactionId, "T_ID");
        Fields.u8(secureChannel, "SC_C");
        hashIds = List.copyOf(hashIds);
        dhGroupIds = List.copyOf(dhGroupIds);
        if (hashIds.size() > MAX_IDS || dhGroupIds.size() > MAX_IDS) {
            throw new IllegalArgumentException(NAME + ": at most " + MAX_IDS + " hash and DH group ids");
        }
        hashIds.forEach(id -> Fields.u8(id, "HashID"));
        dhGroupIds.forEach(id -> Fields.u8(id, "DH group id"));
    }

    /** What a Linux host offers: every hash and group, strongest last, as {@code nvme_auth_set_dhchap_negotiate_data}. */
    public static AuthNegotiate offerAll(int transactionId, SecureChannel secureChannel) {
        List<Integer> h = new ArrayList<>();
        for (AuthHash a : AuthHash.values()) {
            h.add(a.id());
        }
        List<Integer> d = new ArrayList<>();
        for (DhGroup g : DhGroup.values()) {
            d.add(g.id());
        }
        return new AuthNegotiate(transactionId, secureChannel.code(), h, d);
    }

    /** The offered hashes this side knows, in order. */
    public List<AuthHash> hashes() {
        List<AuthHash> out = new ArrayList<>();
        for (int id : hashIds) {
            AuthHash h = AuthHash.fromId(id);
            if (h != null) {
                out.add(h);
            }
        }
        return out;
    }

    /** The offered DH groups this side knows, in order. */
    public List<DhGroup> dhGroups() {
        List<DhGroup> out = new ArrayList<>();
        for (int id : dhGroupIds) {
            DhGroup g = DhGroup.fromId(id);
            if (g != null) {
                out.add(g);
            }
        }
        return out;
    }

    @Override
    public int size() {
        return HEADER_SIZE + DESCRIPTOR_SIZE;
    }

    @Override
    public void encode(ByteBuf out) {
        Fields.header(out, TYPE_COMMON, ID_NEGOTIATE, transactionId);
        out.writeByte(secureChannel).writeByte(1);
        int start = out.writerIndex();
        out.writeByte(AUTHID_DHCHAP).writeByte(0).writeByte(hashIds.size()).writeByte(dhGroupIds.size());
        out.writeZero(60);
        for (int i = 0; i < hashIds.size(); i++) {
            out.setByte(start + 4 + i, hashIds.get(i));
        }
        for (int i = 0; i < dhGroupIds.size(); i++) {
            out.setByte(start + 4 + MAX_IDS + i, dhGroupIds.get(i));
        }
    }

    /** Decodes at the reader index; takes the first DH-HMAC-CHAP descriptor of the NAPD given. */
    public static AuthNegotiate parse(ByteBuf b) {
        Fields.require(b, HEADER_SIZE, NAME, "header");
        Fields.expect(b, TYPE_COMMON, ID_NEGOTIATE, NAME);
        int r = b.readerIndex();
        int napd = b.getUnsignedByte(r + 7);
        if (napd == 0) {
            throw new AuthProtocolException(FailureExplanation.INCORRECT_PAYLOAD, NAME + ": NAPD is 0");
        }
        Fields.require(b, HEADER_SIZE + (long) napd * DESCRIPTOR_SIZE, NAME, "NAPD " + napd + " protocol descriptors");
        for (int n = 0; n < napd; n++) {
            int d = r + HEADER_SIZE + n * DESCRIPTOR_SIZE;
            if (b.getUnsignedByte(d) != AUTHID_DHCHAP) {
                continue;
            }
            int halen = b.getUnsignedByte(d + 2);
            int dhlen = b.getUnsignedByte(d + 3);
            if (halen > MAX_IDS || dhlen > MAX_IDS) {
                throw new AuthProtocolException(FailureExplanation.INCORRECT_PAYLOAD, NAME + ": HALEN " + halen
                        + " or DHLEN " + dhlen + " is over " + MAX_IDS);
            }
            List<Integer> h = new ArrayList<>(halen);
            for (int i = 0; i < halen; i++) {
                h.add((int) b.getUnsignedByte(d + 4 + i));
            }
            List<Integer> g = new ArrayList<>(dhlen);
            for (int i = 0; i < dhlen; i++) {
                g.add((int) b.getUnsignedByte(d + 4 + MAX_IDS + i));
            }
            return new AuthNegotiate(b.getUnsignedShortLE(r + 4), b.getUnsignedByte(r + 6), h, g);
        }
        throw new AuthProtocolException(FailureExplanation.PROTOCOL_NOT_USABLE,
                NAME + ": no DH-HMAC-CHAP protocol descriptor (AUTHID 01h)");
    }
}
