package io.nvmpath.multipath;

import io.nvmpath.fabric.host.PathStats;

import java.util.List;
import java.util.Map;

/** Read-only snapshots of the path layer, for the admin API, list-subsys and Prometheus. */
public final class MultipathView {
    private MultipathView() {
    }

    /**
     * @param nqn subsystem NQN
     * @param ioPolicy its iopolicy label
     * @param preferredPath the preferred portal address, or null
     * @param writeFailover its write failover label, "safe" or "immediate"
     * @param heads its namespace heads
     * @param refused paths refused, with the reason
     */
    public record Subsystem(String nqn, String ioPolicy, String preferredPath, String writeFailover, List<Head> heads,
                            List<MultipathSubsystem.RefusedPath> refused) {
    }

    /**
     * @param queuedIos requests waiting for a usable path now
     * @param queuedBytes their data
     * @param noPathWaits requests that had to wait for a path, ever
     * @param noPathFailures requests failed for want of a path
     * @param failovers FAILOVER dispositions
     * @param retries RETRY dispositions
     * @param fencedIos writes held behind a write fence now (counted in queuedIos too)
     * @param fencedWrites writes ever held behind a write fence after their path was lost
     */
    public record Head(int nsid, String nguid, String eui64, String uuid, long sizeBytes, int lbaSize, int queuedIos,
                       long queuedBytes, long noPathWaits, long noPathFailures, long failovers, long retries,
                       int fencedIos, long fencedWrites, List<PathEntry> paths) {
    }

    /**
     * @param name controller address and CNTLID
     * @param address the controller's transport address, {@code traddr:trsvcid}
     * @param cntlid the controller ID, -1 when unknown
     * @param controllerState controller state, lower case
     * @param anaState ANA state label
     * @param usable the path predicate
     * @param heldBack marginal or waiting for failback
     * @param failures times the path stopped being usable
     * @param failoversFrom requests failed over away from this path
     * @param ops successful I/O by kind (read, write, flush, other)
     * @param bytes bytes by kind
     * @param errors failed commands by status code
     * @param latencyBuckets completions per bucket of {@link PathStats#BUCKET_MICROS}
     * @param keepAliveRttMicros round trip of the controller's last Keep Alive, -1 when unknown
     */
    public record PathEntry(String name, String address, int cntlid, String controllerState, String anaState, int anaGroup, boolean usable,
                            boolean heldBack, boolean marginal, int inFlight, long failures, long marginalHolds,
                            long failoversFrom, Map<String, Long> ops, Map<String, Long> bytes,
                            Map<Integer, Long> errors, long[] latencyBuckets, long latencySumMicros,
                            long keepAliveRttMicros) {
    }
}
