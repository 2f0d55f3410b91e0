package io.nvmpath.fabric.tcp;

/**
 * A fatal NVMe/TCP transport error on one connection: the stream can no longer be trusted. It
 * carries what a Terminate Connection Request reports: the FES and FEI.
 */
public final class PduException extends Exception {
    private final TermReqStatus status;
    private final int fei;

    /** @param status the FES, or {@code null} for a data digest mismatch (no TermReq is sent) */
    public PduException(TermReqStatus status, int fei, String message) {
        super(message);
        this.status = status;
        this.fei = fei;
    }

    /**
     * The FES to report in a Terminate Connection Request, or {@code null} when the error has no FES
     * of its own (a data digest mismatch): the connection is then closed without one.
     */
    public TermReqStatus status() {
        return status;
    }

    /** Fatal error information: for a bad header field, its byte offset in the PDU. */
    public int fei() {
        return fei;
    }
}
