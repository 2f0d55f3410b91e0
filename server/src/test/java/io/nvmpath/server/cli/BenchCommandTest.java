package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code nvmpath bench} end to end against the project's target on two ephemeral ports. */
class BenchCommandTest {
    private NvmeTarget target;

    @BeforeEach
    void start() throws Exception {
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
    }

    @AfterEach
    void stop() {
        target.close();
    }

    private CliRun bench(String... more) {
        String[] args = new String[9 + more.length];
        args[0] = "bench";
        args[1] = "-a";
        args[2] = "127.0.0.1";
        args[3] = "-s";
        args[4] = String.valueOf(target.port(1));
        args[5] = "-s";
        args[6] = String.valueOf(target.port(2));
        args[7] = "-n";
        args[8] = TargetConfig.DEMO_NQN;
        System.arraycopy(more, 0, args, 9, more.length);
        return CliRun.of(args);
    }

    @Test
    void should_print_one_json_document_with_the_numbers_and_the_configuration() throws Exception {
        CliRun r = bench("--rw", "randread", "--bs", "4k", "--iodepth", "8", "--runtime", "1", "--size", "4m",
                "--verify", "--kato", "2000", "--reconnect-delay", "500", "-o", "json");

        assertThat(r.err()).isEmpty();
        assertThat(r.exitCode()).isZero();
        JsonNode j = Report.MAPPER.readTree(r.out());
        assertThat(j.get("iops").asDouble()).isPositive();
        assertThat(j.get("bandwidthMiBps").asDouble()).isPositive();
        assertThat(j.get("latencyUs").get("p50").asDouble()).isPositive();
        assertThat(j.get("latencyUs").has("p99")).isTrue();
        assertThat(j.get("latencyUs").has("p999")).isTrue();
        assertThat(j.get("ios").asLong()).isPositive();
        assertThat(j.get("errors").size()).isZero();
        assertThat(j.get("verifyErrors").asLong()).isZero();
        assertThat(j.get("perPath").get("127.0.0.1:" + target.port(1)).asLong()).isEqualTo(j.get("ios").asLong());
        assertThat(j.get("perPath").get("127.0.0.1:" + target.port(2)).asLong()).isZero();
        assertThat(j.get("maxStallMs").asDouble()).isPositive();
        assertThat(j.get("failovers").asLong()).isZero();
        JsonNode c = j.get("config");
        assertThat(c.get("rw").asText()).isEqualTo("randread");
        assertThat(c.get("bs").asInt()).isEqualTo(4096);
        assertThat(c.get("iodepth").asInt()).isEqualTo(8);
        assertThat(c.get("iopolicy").asText()).isEqualTo("numa");
        assertThat(c.get("size").asLong()).isEqualTo(4 << 20);
        assertThat(c.get("katoMs").asLong()).isEqualTo(2000);
        assertThat(c.get("trsvcid")).hasSize(2);
    }

    @Test
    void should_print_a_table_for_the_single_path_baseline() {
        CliRun r = bench("--single-path", "--runtime", "0.5", "--rw", "randwrite", "--size", "1m");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).startsWith("bench: randwrite, 4 KiB blocks, iodepth 32, ")
                .contains("paths         : single path (one controller, no head)")
                .contains("errors        : 0")
                .contains("127.0.0.1:" + target.port(1))
                .doesNotContain("127.0.0.1:" + target.port(2))
                .doesNotContain("failovers");
    }

    @Test
    void should_exit_1_and_count_errors_by_status_when_ios_fail() {
        target.setFault(1, new Fault.Fail(3, Status.WRITE_FAULT | Status.DNR));

        CliRun r = bench("--rw", "randwrite", "--runtime", "0.5", "--size", "1m");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.out()).contains("errors        : 3").contains("Write Fault");
        assertThat(r.err()).isEqualTo("nvmpath bench: 3 I/O error(s), 0 verify error(s)" + System.lineSeparator());
    }

    @Test
    void should_reject_a_block_size_that_is_not_a_multiple_of_512() {
        CliRun r = CliRun.of("bench", "-a", "127.0.0.1", "-n", "nqn.x", "--bs", "1000");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--bs must be a multiple of 512");
    }

    @Test
    void should_reject_an_unknown_rw_mode_and_iopolicy() {
        assertThat(CliRun.of("bench", "-a", "127.0.0.1", "-n", "nqn.x", "--rw", "randtrim").err())
                .contains("unknown rw mode 'randtrim'");
        assertThat(CliRun.of("bench", "-a", "127.0.0.1", "-n", "nqn.x", "--iopolicy", "fastest").err())
                .contains("unknown iopolicy 'fastest'");
    }

    @Test
    void should_parse_sizes_as_fio_writes_them() {
        BenchCommand.SizeConverter c = new BenchCommand.SizeConverter();
        assertThat(c.convert("4096")).isEqualTo(4096);
        assertThat(c.convert("4k")).isEqualTo(4096);
        assertThat(c.convert("128K")).isEqualTo(128 << 10);
        assertThat(c.convert("1MiB")).isEqualTo(1 << 20);
        assertThat(c.convert("1g")).isEqualTo(1L << 30);
        assertThat(BenchCommand.size(4096)).isEqualTo("4 KiB");
        assertThat(BenchCommand.size(1536)).isEqualTo("1536 B");
    }
}
