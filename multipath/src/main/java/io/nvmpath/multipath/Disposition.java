package io.nvmpath.multipath;

import io.nvmpath.fabric.nvme.Status;

/**
 * What happens to a failed command, decided in one place ({@link #decide}) from its status and
 * how often it was already retried, after Linux's {@code nvme_decide_disposition}.
 */
public enum Disposition {
    /** The caller gets the result: success, DNR, a media or invalid-field error, or retries exhausted. */
    COMPLETE,
    /** Send again on the same path, after the controller's Command Retry Delay. */
    RETRY,
    /** Requeue to the head for another path: SCT 3h path errors, incl. host pathing and host abort. */
    FAILOVER;

    /**
     * @param status completion status ({@link Status} layout)
     * @param retries RETRY dispositions this command already had
     * @param failovers FAILOVER dispositions this command already had
     */
    public static Disposition decide(int status, int retries, int failovers, int maxRetries, int maxFailovers) {
        if (Status.isSuccess(status)) {
            return COMPLETE;
        }
        if (Status.isPathError(status)) {
            return Status.dnr(status) && !isHostGenerated(status) || failovers >= maxFailovers ? COMPLETE : FAILOVER;
        }
        if (Status.dnr(status) || Status.sct(status) == 2 || retries >= maxRetries) {
            return COMPLETE;
        }
        return switch (Status.code(status)) {
            case Status.INVALID_FIELD, Status.INVALID_OPCODE, Status.INVALID_NS, Status.LBA_RANGE,
                 Status.CAP_EXCEEDED, Status.SGL_INVALID_DATA, Status.SGL_INVALID_TYPE -> COMPLETE;
            default -> RETRY;
        };
    }

    private static boolean isHostGenerated(int status) {
        int c = Status.code(status);
        return c == Status.HOST_PATH_ERROR || c == Status.HOST_ABORTED_CMD;
    }
}
