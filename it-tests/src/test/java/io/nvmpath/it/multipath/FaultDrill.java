package io.nvmpath.it.multipath;

import io.nvmpath.server.bench.Bench;
import io.nvmpath.server.bench.BenchConfig;
import io.nvmpath.server.bench.BenchResult;

import io.nvmpath.multipath.FailoverRecord;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One failover drill under load: the bench runs through a namespace head, a fault is injected and
 * held, then cleared; the drill measures the longest completion stall from the injection until I/O is
 * back on the optimized path, and how long failback took after the clear.
 *
 * <p>Steps: load flows for a second, all of it on the optimized path (numa); inject; hold; clear; wait
 * until a window of completions is all on the optimized path again; stop; every I/O succeeded and
 * every block verified.
 */
final class FaultDrill {
    /** A step of the drill that may look at the running bench. */
    @FunctionalInterface
    interface Step {
        void run(Bench bench) throws Exception;
    }

    /**
     * What one drill measured.
     *
     * @param stallMs longest interval without a successful completion, from the injection to failback
     * @param failbackMs from the end of the clear step to the first window all on the optimized path
     * @param duringFault successful I/Os per path while the fault was held
     * @param failovers FAILOVER dispositions of the head over the whole run
     */
    record Outcome(String fault, String rw, long stallMs, long failbackMs, Map<String, Long> duringFault,
                   long failovers, BenchResult result) {
    }

    /** Completions counted over a short window to tell where I/O goes now. */
    static final Duration WINDOW = Duration.ofMillis(300);
    private static final Duration STEADY = Duration.ofSeconds(1);
    private static final Duration FAILBACK_LIMIT = Duration.ofSeconds(20);

    private FaultDrill() {
    }

    /**
     * The drills of one test class, for its closing table: per fault, the read and the write stall
     * and how the writes' fence was released.
     */
    static final class Table {
        private final Map<String, Map<String, Outcome>> rows = new TreeMap<>();

        synchronized void add(Outcome o) {
            rows.computeIfAbsent(o.fault(), k -> new TreeMap<>()).put(o.rw(), o);
        }

        /** The table, one line per fault. */
        synchronized String render(String title) {
            StringBuilder b = new StringBuilder(title).append('\n');
            b.append(String.format("%-30s %12s %13s  %-24s %s%n", "fault", "read stall", "write stall",
                    "fence (writes fenced)", "failover causes"));
            rows.forEach((fault, byRw) -> {
                Outcome r = byRw.get("randread");
                Outcome w = byRw.get("randwrite");
                List<FailoverRecord> events = new ArrayList<>();
                byRw.values().forEach(o -> events.addAll(events(o)));
                String fence = w == null ? "-" : fenceOf(events(w));
                String causes = events.stream().map(FailoverRecord::cause).distinct().sorted()
                        .collect(Collectors.joining(", "));
                b.append(String.format("%-30s %9s ms %10s ms  %-24s %s%n", fault, r == null ? "-" : r.stallMs(),
                        w == null ? "-" : w.stallMs(), fence, causes.isEmpty() ? "-" : causes));
            });
            return b.toString();
        }

        private static List<FailoverRecord> events(Outcome o) {
            return o.result().head() == null ? List.of() : o.result().head().events();
        }

        /** e.g. "ccr 12 ms (16)", "time 4001 ms (32)", "none": the longest wait per method. */
        private static String fenceOf(List<FailoverRecord> events) {
            Map<String, long[]> byMethod = new TreeMap<>();
            for (FailoverRecord f : events) {
                if (f.fenced() > 0) {
                    long[] m = byMethod.computeIfAbsent(f.fenceMethod(), k -> new long[2]);
                    m[0] = Math.max(m[0], f.fenceWaitMillis());
                    m[1] += f.fenced();
                }
            }
            if (byMethod.isEmpty()) {
                return "none";
            }
            return byMethod.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()[0] + " ms (" + e.getValue()[1] + ")")
                    .collect(Collectors.joining(", "));
        }
    }

    /**
     * Runs the drill.
     *
     * @param optimized the path (address) numa must use when it is usable
     * @param other the other path, for the printout
     * @param hold how long the fault stays before {@code clear}
     */
    static Outcome run(String fault, BenchConfig config, String optimized, String other, Step inject, Duration hold,
                       Step clear) throws Exception {
        try (Bench bench = Bench.start(config)) {
            Thread.sleep(STEADY.toMillis());
            Map<String, Long> steady = window(bench, WINDOW);
            assertThat(bench.errorsByStatusNow()).as("errors before the fault").isEmpty();
            assertThat(total(steady)).as("I/O flows before the fault").isPositive();
            assertThat(onlyOn(steady, optimized)).as("numa: all I/O on the optimized path %s before the fault: %s",
                    optimized, steady).isTrue();

            bench.takeStallNanos();
            Map<String, Long> before = bench.perPathNow();
            inject.run(bench);
            Thread.sleep(hold.toMillis());
            Map<String, Long> during = delta(bench.perPathNow(), before);
            clear.run(bench);
            long cleared = System.nanoTime();
            long failbackMs = -1;
            Map<String, Long> last = Map.of();
            while (System.nanoTime() - cleared < FAILBACK_LIMIT.toNanos()) {
                last = window(bench, WINDOW);
                if (total(last) > 0 && onlyOn(last, optimized)) {
                    // the window ends after failback: take its start as the bound
                    failbackMs = Math.max(0, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - cleared) - WINDOW.toMillis());
                    break;
                }
            }
            long stallMs = TimeUnit.NANOSECONDS.toMillis(bench.takeStallNanos());
            long failovers = bench.head() == null ? 0 : bench.head().view().failovers();
            bench.stop();
            BenchResult r = bench.await();
            Outcome o = new Outcome(fault, config.rw().label(), stallMs, failbackMs, during, failovers, r);
            System.out.printf("%-28s %-9s stall %6d ms, failback within %5d ms, I/O while held: optimized %d, "
                            + "other %d; failovers %d, %d ios, %.0f iops, errors %s, verify errors %d, p99.9 %.0f us%n",
                    fault, config.rw().label(), stallMs, failbackMs, during.getOrDefault(optimized, 0L),
                    during.getOrDefault(other, 0L), failovers, r.ios(), r.iops(), r.errors(), r.verifyErrors(),
                    r.latencyUs().p999());
            assertThat(r.errors()).as("I/O errors (%s)", fault).isEmpty();
            assertThat(r.verifyErrors()).as("verify errors (%s): %s", fault, r.firstVerifyError()).isZero();
            assertThat(failbackMs).as("I/O back on %s within %s after the clear; last window %s", optimized,
                    FAILBACK_LIMIT, last).isNotNegative();
            return o;
        }
    }

    /** Successful I/Os per path during the next {@code d}. */
    static Map<String, Long> window(Bench bench, Duration d) throws InterruptedException {
        Map<String, Long> a = bench.perPathNow();
        Thread.sleep(d.toMillis());
        return delta(bench.perPathNow(), a);
    }

    static Map<String, Long> delta(Map<String, Long> now, Map<String, Long> before) {
        Map<String, Long> d = new HashMap<>();
        now.forEach((k, v) -> d.put(k, v - before.getOrDefault(k, 0L)));
        return d;
    }

    static long total(Map<String, Long> m) {
        return m.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Whether every I/O of the window went to {@code path}. */
    static boolean onlyOn(Map<String, Long> window, String path) {
        return window.getOrDefault(path, 0L) > 0 && window.getOrDefault(path, 0L) == total(window);
    }
}
