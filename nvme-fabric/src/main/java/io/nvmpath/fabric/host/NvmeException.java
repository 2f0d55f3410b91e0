package io.nvmpath.fabric.host;

import io.nvmpath.fabric.nvme.Status;

/** A command completed with an error status; the message names it as an operator reads it. */
public final class NvmeException extends RuntimeException {
    private final int status;

    public NvmeException(String what, NvmeRequest request) {
        super(what + " failed: " + request.describeStatus(), request.cause());
        this.status = request.status();
    }

    public NvmeException(String message, int status) {
        super(message + ": " + Status.describe(status));
        this.status = status;
    }

    /** The completion status, {@link Status} layout. */
    public int status() {
        return status;
    }
}
