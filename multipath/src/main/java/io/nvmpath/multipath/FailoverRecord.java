package io.nvmpath.multipath;

/**
 * One failover: the requests that left one path of one head for one cause, from the first that
 * failed until the last of them was answered.
 *
 * @param atEpochMillis when the first request failed (wall clock)
 * @param from the path they left ({@link PathId#toString()})
 * @param to the path the first of them completed on (the same portal after a reconnect, with another
 *           CNTLID), or null when none did
 * @param cause {@link FailoverCause#label()}
 * @param status the NVMe status of the first failure ({@code Status} layout)
 * @param reads requests without side effects that moved (reads, flushes)
 * @param writes requests with side effects that moved, fenced ones included
 * @param fenced writes held behind a write fence first
 * @param fenceMethod what released the fence: "ccr", "time", or "none" (no fence, or never released)
 * @param fenceWaitMillis how long the fence held
 * @param stallMillis from the first failure to the first completion of a moved request; -1 when none came
 */
public record FailoverRecord(long atEpochMillis, String subsystem, int nsid, String from, String to, String cause,
                             int status, int reads, int writes, int fenced, String fenceMethod, long fenceWaitMillis,
                             long stallMillis) {
}
