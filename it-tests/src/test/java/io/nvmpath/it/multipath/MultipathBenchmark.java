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
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the namespace head costs and what a second path brings: 4 KiB random reads at iodepth 32
 * against the project's target in this JVM, through one controller (no head) and through a head over
 * two optimized paths under numa, queue-depth and round-robin. Each run ramps for 2 s and measures 5 s;
 * the configurations are interleaved over {@value #ROUNDS} rounds and each is reported by its best
 * round. Prints a table with the ratio to the single path; never fails on speed.
 *
 * <p>Netty's leak detector is switched off while it runs: at paranoid it records a stack trace on
 * every buffer operation and would measure itself. The target shares the JVM and the CPUs with the
 * host, so the numbers are a comparison between configurations, not what either side can do alone.
 *
 * <p>Run alone: {@code ./mvnw -pl it-tests verify -Dit.test=MultipathBenchmark -Dtest=None
 * -Dsurefire.failIfNoSpecifiedTests=false}; the table is in
 * {@code it-tests/target/failsafe-reports/io.nvmpath.it.multipath.MultipathBenchmark-output.txt}.
 */
class MultipathBenchmark {
    private static final int ROUNDS = 2;
    private static final Duration RAMP = Duration.ofSeconds(2);
    private static final Duration RUNTIME = Duration.ofSeconds(5);

    private static ResourceLeakDetector.Level leakLevel;
    private static NvmeTarget target;

    @BeforeAll
    static void start() throws Exception {
        leakLevel = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
        target.setAnaState(2, 1, AnaState.OPTIMIZED);
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

    private static BenchConfig config(boolean singlePath, IoPolicy policy) {
        return BenchConfig.builder(TargetConfig.DEMO_NQN, new TransportAddress("127.0.0.1", target.port(1)),
                        new TransportAddress("127.0.0.1", target.port(2)))
                .controller(new ControllerOptions().keepAliveTimeout(Duration.ofSeconds(5)))
                .rw(RwMode.RANDREAD).blockSize(4096).ioDepth(32).rampTime(RAMP).runtime(RUNTIME)
                .regionBytes(256 << 20).singlePath(singlePath).ioPolicy(policy).threads(2)
                .build();
    }

    @Test
    void prints_head_and_two_path_throughput_relative_to_one_controller() {
        Map<String, BenchConfig> configs = new LinkedHashMap<>();
        configs.put("single path (1 controller)", config(true, IoPolicy.NUMA));
        configs.put("head, numa, 2 paths", config(false, IoPolicy.NUMA));
        configs.put("head, queue-depth, 2 paths", config(false, IoPolicy.QUEUE_DEPTH));
        configs.put("head, round-robin, 2 paths", config(false, IoPolicy.ROUND_ROBIN));
        Map<String, List<BenchResult>> runs = new LinkedHashMap<>();
        for (int round = 0; round < ROUNDS; round++) {
            for (Map.Entry<String, BenchConfig> e : configs.entrySet()) {
                BenchResult r = Bench.run(e.getValue());
                runs.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(r);
                assertThat(r.errors()).as(e.getKey()).isEmpty();
            }
        }
        double base = best(runs.get("single path (1 controller)")).iops();
        StringBuilder t = new StringBuilder(String.format(Locale.ROOT,
                "%n4 KiB randread, iodepth 32, ramp %d s, %d s measured, best of %d; target in the same JVM, %d CPUs%n",
                RAMP.toSeconds(), RUNTIME.toSeconds(), ROUNDS, Runtime.getRuntime().availableProcessors()));
        t.append(String.format(Locale.ROOT, "%-28s %10s %9s %8s %8s %9s %7s  %s%n", "configuration", "iops", "MiB/s",
                "p50 us", "p99 us", "p99.9 us", "ratio", "all rounds (iops) / per path"));
        for (Map.Entry<String, List<BenchResult>> e : runs.entrySet()) {
            BenchResult b = best(e.getValue());
            t.append(String.format(Locale.ROOT, "%-28s %10.0f %9.1f %8.0f %8.0f %9.0f %7.2f  %s / %s%n", e.getKey(),
                    b.iops(), b.bandwidthMiBps(), b.latencyUs().p50(), b.latencyUs().p99(), b.latencyUs().p999(),
                    b.iops() / base, e.getValue().stream().map(r -> String.format(Locale.ROOT, "%.0f", r.iops())).toList(),
                    b.perPath().values()));
        }
        System.out.print(t);
    }

    private static BenchResult best(List<BenchResult> rs) {
        return rs.stream().max(java.util.Comparator.comparingDouble(BenchResult::iops)).orElseThrow();
    }
}
