package io.nvmpath.fabric.host;

/** A command completed with an error status; the message names it as an operator reads it. */
public final class NvmeException extends RuntimeException {
    private final int status;

    /** "{what} failed: {status by name}". */
    public NvmeException(String what, NvmeRequest request) {
        this(what, request, "");
    }

    /** As above, with a hint for the operator after the status, e.g. " (wrong subsystem NQN?)". */
    public NvmeException(String what, NvmeRequest request, String hint) {
        super(what + " failed: " + request.describeStatus() + hint, request.cause());
        this.status = request.status();
    }

    /** The completion status, {@link io.nvmpath.fabric.nvme.Status} layout. */
    public int status() {
        return status;
    }
}
