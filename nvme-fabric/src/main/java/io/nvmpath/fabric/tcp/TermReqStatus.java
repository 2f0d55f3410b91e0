package io.nvmpath.fabric.tcp;

/** Fatal Error Status values of an H2CTermReq/C2HTermReq. */
public enum TermReqStatus {
    /** A header field is wrong; FEI is its byte offset. */
    INVALID_HEADER_FIELD(0x01),
    /** A PDU arrived that the connection's state does not allow. */
    PDU_SEQUENCE_ERROR(0x02),
    /** The header digest did not match. */
    HEADER_DIGEST_ERROR(0x03),
    /** Data offset or length outside the command's data. */
    DATA_OUT_OF_RANGE(0x04),
    /** More R2Ts or data than negotiated. */
    DATA_LIMIT_EXCEEDED(0x05),
    /** A parameter value this side does not support (e.g. PFV); FEI is its byte offset. */
    UNSUPPORTED_PARAMETER(0x06);

    private final int code;

    TermReqStatus(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** Name of a received FES value, which may be anything. */
    public static String describe(int fes) {
        for (TermReqStatus s : values()) {
            if (s.code == fes) {
                return s.name();
            }
        }
        return String.format("FES 0x%02x", fes);
    }
}
