package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Every command end to end, against the project's NVMe/TCP target in this JVM. */
class CommandsAgainstTargetTest {
    static final String NQN = "nqn.2026-11.io.nvmpath:cli-test";
    static final int BLOCKS = 4096;
    private NvmeTarget target;

    @BeforeEach
    void start() throws Exception {
        TargetConfig.NamespaceConfig ns = new TargetConfig.NamespaceConfig(1, (long) BLOCKS * 512, null, 512, 1,
                "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf", null, null, false);
        TargetConfig.SubsystemConfig sub = new TargetConfig.SubsystemConfig(NQN, "NVMPATHCLI01", "nvmpath cli test target",
                "0.1", true, List.of(), List.of(ns));
        TargetConfig.PortConfig port = new TargetConfig.PortConfig(1, "127.0.0.1", 0, null, List.of(NQN),
                Map.of(1, AnaState.OPTIMIZED));
        TargetConfig.Limits d = TargetConfig.Limits.DEFAULTS;
        // MDTS 3: 32 KiB, 64 blocks a command, so transfers come in many pieces
        TargetConfig.Limits limits = new TargetConfig.Limits(3, d.inCapsuleDataSize(), d.maxH2CData(),
                d.ioQueueSize(), d.maxIoQueues(), d.headerDigest(), d.dataDigest());
        target = NvmeTarget.start(new TargetConfig(List.of(sub), List.of(port), null, limits, null, 10));
    }

    private int port() {
        return target.port(1);
    }

    @AfterEach
    void stop() {
        target.close();
    }

    private CliRun nvmpath(String command, String... more) {
        String[] args = new String[5 + more.length];
        args[0] = command;
        args[1] = "-a";
        args[2] = "127.0.0.1";
        args[3] = "-s=" + port();
        args[4] = "-n=" + NQN;
        System.arraycopy(more, 0, args, 5, more.length);
        return CliRun.of(args);
    }

    private static JsonNode json(CliRun r) throws Exception {
        return Report.MAPPER.readTree(r.out());
    }

