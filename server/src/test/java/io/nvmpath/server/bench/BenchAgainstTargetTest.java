package io.nvmpath.server.bench;

import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.testing.Await;
import io.nvmpath.multipath.FailoverRecord;
import io.nvmpath.multipath.IoPolicy;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** The load generator against the project's target, in-process: demo subsystem, two ports. */
class BenchAgainstTargetTest {
    private NvmeTarget target;

    @BeforeEach
    void start() throws Exception {
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
    }

    @AfterEach
    void stop() {
        target.close();
    }

    private String port(int id) {
        return "127.0.0.1:" + target.port(id);
    }

    private BenchConfig.Builder config(RwMode rw) {
        return BenchConfig.builder(TargetConfig.DEMO_NQN, new TransportAddress("127.0.0.1", target.port(1)),
                        new TransportAddress("127.0.0.1", target.port(2)))
                .rw(rw).blockSize(4096).ioDepth(32).runtime(Duration.ofMillis(1500)).regionBytes(8 << 20)
                .verify(true).seed(42)
                .controller(new ControllerOptions().keepAliveTimeout(Duration.ofSeconds(2)));
    }

    @Test
    void should_send_every_io_to_the_optimized_path_under_numa_and_verify_every_block() {
        BenchResult r = Bench.run(config(RwMode.RANDREAD).ioPolicy(IoPolicy.NUMA).build());

        assertThat(r.errors()).isEmpty();
        assertThat(r.verifyErrors()).isZero();
        assertThat(r.ios()).isPositive();
        assertThat(r.perPath()).containsOnlyKeys(port(1), port(2));
        assertThat(r.perPath().get(port(1))).isEqualTo(r.ios());
        assertThat(r.perPath().get(port(2))).isZero();
        assertThat(r.head()).isNotNull();
        assertThat(r.head().failovers()).isZero();
        assertThat(r.latencyUs().p50()).isPositive().isLessThanOrEqualTo(r.latencyUs().p99());
        assertThat(r.latencyUs().p99()).isLessThanOrEqualTo(r.latencyUs().p999());
        assertThat(r.latencyUs().p999()).isLessThanOrEqualTo(r.latencyUs().max());
        assertThat(r.iops()).isCloseTo(r.ios() / r.seconds(), org.assertj.core.data.Percentage.withPercentage(0.1));
        assertThat(r.bytes()).isEqualTo(r.ios() * 4096);
        assertThat(r.maxStallMs()).isPositive().isLessThan(r.seconds() * 1000);
        assertThat(r.passed()).isTrue();
    }

    @Test
    void should_use_both_optimized_paths_under_round_robin_with_writes_verified_on_read_back() throws Exception {
        target.setAnaState(2, 1, AnaState.OPTIMIZED);

        BenchResult r = Bench.run(config(RwMode.RANDRW).ioPolicy(IoPolicy.ROUND_ROBIN).build());

        assertThat(r.errors()).isEmpty();
        assertThat(r.verifyErrors()).isZero();
        assertThat(r.perPath()).containsOnlyKeys(port(1), port(2));
        assertThat(r.perPath().get(port(1))).isPositive();
        assertThat(r.perPath().get(port(2))).isPositive();
        assertThat(r.perPath().get(port(1)) + r.perPath().get(port(2))).isEqualTo(r.ios());
        // strict alternation at the head; completions interleave, so only roughly half each
        assertThat((double) r.perPath().get(port(1)) / r.ios()).isBetween(0.3, 0.7);
    }

    @Test
    void should_run_the_single_path_baseline_on_the_first_port_without_a_head() {
        BenchResult r = Bench.run(config(RwMode.RANDWRITE).singlePath(true).build());

        assertThat(r.errors()).isEmpty();
        assertThat(r.verifyErrors()).isZero();
        assertThat(r.head()).isNull();
        assertThat(r.perPath()).containsExactly(org.assertj.core.api.Assertions.entry(port(1), r.ios()));
        assertThat(r.ios()).isPositive();
    }

    @Test
    void should_count_sequential_reads_of_a_region_written_before_the_run() {
        BenchResult r = Bench.run(config(RwMode.READ).regionBytes(1 << 20).blockSize(64 << 10).build());

        assertThat(r.errors()).isEmpty();
        assertThat(r.verifyErrors()).isZero();
        assertThat(r.regionBytes()).isEqualTo(1 << 20);
        assertThat(r.ios()).isPositive();
    }

    @Test
    void should_detect_blocks_that_do_not_hold_the_pattern() {
        // the pattern of seed 42 is written, then the measured phase checks against another seed's
        try (Bench b = Bench.start(config(RwMode.RANDREAD).build())) {
            b.stop();
            assertThat(b.await().verifyErrors()).isZero();
        }
        BenchConfig other = config(RwMode.RANDREAD).seed(43).build();
        BenchResult r;
        try (Bench b = Bench.start(other, false)) {
            r = b.await();
        }
        assertThat(r.verifyErrors()).isPositive();
        assertThat(r.firstVerifyError()).startsWith("LBA ").contains("differs at byte 8");
        assertThat(r.passed()).isFalse();
    }

    @Test
    void should_report_failed_ios_by_status_and_not_pass() {
        target.setFault(1, new Fault.Fail(5, Status.READ_ERROR | Status.DNR));

        BenchResult r = Bench.run(config(RwMode.RANDREAD).verify(false).build());

        assertThat(r.errors()).containsExactly(org.assertj.core.api.Assertions.entry(
                Status.describe(Status.READ_ERROR | Status.DNR), 5L));
        assertThat(r.errorCount()).isEqualTo(5);
        assertThat(r.passed()).isFalse();
        assertThat(r.ios()).isPositive();
    }

    @Test
    void should_report_the_failovers_of_the_run_with_their_cause_and_stall() {
        BenchResult r;
        try (Bench b = Bench.start(config(RwMode.RANDREAD).build())) {
            Await.until("reads done", () -> b.iosNow() > 200);
            target.setAnaState(1, 1, AnaState.INACCESSIBLE);
            long before = b.perPathNow().getOrDefault("127.0.0.1:" + target.port(2), 0L);
            Await.until("reads on port 2",
                    () -> b.perPathNow().getOrDefault("127.0.0.1:" + target.port(2), 0L) > before + 100);
            b.stop();
            r = b.await();
        } finally {
            target.setAnaState(1, 1, AnaState.OPTIMIZED);
        }

        assertThat(r.head().events()).isNotEmpty();
        FailoverRecord f = r.head().events().get(0);
        assertThat(f.cause()).isEqualTo("ana-state");
        assertThat(f.from()).startsWith("127.0.0.1:" + target.port(1) + " cntlid");
        assertThat(f.to()).startsWith("127.0.0.1:" + target.port(2) + " cntlid");
        assertThat(f.stallMillis()).isNotNegative();
        assertThat(r.errorCount()).isZero();
    }
}
