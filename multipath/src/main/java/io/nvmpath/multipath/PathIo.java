package io.nvmpath.multipath;

import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.nvme.IdentifyController;

/**
 * The part of a controller a head needs to send I/O through it. {@link ControllerPathIo} adapts the
 * real {@link io.nvmpath.fabric.host.Controller}; unit tests script their own.
 */
public interface PathIo {
    /** The controller's address and CNTLID. */
    PathId id();

    /** For logs: {@link PathId#toString()}, e.g. "127.0.0.1:4420 cntlid 3". */
    default String name() {
        return id().toString();
    }

    ControllerState state();

    /** Sends the request; its callback (or interceptor) reports the outcome, never this call. */
    void submit(NvmeRequest r);

    /** Commands outstanding now. */
    int inFlight();

    /** Recent average completion latency in nanoseconds, 0 when unknown. */
    double recentLatencyNanos();

    /** Command Retry Delay for a CRD index, in milliseconds. */
    long retryDelayMillis(int crd);

    /** The most one command may carry (MDTS), in bytes. */
    default long maxTransferBytes() {
        return Long.MAX_VALUE;
    }

    /** The controller's Identify data, or null when unknown. */
    default IdentifyController identity() {
        return null;
    }
}
