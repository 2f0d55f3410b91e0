package io.nvmpath.multipath;

import io.nvmpath.fabric.host.ControllerInstance;
import io.nvmpath.fabric.host.LossCause;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.nvme.Status;

/** Why requests left a path: the loss of its association, or a status its controller answered. */
public enum FailoverCause {
    TRANSPORT_CLOSED("transport-closed"),
    KEEP_ALIVE_TIMEOUT("keep-alive-timeout"),
    IO_TIMEOUT("io-timeout"),
    HOST_RESET("host-reset"),
    /** An ANA status: the path's group is inaccessible, persistently lost or changing. */
    ANA_STATE("ana-state"),
    /** Another path-related status (SCT 3h) the controller answered, or Host Pathing Error. */
    PATH_ERROR("path-error");

    private final String label;

    FailoverCause(String label) {
        this.label = label;
    }

    /** The label the API and the metrics use. */
    public String label() {
        return label;
    }

    /** The cause of a failed request that is failing over. */
    static FailoverCause of(NvmeRequest r) {
        ControllerInstance lost = r.lostOn();
        if (lost != null && lost.lossCause() != null) {
            return of(lost.lossCause());
        }
        if (Status.isAnaError(r.status())) {
            return ANA_STATE;
        }
        if (Status.code(r.status()) == Status.HOST_ABORTED_CMD) {
            return HOST_RESET;
        }
        return PATH_ERROR;
    }

    static FailoverCause of(LossCause c) {
        return switch (c) {
            case TRANSPORT_CLOSED -> TRANSPORT_CLOSED;
            case KEEP_ALIVE_TIMEOUT -> KEEP_ALIVE_TIMEOUT;
            case IO_TIMEOUT -> IO_TIMEOUT;
            case HOST_RESET -> HOST_RESET;
        };
    }
}
