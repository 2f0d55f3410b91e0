package io.nvmpath.it.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nvmpath.it.guest.Peers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code bin/nvmpath target} as an operator runs it: started from a YAML file, drilled with
 * {@code target ana-state}/{@code target fault}, observed with {@code ana-log}, stopped with SIGTERM.
 */
class TargetCliIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String NQN = "nqn.2026-11.io.nvmpath:cli-it";

    record Result(int exit, String out, String err) {
    }


    private static Result run(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Peers.launcher()));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("nvmpath", ".out");
        Path err = Files.createTempFile("nvmpath", ".err");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("nvmpath " + String.join(" ", args)).isTrue();
        Result r = new Result(p.exitValue(), Files.readString(out), Files.readString(err));
        Files.delete(out);
        Files.delete(err);
        return r;
    }

    @Test
    void a_target_from_yaml_is_drilled_and_observed_with_the_cli(@TempDir Path dir) throws Exception {
        Path yaml = dir.resolve("target.yaml");
        Files.writeString(yaml, """
                subsystems:
                  - nqn: %s
                    serial: CLIIT0001
                    model: cli it target
                    firmware: "0.1"
                    namespaces:
                      - {nsid: 1, size: 64MiB, anaGroup: 1}
                      - {nsid: 2, path: ns2.img, size: 8MiB, lbaSize: 4096, anaGroup: 2}
                ports:
                  - {id: 1, address: 127.0.0.1, port: 0, anaStates: {1: optimized, 2: non-optimized}}
                  - {id: 2, address: 127.0.0.1, port: 0, anaStates: {1: non-optimized, 2: optimized}}
                discovery: {address: 127.0.0.1, port: 0}
                admin: {address: 127.0.0.1, port: 0}
                """.formatted(NQN));
        Process target = new ProcessBuilder(Peers.launcher(), "target", "--config", yaml.toString(), "-o", "json")
                .redirectError(dir.resolve("target.log").toFile()).start();
        try {
            // the report is one JSON document on stdout, written once the ports listen
            BufferedReader out = new BufferedReader(new InputStreamReader(target.getInputStream(), StandardCharsets.UTF_8));
            StringBuilder doc = new StringBuilder();
            String line;
            int depth = 0;
            boolean started = false;
            while ((line = out.readLine()) != null) {
                doc.append(line).append('\n');
                for (char ch : line.toCharArray()) {
                    if (ch == '{') {
                        depth++;
                        started = true;
                    } else if (ch == '}') {
                        depth--;
                    }
                }
                if (started && depth == 0) {
                    break;
                }
            }
            JsonNode report = JSON.readTree(doc.toString());
            int port1 = report.get("ports").get(0).get("port").asInt();
            int port2 = report.get("ports").get(1).get("port").asInt();
            String admin = report.get("admin").asText();
            assertThat(Files.size(dir.resolve("ns2.img"))).as("file namespace created").isEqualTo(8 << 20);

            Result ana = run("ana-log", "-a", "127.0.0.1", "-s", String.valueOf(port1), "-n", NQN, "-o", "json");
            assertThat(ana.exit()).as(ana.err()).isZero();
            assertThat(state(ana, 1)).isEqualTo("optimized");
            assertThat(state(ana, 2)).isEqualTo("non-optimized");

            Result flip = run("target", "ana-state", "--admin", admin, "--port", String.valueOf(port1), "--group", "1",
                    "inaccessible");
            assertThat(flip.exit()).as(flip.err()).isZero();
            assertThat(state(run("ana-log", "-a", "127.0.0.1", "-s", String.valueOf(port1), "-n", NQN, "-o", "json"), 1))
                    .isEqualTo("inaccessible");
            Result read = run("read", "-a", "127.0.0.1", "-s", String.valueOf(port1), "-n", NQN, "--nsid", "1",
                    "--block-count", "1", "--data", dir.resolve("x").toString());
            assertThat(read.exit()).isEqualTo(1);
            assertThat(read.err()).contains("ANA Inaccessible (SCT 3h SC 02h)");

            Result down = run("target", "fault", "--admin", admin, "--port", String.valueOf(port2), "down");
            assertThat(down.exit()).as(down.err()).isZero();
            Result refused = run("id-ctrl", "-a", "127.0.0.1", "-s", String.valueOf(port2), "-n", NQN);
            assertThat(refused.exit()).isEqualTo(1);
            assertThat(refused.err()).contains("cannot connect to 127.0.0.1:" + port2);
            Result status = run("target", "status", "--admin", admin, "-o", "json");
            assertThat(JSON.readTree(status.out()).get("ports").get(1).get("fault").asText()).isEqualTo("down");
            assertThat(run("target", "fault", "--admin", admin, "--port", String.valueOf(port2), "clear").exit()).isZero();
            Result back = run("id-ns", "-a", "127.0.0.1", "-s", String.valueOf(port2), "-n", NQN, "--nsid", "2",
                    "-o", "json");
            assertThat(back.exit()).as(back.err()).isZero();
            assertThat(JSON.readTree(back.out()).get("lbaSize").asInt()).isEqualTo(4096);
        } finally {
            target.destroy(); // SIGTERM
            assertThat(target.waitFor(20, TimeUnit.SECONDS)).as("target stops on SIGTERM").isTrue();
        }
        assertThat(Files.readString(dir.resolve("target.log")))
                .contains("ANA group 1 optimized -> inaccessible")
                .contains("fault none -> down");
    }

    @Test
    void a_bad_config_names_the_field_and_exits_2(@TempDir Path dir) throws Exception {
        Path yaml = dir.resolve("bad.yaml");
        Files.writeString(yaml, """
                subsystems:
                  - nqn: nqn.2026-11.io.nvmpath:bad
                    namespaces: [{nsid: 1, size: 12XB}]
                ports: [{id: 1, port: 0}]
                """);
        Result r = run("target", "--config", yaml.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("subsystems[0].namespaces[0].size").doesNotContain("\tat ");
    }

    private static String state(Result ana, int group) throws IOException {
        for (JsonNode g : JSON.readTree(ana.out()).get("groups")) {
            if (g.get("grpid").asInt() == group) {
                return g.get("state").asText();
            }
        }
        throw new AssertionError("no group " + group + " in " + ana.out());
    }
}
