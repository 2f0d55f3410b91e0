package io.nvmpath.server.bench;

import io.nvmpath.multipath.FailoverRecord;

import java.util.List;
import java.util.Map;

/**
 * What one run measured.
 *
 * @param config what was asked
 * @param paths the paths the run had at its end (multipath) or the one controller (single path), by
 *              address
 * @param regionBytes bytes from LBA 0 the I/O covered
 * @param lbaSize the namespace's logical block size
 * @param seconds length of the measured phase
 * @param ios successful I/Os in the measured phase
 * @param bytes their data
 * @param iops successful I/Os per second
 * @param bandwidthMiBps MiB per second
 * @param latencyUs completion latency of successful I/Os, from submission to the head (or controller)
 *                  to the callback: failover and requeue time included
 * @param errors failed I/Os by status; I/Os still outstanding when the run gave up waiting count here too
 * @param verifyErrors blocks that did not read back as written (measured phase and final read-back)
 * @param firstVerifyError the first of them, described; null when none
 * @param perPath successful I/Os by path address (the CNTLID left out: it changes on reconnect)
 * @param maxStallMs longest interval without a successful completion in the measured phase
 * @param head the namespace head's counters over the measured phase; null for a single path
 */
public record BenchResult(BenchConfig config, Map<String, String> paths, long regionBytes, int lbaSize,
                          double seconds, long ios, long bytes, double iops, double bandwidthMiBps, Latency latencyUs,
                          Map<String, Long> errors, long verifyErrors, String firstVerifyError,
                          Map<String, Long> perPath, double maxStallMs, HeadCounters head) {

    /** Quantiles and extremes in microseconds. */
    public record Latency(double p50, double p99, double p999, double max, double mean) {
    }

    /** The head's dispositions and no-path events during the measured phase. */
    /**
     * The head's dispositions over the run, and its failover records (oldest first).
     */
    public record HeadCounters(long failovers, long retries, long noPathWaits, long noPathFailures,
                               List<FailoverRecord> events) {
    }

    /** Failed I/Os of every status, and any left outstanding at the end. */
    public long errorCount() {
        long n = 0;
        for (long v : errors.values()) {
            n += v;
        }
        return n;
    }

    /** No I/O error and no verify error: what the exit code reports. */
    public boolean passed() {
        return errorCount() == 0 && verifyErrors == 0;
    }
}
