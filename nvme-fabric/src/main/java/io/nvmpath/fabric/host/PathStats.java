package io.nvmpath.fabric.host;

import io.nvmpath.fabric.nvme.Opcodes;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * What one controller (one path) has carried: I/O and bytes by kind, errors by status, a latency
 * histogram and a moving average of recent latency. Updated by the transport on completion, so
 * the path layer never has to sit in the completion path to know them; read by anyone.
 */
public final class PathStats {
    /** Kinds of I/O counted apart. */
    public enum Kind { READ, WRITE, FLUSH, OTHER }

    /** Upper bounds of the latency buckets in microseconds; the last bucket is open. */
    public static final long[] BUCKET_MICROS = {50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000,
            100_000, 200_000, 500_000, 1_000_000, 5_000_000, Long.MAX_VALUE};

    private final LongAdder[] ops = new LongAdder[Kind.values().length];
    private final LongAdder[] bytes = new LongAdder[Kind.values().length];
    private final ConcurrentHashMap<Integer, LongAdder> errors = new ConcurrentHashMap<>();
    private final AtomicLongArray latency = new AtomicLongArray(BUCKET_MICROS.length);
    private final LongAdder latencySumMicros = new LongAdder();
    /** Exponentially weighted recent latency in nanoseconds (racy by design: a hint for selection). */
    private volatile double ewmaNanos;
    /** Round trip of the last successful Keep Alive, in nanoseconds; -1 before the first. */
    private volatile long keepAliveRttNanos = -1;

    PathStats() {
        for (int i = 0; i < ops.length; i++) {
            ops[i] = new LongAdder();
            bytes[i] = new LongAdder();
        }
    }

    static Kind kind(int opcode) {
        return switch (opcode) {
            case Opcodes.NVM_READ -> Kind.READ;
            case Opcodes.NVM_WRITE -> Kind.WRITE;
            case Opcodes.NVM_FLUSH -> Kind.FLUSH;
            default -> Kind.OTHER;
        };
    }

    /**
     * Records one completed I/O command: a success in ops, bytes and latency by kind; a failure only
     * under errors, by status (so ops + errors is every completion).
     */
    void record(NvmeRequest r, int status, long nanos) {
        if (status != 0 && (status & 0x7FF) != 0) {
            errors.computeIfAbsent(status & 0x7FF, k -> new LongAdder()).increment();
            return;
        }
        Kind k = kind(r.sqe().opcode());
        ops[k.ordinal()].increment();
        bytes[k.ordinal()].add(r.dataLength());
        long micros = nanos / 1000;
        int b = 0;
        while (micros > BUCKET_MICROS[b]) {
            b++;
        }
        latency.incrementAndGet(b);
        latencySumMicros.add(micros);
        double e = ewmaNanos;
        ewmaNanos = e == 0 ? nanos : e + (nanos - e) / 16;
    }

    /** Round trip of the last successful Keep Alive in microseconds, -1 when none completed yet. */
    public long keepAliveRttMicros() {
        long n = keepAliveRttNanos;
        return n < 0 ? -1 : n / 1000;
    }

    void keepAliveRtt(long nanos) {
        keepAliveRttNanos = nanos;
    }

    public long ops(Kind k) {
        return ops[k.ordinal()].sum();
    }

    public long bytes(Kind k) {
        return bytes[k.ordinal()].sum();
    }

    /** Successful I/O commands of every kind. */
    public long totalOps() {
        long n = 0;
        for (LongAdder a : ops) {
            n += a.sum();
        }
        return n;
    }

    /** Failed commands by status code (SCT/SC). */
    public Map<Integer, Long> errors() {
        Map<Integer, Long> m = new TreeMap<>();
        errors.forEach((k, v) -> m.put(k, v.sum()));
        return m;
    }

    /** Completions per latency bucket ({@link #BUCKET_MICROS}). */
    public long[] latencyBuckets() {
        long[] out = new long[latency.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = latency.get(i);
        }
        return out;
    }

    public long latencySumMicros() {
        return latencySumMicros.sum();
    }

    /** Recent average latency in nanoseconds; 0 before the first completion. */
    public double recentLatencyNanos() {
        return ewmaNanos;
    }
}
