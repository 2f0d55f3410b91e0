package io.nvmpath.server.gateway;

import io.nvmpath.multipath.FailoverLog;
import io.nvmpath.multipath.FailoverRecord;
import io.nvmpath.multipath.MultipathView;

import java.util.List;
import java.util.Map;

/** What the gateway shows: for the HTTP API, /metrics and list-subsys. Every call returns a fresh snapshot. */
public interface GatewayView {

    /** Every subsystem, head and path (the multipath layer's own snapshot). */
    List<MultipathView.Subsystem> subsystems();

    List<Export> exports();

    List<Portal> portals();

    /** The failovers recorded, newest first (the multipath layer's bounded record). */
    List<FailoverRecord> failovers();

    /** Per subsystem and cause: failovers and their stall histogram. */
    List<FailoverLog.Stats> failoverStats();

    /** True while the gateway serves (started, not shutting down): liveness, {@code /health}. */
    boolean serving();

    /** Whether the gateway is ready for clients, and what it waits for if not: {@code /ready}. */
    Readiness readiness();

    /**
     * @param ready serving, the NBD listener open, every configured portal tried once, an export served
     * @param waitingFor what is missing, one phrase each (empty when ready)
     */
    record Readiness(boolean ready, List<String> waitingFor) {
    }

    /**
     * @param name the export name (scheme: {@code <subnqn>/<nsid>})
     * @param aliases other names configured for it
     * @param available the head has a usable path now
     * @param connections open NBD connections
     * @param requests completed NBD requests by command (read, write, flush, trim, write_zeroes, cache, block_status)
     * @param bytes bytes moved by command
     * @param errors failed requests by NBD error name
     */
    record Export(String name, List<String> aliases, String subnqn, int nsid, long sizeBytes, int blockSize,
                  boolean readOnly, boolean available, int connections, long connectionsTotal, int inFlight,
                  Map<String, Long> requests, Map<String, Long> bytes, Map<String, Long> errors) {
    }

    /**
     * @param kind "direct" or "discovery"
     * @param subnqn the subsystem (null for discovery)
     * @param state "connected", "connecting" or "retrying"
     * @param lastError the last connect failure, or null
     * @param failures connects that failed, and controllers of the portal that were deleted
     * @param authenticationFailures of those, the ones DH-HMAC-CHAP refused
     */
    record Portal(String kind, String traddr, int trsvcid, String subnqn, String state, String lastError,
                  long failures, long authenticationFailures) {
        /** A portal that has not failed. */
        public Portal(String kind, String traddr, int trsvcid, String subnqn, String state, String lastError) {
            this(kind, traddr, trsvcid, subnqn, state, lastError, 0, 0);
        }
    }
}
