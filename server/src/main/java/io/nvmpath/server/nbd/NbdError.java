package io.nvmpath.server.nbd;

import io.nvmpath.fabric.host.NvmeException;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.server.block.BlockException;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The error values an NBD reply carries, with their wire numbers (NBD_EPERM...), and the one place
 * a failure becomes one of them: {@link #of(Throwable, int)}, by the failure and the request's flags.
 */
public enum NbdError {
    /** Operation not permitted: a write to a read-only export or a write-protected namespace. */
    EPERM(1),
    /** Input/output error: media, path and transport failures, and anything not otherwise named. */
    EIO(5),
    /** Cannot allocate memory; the protocol asks servers not to use it, and this one does not. */
    ENOMEM(12),
    /** Invalid argument: a malformed or out-of-range request, an unknown command or flag. */
    EINVAL(22),
    /** No space left on device: a write past the end, or capacity exceeded. */
    ENOSPC(28),
    /** Value too large: sent only to a request with DF (else EINVAL). */
    EOVERFLOW(75),
    /** Operation not supported: a fast zero that cannot be fast; sent only to a request with FAST_ZERO (else EINVAL). */
    ENOTSUP(95),
    /** The server or the export is going away: the client must disconnect. */
    ESHUTDOWN(108);

    private final int value;

    NbdError(int value) {
        this.value = value;
    }

    /** The number in the reply's error field. */
    public int value() {
        return value;
    }

    /**
     * The NBD error a failed request is answered with: the failure's own ({@link #ofFailure}), then
     * narrowed by the request's flags as nbdkit's {@code nbd_errno} does it. ENOTSUP goes only to a
     * request with FAST_ZERO, the one that asked to learn that zeroing cannot be fast (the protocol
     * lets other clients treat it as unknown); EOVERFLOW only to one with DF, the read that asked for
     * its data in one chunk. Without its flag each is EINVAL: the request as sent cannot be served.
     *
     * @param requestFlags the request's command flags (NBD_CMD_FLAG_*)
     */
    public static NbdError of(Throwable failure, int requestFlags) {
        NbdError e = ofFailure(failure);
        return switch (e) {
            case ENOTSUP -> (requestFlags & Nbd.CMD_FLAG_FAST_ZERO) != 0 ? ENOTSUP : EINVAL;
            case EOVERFLOW -> (requestFlags & Nbd.CMD_FLAG_DF) != 0 ? EOVERFLOW : EINVAL;
            default -> e;
        };
    }

    /**
     * What a failed block operation means, before the request's flags narrow it. {@link BlockException}
     * by its kind, {@link NvmeException} by its status; wrappers ({@link CompletionException},
     * {@link ExecutionException}) are looked through; anything else is EIO.
     */
    static NbdError ofFailure(Throwable failure) {
        Throwable t = failure;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof BlockException b) {
            return switch (b.kind()) {
                case INVALID -> EINVAL;
                case NO_SPACE -> ENOSPC;
                case READ_ONLY -> EPERM;
                case SHUTDOWN -> ESHUTDOWN;
                case OVERFLOW -> EOVERFLOW;
                case NOT_SUPPORTED -> ENOTSUP;
                case IO -> EIO;
            };
        }
        if (t instanceof NvmeException n) {
            return ofNvmeStatus(n.status());
        }
        return EIO;
    }

    /** By NVMe status ({@link Status} layout): the few that say what was wrong with the request; else EIO. */
    static NbdError ofNvmeStatus(int status) {
        return switch (Status.code(status)) {
            case Status.LBA_RANGE, Status.CAP_EXCEEDED -> ENOSPC;
            case Status.INVALID_FIELD, Status.INVALID_NS -> EINVAL;
            case Status.INVALID_OPCODE -> ENOTSUP;
            case Status.NS_WRITE_PROTECTED, Status.WRITE_TO_READ_ONLY_RANGE -> EPERM;
            // media and data integrity (SCT 2h), path related (SCT 3h), and everything else
            default -> EIO;
        };
    }
}
