package io.nvmpath.multipath;

import io.nvmpath.fabric.host.NvmeRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Every failover of the path layer: open events while their requests move, then a bounded ring of
 * records (newest last) and, per subsystem and cause, a count and a stall histogram for Prometheus.
 * Thread-safe (failures are rare; the success path never comes here).
 */
public final class FailoverLog {
    private static final Logger log = LoggerFactory.getLogger(FailoverLog.class);
    /** Records kept. */
    public static final int CAPACITY = 256;
    /** Upper bounds of the stall histogram's buckets, in seconds (then +Inf). */
    public static final double[] STALL_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

    /** Count and stall histogram of one subsystem and cause. */
    public record Stats(String subsystem, String cause, long count, long[] buckets, double stallSumSeconds) {
    }

    private record Key(NamespaceHead head, Path from, FailoverCause cause) {
    }

    private final LongSupplier clock;
    private final Map<Key, FailoverEvent> open = new HashMap<>();
    private final ArrayDeque<FailoverRecord> ring = new ArrayDeque<>();
    private final Map<String, Map<String, long[]>> histograms = new TreeMap<>();
    private final Map<String, Map<String, double[]>> sums = new TreeMap<>();

    public FailoverLog(LongSupplier clock) {
        this.clock = clock;
    }

    /** {@code r} fails over from {@code from}: joins the open event of its head, path and cause, or opens one. */
    synchronized void moved(HeadRequest r, Path from, NvmeRequest req) {
        FailoverCause cause = FailoverCause.of(req);
        Key k = new Key(r.head, from, cause);
        FailoverEvent e = open.get(k);
        if (e == null) {
            e = new FailoverEvent(r.head, from, cause, req.status(), clock.getAsLong(), System.currentTimeMillis());
            open.put(k, e);
        }
        FailoverEvent was = r.event;
        if (was != e) {
            if (was != null) {
                leave(was);
            }
            r.event = e;
            e.join(WriteFences.hasSideEffects(req));
        }
    }

    /** The request of an event was held behind {@code f}. */
    synchronized void fenced(HeadRequest r, WriteFence f) {
        if (r.event != null) {
            r.event.fenced(f);
        }
    }

    /** A request of an event completed: on {@code on} when it succeeded. */
    synchronized void completed(HeadRequest r, boolean ok, Path on) {
        FailoverEvent e = r.event;
        if (e == null) {
            return;
        }
        r.event = null;
        if (ok && on != null) { // another path, or the same one through a new association
            e.firstSuccess(on, clock.getAsLong());
        }
        if (e.done()) {
            close(e);
        }
    }

    private void leave(FailoverEvent e) {
        if (e.done()) {
            close(e);
        }
    }

    private void close(FailoverEvent e) {
        open.remove(new Key(e.head, e.from, e.cause));
        FailoverRecord rec = e.record();
        ring.addLast(rec);
        while (ring.size() > CAPACITY) {
            ring.removeFirst();
        }
        long[] b = histograms.computeIfAbsent(rec.subsystem(), k -> new TreeMap<>())
                .computeIfAbsent(rec.cause(), k -> new long[STALL_BUCKETS.length + 1]);
        double[] sum = sums.computeIfAbsent(rec.subsystem(), k -> new TreeMap<>())
                .computeIfAbsent(rec.cause(), k -> new double[1]);
        if (rec.stallMillis() >= 0) {
            double s = rec.stallMillis() / 1000.0;
            int i = 0;
            while (i < STALL_BUCKETS.length && s > STALL_BUCKETS[i]) {
                i++;
            }
            b[i]++;
            sum[0] += s;
        } else {
            b[STALL_BUCKETS.length]++;
        }
        log.info("{} nsid {}: failover from {} ({}{}): {} reads, {} writes ({} fenced{}), stall {}", rec.subsystem(),
                rec.nsid(), rec.from(), rec.cause(), rec.to() == null ? "" : " to " + rec.to(), rec.reads(),
                rec.writes(), rec.fenced(), rec.fenced() > 0 ? ", released by " + rec.fenceMethod() + " after "
                        + rec.fenceWaitMillis() + " ms" : "", rec.stallMillis() < 0 ? "-" : rec.stallMillis() + " ms");
    }

    /** The records kept, newest first. */
    public synchronized List<FailoverRecord> records() {
        List<FailoverRecord> l = new ArrayList<>(ring);
        java.util.Collections.reverse(l);
        return l;
    }

    /** Per subsystem and cause: failovers and their stalls (buckets as {@link #STALL_BUCKETS}, not cumulative). */
    public synchronized List<Stats> stats() {
        List<Stats> out = new ArrayList<>();
        histograms.forEach((nqn, byCause) -> byCause.forEach((cause, b) -> {
            long n = 0;
            for (long x : b) {
                n += x;
            }
            out.add(new Stats(nqn, cause, n, b.clone(), sums.get(nqn).get(cause)[0]));
        }));
        return out;
    }

    /** Events still open (tests). */
    synchronized int openCount() {
        return open.size();
    }

    static long millis(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }
}
