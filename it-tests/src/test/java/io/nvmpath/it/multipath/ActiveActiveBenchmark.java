package io.nvmpath.it.multipath;

import io.netty.util.ResourceLeakDetector;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.multipath.IoPolicy;
import io.nvmpath.server.bench.Bench;
import io.nvmpath.server.bench.BenchConfig;
import io.nvmpath.server.bench.BenchResult;
import io.nvmpath.server.bench.RwMode;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Active-active over paths that are only so fast: both ports of the project's target (in this JVM)
 * ANA optimized and capped by the {@code throttle} fault, so the cap, not the CPU, is what a path
 * can carry, and what the iopolicies make of two of them is measured.
 *
 * <ol>
 *   <li>Unthrottled, one controller and the head under round-robin: the headroom, which must be
 *       well above the caps for the caps to be what is measured.</li>
 *   <li>Equal caps C and C: one path alone (one controller, no head) vs the head under
 *       round-robin, queue-depth and service-time. Goal: 1.9× one path.</li>
 *   <li>Unequal caps C and C/2: the head under queue-depth and service-time vs the sum of the
 *       caps (goal 0.9×); round-robin for contrast (it sends each path the same share, so the
 *       slower one sets the pace: 2 × C/2 = 0.67 of the sum).</li>
 * </ol>
 *
 * <p>The cap is {@code -Dnvmpath.bench.throttle=RATE} as the fault reads it, default
 * {@value #DEFAULT_CAP}: a byte rate runs 128 KiB random reads, an I/O rate 4 KiB ones; iodepth
 * {@value #IODEPTH}. Each run ramps 2 s and measures 5 s, once (the caps make the numbers steady).
 * Prints a table; never fails on speed, only on I/O errors or paths that are not both optimized.
 *
 * <p>Run alone: {@code ./mvnw -pl it-tests verify -Dit.test=ActiveActiveBenchmark -Dtest=None
 * -Dsurefire.failIfNoSpecifiedTests=false}; the table is in
 * {@code it-tests/target/failsafe-reports/io.nvmpath.it.multipath.ActiveActiveBenchmark-output.txt}.
 */
class ActiveActiveBenchmark {
    private static final String DEFAULT_CAP = "100MiB/s";
    private static final int IODEPTH = 32;
    private static final Duration RAMP = Duration.ofSeconds(2);
    private static final Duration RUNTIME = Duration.ofSeconds(5);
    private static final double EQUAL_GOAL = 1.9;
    private static final double UNEQUAL_GOAL = 0.9;

    private static ResourceLeakDetector.Level leakLevel;
    private static NvmeTarget target;

    /** One line of the table. */
    private record Row(String config, String caps, BenchResult result, double rate, double vsOnePath,
                       double vsSum, String goal, String met) {
    }

    @BeforeAll
    static void start() throws Exception {
        leakLevel = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
        target.setAnaState(2, 1, AnaState.OPTIMIZED); // the demo's port 2 is non-optimized: active-active needs both
    }

    @AfterAll
    static void stop() {
        if (target != null) {
            target.close();
        }
        if (leakLevel != null) {
            ResourceLeakDetector.setLevel(leakLevel);
        }
    }

    private static BenchConfig config(int blockSize, boolean singlePath, IoPolicy policy) {
        return BenchConfig.builder(TargetConfig.DEMO_NQN, new TransportAddress("127.0.0.1", target.port(1)),
                        new TransportAddress("127.0.0.1", target.port(2)))
                .controller(new ControllerOptions().keepAliveTimeout(Duration.ofSeconds(5)))
                .rw(RwMode.RANDREAD).blockSize(blockSize).ioDepth(IODEPTH).rampTime(RAMP).runtime(RUNTIME)
                .regionBytes(256 << 20).singlePath(singlePath).ioPolicy(policy).threads(2)
                .build();
    }

    private static BenchResult run(String what, BenchConfig config) {
        BenchResult r = Bench.run(config);
        assertThat(r.errors()).as(what).isEmpty();
        assertThat(r.ios()).as(what).isPositive();
        if (!config.singlePath()) {
            assertThat(r.paths()).as(what + ": both paths optimized and live").hasSize(2)
                    .allSatisfy((path, state) -> assertThat(state).isEqualTo("optimized, live"));
        }
        return r;
    }

    @Test
    void prints_what_round_robin_queue_depth_and_service_time_make_of_two_throttled_paths() {
        Fault.Throttle cap = (Fault.Throttle) Fault.parse("throttle " + System.getProperty("nvmpath.bench.throttle",
                DEFAULT_CAP));
        boolean bytes = cap.unit() == Fault.Throttle.Unit.BYTES;
        Fault.Throttle half = new Fault.Throttle(cap.perSecond() / 2, cap.unit());
        int bs = bytes ? 128 << 10 : 4096;
        String unit = bytes ? "MiB/s" : "iops";
        double c = bytes ? cap.perSecond() / (double) (1 << 20) : cap.perSecond();
        List<Row> rows = new ArrayList<>();

        // 1. headroom, no fault
        BenchResult free1 = run("unthrottled, one path", config(bs, true, IoPolicy.NUMA));
        BenchResult free2 = run("unthrottled, head", config(bs, false, IoPolicy.ROUND_ROBIN));
        rows.add(new Row("one path, unthrottled", "none", free1, rate(free1, bytes), Double.NaN, rate(free1, bytes) / (2 * c),
                "> 2x cap", rate(free1, bytes) > 2 * c ? "met" : "NOT met"));
        rows.add(new Row("head round-robin, unthrottled", "none", free2, rate(free2, bytes), rate(free2, bytes) / rate(free1, bytes),
                rate(free2, bytes) / (2 * c), "> 2x cap", rate(free2, bytes) > 2 * c ? "met" : "NOT met"));

        // 2. equal caps
        target.setFault(1, cap);
        target.setFault(2, cap);
        String equal = cap.rate() + " + " + cap.rate();
        BenchResult one = run("one path, " + equal, config(bs, true, IoPolicy.NUMA));
        double base = rate(one, bytes);
        rows.add(new Row("one path (1 controller)", cap.rate(), one, base, 1.0, base / c, "~1.00x cap",
                Math.abs(base / c - 1) <= 0.05 ? "met" : "NOT met"));
        for (IoPolicy p : List.of(IoPolicy.ROUND_ROBIN, IoPolicy.QUEUE_DEPTH, IoPolicy.SERVICE_TIME)) {
            BenchResult r = run("head " + p + ", " + equal, config(bs, false, p));
            double v = rate(r, bytes);
            rows.add(new Row("head " + p.label(), equal, r, v, v / base, v / (2 * c),
                    String.format(Locale.ROOT, ">= %.2fx one path", EQUAL_GOAL), v / base >= EQUAL_GOAL ? "met" : "NOT met"));
        }

        // 3. unequal caps: port 2 at half
        target.setFault(2, half);
        String unequal = cap.rate() + " + " + half.rate();
        double sum = c * 1.5;
        for (IoPolicy p : List.of(IoPolicy.QUEUE_DEPTH, IoPolicy.SERVICE_TIME, IoPolicy.ROUND_ROBIN)) {
            BenchResult r = run("head " + p + ", " + unequal, config(bs, false, p));
            double v = rate(r, bytes);
            boolean contrast = p == IoPolicy.ROUND_ROBIN;
            rows.add(new Row("head " + p.label(), unequal, r, v, v / base, v / sum,
                    contrast ? "contrast (2x slower = 0.67x)" : String.format(Locale.ROOT, ">= %.2fx sum of caps", UNEQUAL_GOAL),
                    contrast ? "-" : v / sum >= UNEQUAL_GOAL ? "met" : "NOT met"));
        }
        target.setFault(1, Fault.NONE);
        target.setFault(2, Fault.NONE);

        System.out.print(table(rows, bs, unit, bytes));
    }

    private static String table(List<Row> rows, int bs, String unit, boolean bytes) {
        StringBuilder t = new StringBuilder(String.format(Locale.ROOT,
                "%n%d KiB randread, iodepth %d, ramp %d s, %d s measured, one run each; target in the same JVM,"
                        + " %d CPUs; both ports ANA optimized; ratio vs one path is vs the throttled single path%n",
                bs >> 10, IODEPTH, RAMP.toSeconds(), RUNTIME.toSeconds(), Runtime.getRuntime().availableProcessors()));
        t.append(String.format(Locale.ROOT, "%-30s %-22s %10s %9s %9s %8s %8s  %-26s %-8s %s%n", "configuration",
                "caps (port 1 + port 2)", unit, "vs 1 path", "vs caps", "p50 ms", "p99 ms", "goal", "result",
                "per path (" + unit + ")"));
        for (Row r : rows) {
            BenchResult b = r.result();
            StringBuilder per = new StringBuilder();
            for (Map.Entry<String, Long> e : b.perPath().entrySet()) {
                double share = bytes ? e.getValue() * (double) bs / (1 << 20) / b.seconds() : e.getValue() / b.seconds();
                per.append(per.isEmpty() ? "" : ", ").append(e.getKey().replace("127.0.0.1:", ":"))
                        .append(String.format(Locale.ROOT, " %.0f", share));
            }
            t.append(String.format(Locale.ROOT, "%-30s %-22s %10.1f %9s %9.2f %8.1f %8.1f  %-26s %-8s %s%n", r.config(),
                    r.caps(), r.rate(), Double.isNaN(r.vsOnePath()) ? "-" : String.format(Locale.ROOT, "%.2f", r.vsOnePath()),
                    r.vsSum(), b.latencyUs().p50() / 1000, b.latencyUs().p99() / 1000, r.goal(), r.met(), per));
        }
        t.append("vs caps: the rate over the sum of the two caps in force (unthrottled rows: over 2x the cap,"
                + " the headroom)\n");
        return t.toString();
    }

    private static double rate(BenchResult r, boolean bytes) {
        return bytes ? r.bandwidthMiBps() : r.iops();
    }
}
