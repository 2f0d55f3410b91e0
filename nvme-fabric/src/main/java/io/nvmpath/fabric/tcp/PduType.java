package io.nvmpath.fabric.tcp;

/**
 * NVMe/TCP PDU types (NVMe/TCP Transport Specification, PDU Type field of the common header).
 * Each constant knows its fixed header length (HLEN) and the direction it may travel in.
 */
public enum PduType {
    /** Initialize Connection Request: the host's first PDU on every connection. */
    IC_REQ(0x00, 128, Direction.H2C),
    /** Initialize Connection Response: the controller's answer, with its final digest choice. */
    IC_RESP(0x01, 128, Direction.C2H),
    /** Host to Controller Terminate Connection Request: the host found a fatal transport error. */
    H2C_TERM_REQ(0x02, 24, Direction.H2C),
    /** Controller to Host Terminate Connection Request: the controller found a fatal transport error. */
    C2H_TERM_REQ(0x03, 24, Direction.C2H),
    /** Command Capsule: a 64-byte SQE, optionally followed by in-capsule data. */
    CAPSULE_CMD(0x04, 72, Direction.H2C),
    /** Response Capsule: a 16-byte CQE. */
    CAPSULE_RESP(0x05, 24, Direction.C2H),
    /** Host to Controller Data: write data solicited by an R2T. */
    H2C_DATA(0x06, 24, Direction.H2C),
    /** Controller to Host Data: read data; with SUCCESS set no response capsule follows. */
    C2H_DATA(0x07, 24, Direction.C2H),
    /** Ready to Transfer: the controller asks for a range of a command's write data. */
    R2T(0x09, 24, Direction.C2H);

    /** Which side may send a PDU type. */
    public enum Direction { H2C, C2H }

    private static final PduType[] BY_CODE = new PduType[256];
    static {
        for (PduType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    private final int code;
    private final int headerLength;
    private final Direction direction;

    PduType(int code, int headerLength, Direction direction) {
        this.code = code;
        this.headerLength = headerLength;
        this.direction = direction;
    }

    /** The wire value of the PDU-Type field. */
    public int code() {
        return code;
    }

    /** The HLEN every PDU of this type must carry (common header plus PDU-specific header). */
    public int headerLength() {
        return headerLength;
    }

    public Direction direction() {
        return direction;
    }

    /** Types that never carry digests (the connection-setup and termination PDUs). */
    public boolean digestFree() {
        return this == IC_REQ || this == IC_RESP || this == H2C_TERM_REQ || this == C2H_TERM_REQ;
    }

    /** Types that may carry a data section after the header. */
    public boolean mayCarryData() {
        return this == CAPSULE_CMD || this == H2C_DATA || this == C2H_DATA
                || this == H2C_TERM_REQ || this == C2H_TERM_REQ;
    }

    /** Looks a wire value up without trusting it: unknown codes give {@code null}. */
    public static PduType fromCode(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