    @Test
    void should_print_identify_controller() {
        CliRun r = nvmpath("id-ctrl");

        assertThat(r.err()).isEmpty();
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().lines()).contains("mn        : nvmpath cli test target", "cntlid    : 0x1",
                "mdts      : 3", "subnqn    : " + NQN);
    }

    @Test
    void should_connect_with_header_and_data_digests() {
        CliRun r = nvmpath("id-ctrl", "--hdr-digest", "--data-digest");

        assertThat(r.err()).isEmpty();
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("subnqn    : " + NQN);
    }

    @Test
    void should_print_identify_namespace_and_its_descriptors_as_json() throws Exception {
        CliRun r = nvmpath("id-ns", "-o", "json", "--nsid", "1");

        assertThat(r.exitCode()).isZero();
        JsonNode j = json(r);
        assertThat(j.get("nsze").asLong()).isEqualTo(BLOCKS);
        assertThat(j.get("lbaSize").asInt()).isEqualTo(512);
        assertThat(j.get("anagrpid").asLong()).isEqualTo(1);
        assertThat(j.get("descriptors").get("nguid").asText()).isEqualTo("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    }

    @Test
    void should_print_the_ana_log_with_the_controller_that_answered() {
        CliRun r = nvmpath("ana-log");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).startsWith("Asymmetric Namespace Access Log of controller 1 of " + NQN)
                .contains("state\t:\toptimized").contains("\tnsid\t:\t1");
    }

    @Test
    void should_discover_the_subsystem() throws Exception {
        CliRun r = CliRun.of("discover", "-a", "127.0.0.1", "-s", String.valueOf(port()), "-o", "json");

        assertThat(r.err()).isEmpty();
        assertThat(r.exitCode()).isZero();
        JsonNode e = json(r).get("records").get(0);
        assertThat(e.get("subnqn").asText()).isEqualTo(NQN);
        assertThat(e.get("trsvcid").asText()).isEqualTo(String.valueOf(port()));
    }

    @Test
    void should_name_the_wrong_subsystem_nqn() {
        CliRun r = CliRun.of("id-ctrl", "-a", "127.0.0.1", "-s", String.valueOf(port()), "-n", "nqn.wrong");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).startsWith("nvmpath id-ctrl: ").contains("Connect Invalid Parameters")
                .contains("wrong subsystem NQN nqn.wrong?").doesNotContain("\tat ");
    }

    @Test
    void should_write_a_file_and_read_it_back_in_many_pieces(@TempDir Path dir) throws Exception {
        byte[] data = new byte[2000 * 512];
        new Random(7).nextBytes(data);
        Path in = Files.write(dir.resolve("in"), data);
        Path out = dir.resolve("out");

        CliRun w = nvmpath("write", "--start-block", "17", "--data", in.toString(), "-o", "json");
        CliRun r = nvmpath("read", "--start-block", "17", "--block-count", "2000", "--data", out.toString());

        assertThat(w.err()).isEmpty();
        assertThat(w.exitCode()).isZero();
        JsonNode j = json(w);
        assertThat(j.get("blocks").asLong()).isEqualTo(2000);
        assertThat(j.get("bytes").asLong()).isEqualTo(2000 * 512);
        assertThat(j.get("commands").asLong()).isEqualTo(32); // MDTS 32 KiB: 64 blocks a command
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).startsWith("read: Success, 2000 blocks (1024000 bytes) at LBA 17");
        assertThat(Files.readAllBytes(out)).isEqualTo(data);
    }

    @Test
    void should_read_to_stdout_with_the_summary_on_stderr(@TempDir Path dir) throws Exception {
        byte[] expected = new byte[3 * 512];
        new Random(3).nextBytes(expected);
        assertThat(nvmpath("write", "--data", Files.write(dir.resolve("in"), expected).toString()).exitCode()).isZero();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();

        int code = Main.run(new String[] {"read", "-a", "127.0.0.1", "-s", String.valueOf(port()),
                "-n", NQN, "--block-count", "3"}, new PrintStream(out), new PrintStream(err));

        assertThat(code).isZero();
        assertThat(out.toByteArray()).isEqualTo(expected);
        assertThat(err.toString(StandardCharsets.UTF_8)).startsWith("read: Success, 3 blocks (1536 bytes)");
    }

    @Test
    void should_stop_reading_when_stdout_is_closed() {
        OutputStream closedPipe = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("Broken pipe");
            }
        };
        ByteArrayOutputStream err = new ByteArrayOutputStream();

        int code = Main.run(new String[] {"read", "-a", "127.0.0.1", "-s", String.valueOf(port()),
                "-n", NQN, "--block-count", "4096"}, new PrintStream(closedPipe), new PrintStream(err));

        assertThat(code).isEqualTo(1);
        assertThat(err.toString(StandardCharsets.UTF_8))
                .isEqualTo("nvmpath read: cannot write the data to stdout (closed pipe?)" + System.lineSeparator());
    }

    @Test
    void should_say_so_when_the_namespace_is_not_active() {
        CliRun r = nvmpath("read", "--nsid", "2");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("namespace 2 is not active on controller 1");
    }

    @Test
    void should_report_the_nvme_status_by_name_when_io_fails() {
        target.setAnaState(1, 1, AnaState.INACCESSIBLE);

        CliRun r = nvmpath("read", "--block-count", "1000", "--data", "/dev/null");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).startsWith("nvmpath read: Read of 64 blocks at LBA ")
                .contains("failed: ANA Inaccessible (SCT 3h SC 02h)").doesNotContain("\tat ");
        assertThat(r.err().lines()).hasSize(1);
    }

    @Test
    void should_reject_a_file_that_does_not_hold_the_block_count(@TempDir Path dir) throws Exception {
        Path in = Files.write(dir.resolve("in"), new byte[1000]);

        CliRun exact = nvmpath("write", "--data", in.toString(), "--block-count", "2");
        CliRun whole = nvmpath("write", "--data", in.toString());

        assertThat(exact.exitCode()).isEqualTo(2);
        assertThat(exact.err()).contains("holds 1000 bytes, not 2 blocks of 512 bytes");
        assertThat(whole.exitCode()).isEqualTo(2);
        assertThat(whole.err()).contains("not a whole number of 512-byte blocks");
    }

    @Test
    void should_flush() {
        CliRun r = nvmpath("flush");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).startsWith("NVMe Flush: success (nsid 1, controller 1");
    }
}
