package io.nvmpath.it.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nvmpath.it.guest.NvmetGuest;
import io.nvmpath.it.guest.Peers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code bin/nvmpath} as a user runs it, against the Linux kernel target in a QEMU guest. */
class CliAgainstKernelTargetIT {
    private static NvmetGuest target;
    private static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void boot() throws Exception {
        Peers.assumeGuest();
        target = NvmetGuest.start("cli-vs-nvmet");
    }

    @AfterAll
    static void shutdown() {
        if (target != null) {
            target.close();
        }
    }

    record Result(int exit, String out, String err) {
    }

    private static Path launcher() {
        String p = System.getProperty("nvmpath.launcher");
        return p != null ? Paths.get(p) : Paths.get("..", "bin", "nvmpath");
    }

    private static Result run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(launcher().toAbsolutePath().toString());
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("nvmpath-out", ".txt");
        Path err = Files.createTempFile("nvmpath-err", ".txt");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("nvmpath " + String.join(" ", args) + " did not finish in 120 s");
        }
        Result r = new Result(p.exitValue(), Files.readString(out), Files.readString(err));
        Files.delete(out);
        Files.delete(err);
        return r;
    }

    private static String[] path(int port, String... rest) {
        List<String> a = new ArrayList<>(List.of("-a", target.address(), "-s", String.valueOf(target.port(port)),
                "-n", target.subsystemNqn()));
        a.addAll(List.of(rest));
        return a.toArray(String[]::new);
    }

    private static String[] cmd(String command, String... rest) {
        List<String> a = new ArrayList<>();
        a.add(command);
        a.addAll(List.of(rest));
        return a.toArray(String[]::new);
    }

    private static String[] concat(String command, String[] opts, String... more) {
        List<String> a = new ArrayList<>();
        a.add(command);
        a.addAll(List.of(opts));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void ana_log_as_json_shows_each_ports_group_states() throws Exception {
        for (int port = 1; port <= 2; port++) {
            Result r = run(concat("ana-log", path(port), "-o", "json"));
            assertThat(r.exit()).as(r.err()).isZero();
            JsonNode log = JSON.readTree(r.out());
            assertThat(log.get("ngrps").asInt()).isEqualTo(2);
            for (JsonNode g : log.get("groups")) {
                int grp = g.get("grpid").asInt();
                assertThat(g.get("state").asText()).as("port %d group %d", port, grp)
                        .isEqualTo(target.facts().anaState(port, grp));
                assertThat(g.get("nsids").get(0).asInt()).isEqualTo(grp);
            }
        }
    }

    @Test
    void id_ctrl_and_id_ns_report_what_the_target_was_given() throws Exception {
        Result ctrl = run(concat("id-ctrl", path(1), "-o", "json"));
        assertThat(ctrl.exit()).as(ctrl.err()).isZero();
        JsonNode c = JSON.readTree(ctrl.out());
        assertThat(c.get("mn").asText()).isEqualTo(target.facts().model());
        assertThat(c.get("sn").asText()).isEqualTo(target.facts().serial());
        assertThat(c.get("subnqn").asText()).isEqualTo(target.subsystemNqn());
        Result ns = run(concat("id-ns", path(2), "--nsid", "2", "-o", "json"));
        assertThat(ns.exit()).as(ns.err()).isZero();
        JsonNode n = JSON.readTree(ns.out());
        assertThat(n.get("lbaSize").asInt()).isEqualTo(target.facts().blockBytes(2));
        assertThat(n.get("descriptors").get("uuid").asText()).isEqualTo(target.facts().uuid(2));
        assertThat(n.get("nguid").asText()).isEqualTo(target.facts().nguid(2).replace("-", ""));
        Result text = run(concat("id-ctrl", path(1)));
        assertThat(text.out()).contains("mn").contains(target.facts().model());
    }

    /** nvmet's discovery log lists the subsystems of the port it was asked through (and referrals). */
    @Test
    void discover_through_each_port_lists_the_subsystem_on_that_port() throws Exception {
        for (int port = 1; port <= 2; port++) {
            Result r = run("discover", "-a", target.address(), "-s", String.valueOf(target.port(port)), "-o", "json");
            assertThat(r.exit()).as(r.err()).isZero();
            JsonNode log = JSON.readTree(r.out());
            List<String> services = new ArrayList<>();
            for (JsonNode e : log.get("records")) {
                if (e.get("subnqn").asText().equals(target.subsystemNqn())) {
                    services.add(e.get("trsvcid").asText());
                    assertThat(e.get("trtype").asText()).isEqualTo("tcp");
                    assertThat(e.get("portid").asInt()).isEqualTo(port);
                }
            }
            assertThat(services).containsExactly(String.valueOf(target.facts().trsvcid(port)));
            Result text = run("discover", "-a", target.address(), "-s", String.valueOf(target.port(port)));
            assertThat(text.out()).contains("Discovery Log Entry").contains(target.subsystemNqn());
        }
    }

    @Test
    void write_then_read_back_a_file_with_digests(@TempDir Path dir) throws Exception {
        byte[] data = new byte[3 << 20];
        new Random(7).nextBytes(data);
        Path in = dir.resolve("in.bin");
        Path back = dir.resolve("back.bin");
        Files.write(in, data);
        Result w = run(concat("write", path(2, "--hdr-digest", "--data-digest"), "--nsid", "1",
                "--start-block", "300000", "--data", in.toString(), "--fua"));
        assertThat(w.exit()).as(w.err()).isZero();
        Result r = run(concat("read", path(1), "--nsid", "1", "--start-block", "300000",
                "--block-count", String.valueOf(data.length / 512), "--data", back.toString()));
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(Files.readAllBytes(back)).isEqualTo(data);
        Result f = run(concat("flush", path(1), "--nsid", "1"));
        assertThat(f.exit()).as(f.err()).isZero();
    }

    @Test
    void an_nvme_error_prints_the_status_by_name_in_one_line_and_exits_1() throws Exception {
        target.setAnaState(1, 1, NvmetGuest.AnaState.INACCESSIBLE);
        try {
            Result r = run(concat("read", path(1), "--nsid", "1", "--block-count", "1"));
            assertThat(r.exit()).isEqualTo(1);
            assertThat(r.err()).contains("ANA Inaccessible (SCT 3h SC 02h)");
            assertThat(r.err()).doesNotContain("Exception").doesNotContain("\tat ");
        } finally {
            target.setAnaState(1, 1, NvmetGuest.AnaState.OPTIMIZED);
        }
    }

    @Test
    void a_wrong_nqn_or_a_refused_connection_says_so_in_one_line() throws Exception {
        Result wrong = run("id-ctrl", "-a", target.address(), "-s", String.valueOf(target.port(1)),
                "-n", "nqn.2026-11.test:nope");
        assertThat(wrong.exit()).isEqualTo(1);
        assertThat(wrong.err().strip().lines()).hasSize(1);
        assertThat(wrong.err()).contains("Connect Invalid Parameters").contains("nqn.2026-11.test:nope");
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        Result refused = run("ana-log", "-a", "127.0.0.1", "-s", String.valueOf(closed), "-n", target.subsystemNqn());
        assertThat(refused.exit()).isEqualTo(1);
        assertThat(refused.err().strip().lines()).hasSize(1);
        assertThat(refused.err()).contains("cannot connect to 127.0.0.1:" + closed);
        assertThat(new String(refused.err().getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8))
                .doesNotContain("\tat ");
    }
}
