package io.nvmpath.fabric.auth;

/**
 * The reason code explanation of AUTH_Failure1/AUTH_Failure2 (NVMe Base specification, "AUTH_Failure1
 * and AUTH_Failure2 messages"; Linux {@code NVME_AUTH_DHCHAP_FAILURE_*}, {@code include/linux/nvme.h}).
 */
public enum FailureExplanation {
    /** 01h: the response did not verify. */
    FAILED(0x01, "authentication failed"),
    /** 02h: no offered authentication protocol is usable. */
    PROTOCOL_NOT_USABLE(0x02, "authentication protocol not usable"),
    /** 03h: the secure channel concatenation request cannot be honoured. */
    CONCAT_MISMATCH(0x03, "secure channel concatenation mismatch"),
    /** 04h: no offered hash function is usable, or HL does not match it. */
    HASH_UNUSABLE(0x04, "hash function not usable"),
    /** 05h: no offered DH group is usable, or a DH value is bad. */
    DHGROUP_UNUSABLE(0x05, "DH group not usable"),
    /** 06h: a field or length of the message is wrong. */
    INCORRECT_PAYLOAD(0x06, "incorrect payload"),
    /** 07h: a message that does not belong at this step or transaction. */
    INCORRECT_MESSAGE(0x07, "incorrect protocol message");

    private final int code;
    private final String description;

    FailureExplanation(int code, String description) {
        this.code = code;
        this.description = description;
    }

    public int code() {
        return code;
    }

    public String description() {
        return description;
    }

    /** The explanation for a code, or {@code null} for one not defined. */
    public static FailureExplanation fromCode(int code) {
        for (FailureExplanation e : values()) {
            if (e.code == code) {
                return e;
            }
        }
        return null;
    }
}
