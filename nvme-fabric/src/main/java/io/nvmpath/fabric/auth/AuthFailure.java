package io.nvmpath.fabric.auth;

import io.netty.buffer.ByteBuf;

/**
 * AUTH_Failure1 (controller to host, AUTH_ID F1h) or AUTH_Failure2 (host to controller, F0h)
 * ({@code struct nvmf_auth_dhchap_failure_data}, 8 bytes): AUTH_TYPE, AUTH_ID, T_ID, RESCODE (byte 6)
 * and RESCODE_EXP (byte 7). Linux sends AUTH_TYPE 0 for both ({@code nvmet_auth_failure1},
 * {@code nvme_auth_set_dhchap_failure2_data}) and RESCODE 01h; nvmet acts on a Failure2 only with
 * AUTH_TYPE 1 (it ends the association either way), so the type is kept as received.
 *
 * @param authType AUTH_TYPE, {@link AuthMessage#TYPE_COMMON} normally
 * @param authId {@link AuthMessage#ID_FAILURE1} or {@link AuthMessage#ID_FAILURE2}
 * @param reasonCode RESCODE; {@link #REASON_AUTHENTICATION_FAILURE} is the only one defined
 * @param explanation RESCODE_EXP, see {@link FailureExplanation}
 */
public record AuthFailure(int authType, int authId, int transactionId, int reasonCode, int explanation)
        implements AuthMessage {
    public static final int SIZE = 8;
    /** RESCODE 01h, "authentication failure" ({@code NVME_AUTH_DHCHAP_FAILURE_REASON_FAILED}). */
    public static final int REASON_AUTHENTICATION_FAILURE = 0x01;

    public AuthFailure {
        if (authId != ID_FAILURE1 && authId != ID_FAILURE2) {
            throw new IllegalArgumentException("AUTH_Failure: AUTH_ID " + authId + " is not F0h or F1h");
        }
        Fields.u8(authType, "AUTH_TYPE");
        Fields.u16(transactionId, "T_ID");
        Fields.u8(reasonCode, "RESCODE");
        Fields.u8(explanation, "RESCODE_EXP");
    }

    /** The controller's failure, as nvmet sends it. */
    public static AuthFailure failure1(int transactionId, FailureExplanation explanation) {
        return new AuthFailure(TYPE_COMMON, ID_FAILURE1, transactionId, REASON_AUTHENTICATION_FAILURE, explanation.code());
    }

    /** The host's failure, as a Linux 6.12 host sends it. */
    public static AuthFailure failure2(int transactionId, FailureExplanation explanation) {
        return new AuthFailure(TYPE_COMMON, ID_FAILURE2, transactionId, REASON_AUTHENTICATION_FAILURE, explanation.code());
    }

    public boolean isFailure1() {
        return authId == ID_FAILURE1;
    }

    /** RESCODE_EXP as a constant, or {@code null} for a code not defined. */
    public FailureExplanation explanationCode() {
        return FailureExplanation.fromCode(explanation);
    }

    @Override
    public int size() {
        return SIZE;
    }

    @Override
    public void encode(ByteBuf out) {
        Fields.header(out, authType, authId, transactionId);
        out.writeByte(reasonCode).writeByte(explanation);
    }

    public static AuthFailure parse(ByteBuf b) {
        Fields.require(b, SIZE, "AUTH_Failure", "RESCODE/RESCODE_EXP");
        int r = b.readerIndex();
        int type = b.getUnsignedByte(r);
        int id = b.getUnsignedByte(r + 1);
        if ((type != TYPE_COMMON && type != TYPE_DHCHAP) || (id != ID_FAILURE1 && id != ID_FAILURE2)) {
            throw new AuthProtocolException(FailureExplanation.INCORRECT_MESSAGE,
                    String.format("AUTH_Failure: AUTH_TYPE %02xh AUTH_ID %02xh", type, id));
        }
        return new AuthFailure(type, id, b.getUnsignedShortLE(r + 4), b.getUnsignedByte(r + 6), b.getUnsignedByte(r + 7));
    }
}
