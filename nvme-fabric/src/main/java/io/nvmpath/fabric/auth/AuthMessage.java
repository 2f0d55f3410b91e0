package io.nvmpath.fabric.auth;

import io.netty.buffer.ByteBuf;

/**
 * A message of NVMe in-band authentication, the payload of an Authentication Send (host to controller)
 * or Authentication Receive (controller to host) command with SECP E9h and SPSP0/SPSP1 01h. Layouts of
 * {@code struct nvmf_auth_dhchap_*} ({@code include/linux/nvme.h}), little-endian. Every message starts
 * with AUTH_TYPE (0 common, 1 DH-HMAC-CHAP), AUTH_ID, two reserved bytes and the transaction id T_ID.
 *
 * <p>Decoding reads at the reader index without moving it and ignores bytes past the message: a
 * controller answers an Authentication Receive with the whole allocation length, zero-filled (nvmet's
 * {@code nvmet_execute_auth_receive}). A short or malformed message is an {@link AuthProtocolException}
 * naming the field.
 */
public sealed interface AuthMessage
        permits AuthNegotiate, DhchapChallenge, DhchapReply, DhchapSuccess1, DhchapSuccess2, AuthFailure {
    /** SECP of the Authentication Send/Receive commands: DH-HMAC-CHAP. */
    int SECP_DHCHAP = 0xE9;
    /** SPSP0 and SPSP1 of those commands. */
    int SPSP = 0x01;
    /** AUTH_TYPE of AUTH_Negotiate and AUTH_Failure1/2. */
    int TYPE_COMMON = 0x00;
    /** AUTH_TYPE of the DH-HMAC-CHAP messages. */
    int TYPE_DHCHAP = 0x01;
    int ID_NEGOTIATE = 0x00;
    int ID_CHALLENGE = 0x01;
    int ID_REPLY = 0x02;
    int ID_SUCCESS1 = 0x03;
    int ID_SUCCESS2 = 0x04;
    int ID_FAILURE2 = 0xF0;
    int ID_FAILURE1 = 0xF1;

    /** T_ID, the transaction the message belongs to (u16). */
    int transactionId();

    /** Writes the message at the writer index. */
    void encode(ByteBuf out);

    /** The encoded size in bytes. */
    int size();

    /**
     * Decodes the message at the reader index by its AUTH_TYPE and AUTH_ID.
     *
     * @throws AuthProtocolException for a short message, a bad field, or an unknown type or id
     */
    static AuthMessage decode(ByteBuf b) {
        Fields.require(b, 2, "authentication message", "AUTH_TYPE/AUTH_ID");
        int r = b.readerIndex();
        int type = b.getUnsignedByte(r);
        int id = b.getUnsignedByte(r + 1);
        if (id == ID_FAILURE1 || id == ID_FAILURE2) {
            // common messages; early Linux hosts sent Failure2 with AUTH_TYPE 1, and nvmet reads it so: take both
            if (type == TYPE_COMMON || type == TYPE_DHCHAP) {
                return AuthFailure.parse(b);
            }
        } else if (type == TYPE_COMMON && id == ID_NEGOTIATE) {
            return AuthNegotiate.parse(b);
        } else if (type == TYPE_DHCHAP) {
            switch (id) {
                case ID_CHALLENGE:
                    return DhchapChallenge.parse(b);
                case ID_REPLY:
                    return DhchapReply.parse(b);
                case ID_SUCCESS1:
                    return DhchapSuccess1.parse(b);
                case ID_SUCCESS2:
                    return DhchapSuccess2.parse(b);
                default:
                    break;
            }
        }
        throw new AuthProtocolException(FailureExplanation.INCORRECT_MESSAGE,
                String.format("authentication message: AUTH_TYPE %02xh AUTH_ID %02xh is not a known message", type, id));
    }
}
