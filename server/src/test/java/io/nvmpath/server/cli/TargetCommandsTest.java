package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.testing.Await;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code nvmpath target} and its subcommands against a running target and admin endpoint on ephemeral ports. */
class TargetCommandsTest {
    private static final String NL = System.lineSeparator();

    private RunningTarget running;
    private NvmeTarget target;
    private String admin;

    @BeforeEach
    void start() throws Exception {
        running = RunningTarget.start(TargetConfig.demo(0, 0, 0, 0));
        target = running.target();
        admin = running.admin().uri().toString();
    }

    @AfterEach
    void stop() {
        running.close();
    }

    /** {@code nvmpath target SUBCOMMAND --admin URL ARGS...}. */
    private CliRun nvmpath(String subcommand, String... args) {
        String[] all = new String[3 + args.length];
        all[0] = "target";
        all[1] = subcommand;
        all[2] = "--admin=" + admin;
        System.arraycopy(args, 0, all, 3, args.length);
        return CliRun.of(all);
    }

    private static JsonNode json(CliRun r) throws Exception {
        return Report.MAPPER.readTree(r.out());
    }

    private String hostPort(int portId) {
        return "127.0.0.1:" + target.port(portId);
    }

    /** A local port nobody listens on: bound, noted, closed. */
    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }

    @Test
    void should_set_the_ana_state_of_a_port_named_by_its_tcp_port() {
        CliRun r = nvmpath("ana-state", "--port", String.valueOf(target.port(1)), "--group", "1", "inaccessible");

        assertThat(r.err()).isEmpty();
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).isEqualTo("port 1 (" + hostPort(1) + "): ANA group 1 inaccessible" + NL);
        assertThat(target.anaState(1, 1)).isEqualTo(AnaState.INACCESSIBLE);
    }

    @Test
    void should_print_the_port_as_json_after_an_ana_change() throws Exception {
        CliRun r = nvmpath("ana-state", "-p", "2", "optimized", "-o", "json");

        assertThat(r.exitCode()).isZero();
        JsonNode port = json(r);
        assertThat(port.get("id").intValue()).isEqualTo(2);
        assertThat(port.get("anaStates").get("1").textValue()).isEqualTo("optimized");
        assertThat(target.anaState(2, 1)).isEqualTo(AnaState.OPTIMIZED);
    }

    @ParameterizedTest(name = "fault {0}")
    @CsvSource(delimiter = '|', textBlock = """
            blackhole      | blackhole
            delay 200      | delay 200
            fail 5 0x302   | fail 5 0x302 (ANA Inaccessible (SCT 3h SC 02h))
            down           | down
            throttle 2000 iops | throttle 2000iops
            throttle 50MiB/s   | throttle 50MiB/s
            ghost-writes 500   | ghost-writes 500
            """)
    void should_inject_a_fault(String fault, String label) {
        String[] words = fault.split(" ");
        String[] args = new String[2 + words.length];
        args[0] = "--port";
        args[1] = String.valueOf(target.port(2));
        System.arraycopy(words, 0, args, 2, words.length);
        String where = hostPort(2);

        CliRun r = nvmpath("fault", args);

        assertThat(r.err()).isEmpty();
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).isEqualTo("port 2 (" + where + "): fault " + label + NL);
        assertThat(target.fault(2)).isEqualTo(Fault.parse(fault));
    }

    @Test
    void should_cut_the_connections_of_a_port_and_keep_it_listening() throws Exception {
        try (Socket s = new Socket("127.0.0.1", target.port(1))) {
            Await.until("the target sees the connection", () -> target.portView(1).connections() == 1);

            CliRun r = nvmpath("cut", "--port", "1");

            assertThat(r.err()).isEmpty();
            assertThat(r.exitCode()).isZero();
            assertThat(r.out()).isEqualTo("port 1 (" + hostPort(1) + "): 1 connection cut" + NL);
            s.setSoTimeout(10_000);
            assertThat(s.getInputStream().read()).as("closed by the target").isEqualTo(-1);
        }
        try (Socket again = new Socket("127.0.0.1", target.port(1))) {
            assertThat(again.isConnected()).as("still listening").isTrue();
        }
        assertThat(target.fault(1)).isEqualTo(Fault.NONE);
    }

    @Test
    void should_clear_a_fault() {
        target.setFault(1, new Fault.Blackhole());

        CliRun r = nvmpath("fault", "-p", "1", "clear");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).isEqualTo("port 1 (" + hostPort(1) + "): fault none" + NL);
        assertThat(target.fault(1)).isEqualTo(Fault.NONE);
    }

    @Test
    void should_show_the_status_as_a_table() {
        target.setFault(2, new Fault.Blackhole());

        CliRun r = nvmpath("status");

        assertThat(r.err()).isEmpty();
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().lines().toList()).hasSize(6);
        assertThat(r.out().lines().toList().get(0)).matches("PORT +ADDRESS +ANA +FAULT +CONNECTIONS +SUBSYSTEMS");
        assertThat(r.out().lines().toList().get(1))
                .matches("1 +" + hostPort(1) + " +1=optimized +none +0 +" + TargetConfig.DEMO_NQN);
        assertThat(r.out().lines().toList().get(2))
                .matches("2 +" + hostPort(2) + " +1=non-optimized +blackhole +0 +" + TargetConfig.DEMO_NQN);
        assertThat(r.out()).contains("discovery port: " + target.discoveryPort() + NL + NL + "no controllers" + NL);
    }

    @Test
    void should_show_the_status_as_the_admin_api_json() throws Exception {
        CliRun r = nvmpath("status", "-o", "json");

        assertThat(r.exitCode()).isZero();
        JsonNode t = json(r);
        assertThat(t.get("ports")).hasSize(2);
        assertThat(t.get("ports").get(1).get("port").intValue()).isEqualTo(target.port(2));
        assertThat(t.get("controllers")).isEmpty();
        assertThat(t.get("discoveryPort").intValue()).isEqualTo(target.discoveryPort());
    }

    @Test
    void should_print_the_endpoint_error_in_one_line_and_exit_1_for_an_unknown_port() {
        CliRun r = nvmpath("ana-state", "--port", "9999", "inaccessible");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("nvmpath target ana-state: no port with ID or TCP port 9999 (ports: [1="
                + target.port(1) + ", 2=" + target.port(2) + "])" + NL);
        assertThat(r.out()).isEmpty();
    }

    @Test
    void should_say_the_admin_endpoint_cannot_be_reached_in_one_line() throws IOException {
        admin = "http://127.0.0.1:" + closedPort();

        CliRun r = nvmpath("status");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("nvmpath target status: cannot reach the target's admin endpoint at " + admin
                + NL);
        assertThat(r.out()).isEmpty();
    }

    @Test
    void should_refuse_an_unknown_ana_state_before_sending_anything() {
        CliRun r = nvmpath("ana-state", "--port", "1", "broken");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).startsWith("nvmpath target ana-state: 'broken' is not an ANA state (optimized, "
                + "non-optimized, inaccessible, persistent-loss, change)" + NL);
        assertThat(target.anaState(1, 1)).isEqualTo(AnaState.OPTIMIZED);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            melt         | unknown fault 'melt'
            delay        | bad fault 'delay': expected delay MS, a whole number of milliseconds 0..600000
            delay 100 garbage | bad fault 'delay 100 garbage': unexpected 'garbage' after 'delay 100'
            fail 1 0     | status 0x0 is not an error status
            throttle 2000 | bad fault 'throttle 2000': expected throttle RATE, a whole number with iops
            """)
    void should_refuse_a_bad_fault_before_sending_anything(String fault, String message) {
        String[] words = fault.split(" ");
        String[] args = new String[2 + words.length];
        args[0] = "--port";
        args[1] = "1";
        System.arraycopy(words, 0, args, 2, words.length);

        CliRun r = nvmpath("fault", args);

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).startsWith("nvmpath target fault: " + message);
        assertThat(target.fault(1)).isEqualTo(Fault.NONE);
    }

    @Test
    void should_refuse_an_admin_url_that_is_not_http() {
        admin = "ftp://127.0.0.1:8091";

        CliRun r = nvmpath("status");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).startsWith("nvmpath target status: --admin must be an http:// URL");
    }

    @Test
    void should_print_one_line_per_port_and_the_admin_url_when_started() {
        Report report = running.report();

        assertThat(report.text().lines()).containsExactly(
                "port 1: " + hostPort(1) + " " + TargetConfig.DEMO_NQN + ", ANA group 1 optimized",
                "port 2: " + hostPort(2) + " " + TargetConfig.DEMO_NQN + ", ANA group 1 non-optimized",
                "discovery: 127.0.0.1:" + target.discoveryPort(),
                "admin: " + admin);
        assertThat(report.json().get("admin").textValue()).isEqualTo(admin);
        assertThat(report.json().get("ports")).hasSize(2);
    }

    @Test
    void should_exit_2_naming_the_field_when_the_config_is_bad(@TempDir Path dir) throws IOException {
        Path config = dir.resolve("target.yaml");
        Files.writeString(config, """
                subsystems:
                  - nqn: nqn.2026-11.test:a
                    namespaces:
                      - {nsid: 1, size: 12XB}
                ports:
                  - {port: 0}
                """);

        CliRun r = CliRun.of("target", "--config", config.toString());

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err().lines().findFirst()).hasValue("nvmpath target: subsystems[0].namespaces[0].size: "
                + "\"12XB\" is not a size (use bytes or KiB/MiB/GiB/TiB)");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void should_exit_2_when_the_config_file_is_missing(@TempDir Path dir) {
        Path config = dir.resolve("missing.yaml");

        CliRun r = CliRun.of("target", "-c", config.toString());

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err().lines().findFirst()).hasValue("nvmpath target: " + config + ": no such file");
    }

    @Test
    void should_exit_2_when_a_namespace_file_cannot_be_created(@TempDir Path dir) throws IOException {
        Path config = dir.resolve("target.yaml");
        Files.writeString(config, """
                subsystems:
                  - nqn: nqn.2026-11.test:a
                    namespaces:
                      - {nsid: 1, size: 1MiB, path: no-such-dir/ns1.img}
                ports:
                  - {port: 0}
                """);

        CliRun r = CliRun.of("target", "--config", config.toString());

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).startsWith("nvmpath target: subsystems[0].namespaces[0].path: ");
    }

    @Test
    void should_exit_1_with_one_line_when_a_port_is_taken(@TempDir Path dir) throws IOException {
        String level = System.getProperty(Main.LOG_LEVEL_PROPERTY);
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress("127.0.0.1", 0));
            Path config = dir.resolve("target.yaml");
            Files.writeString(config, """
                    subsystems:
                      - nqn: nqn.2026-11.test:a
                        namespaces: [{nsid: 1, size: 1MiB}]
                    ports:
                      - {port: 0}
                      - {port: %d}
                    """.formatted(taken.getLocalPort()));

            CliRun r = CliRun.of("target", "--config", config.toString());

            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.err()).isEqualTo("nvmpath target: cannot listen on 127.0.0.1:" + taken.getLocalPort()
                    + ": Address already in use" + NL);
            assertThat(r.out()).isEmpty();
        } finally {
            if (level == null) {
                System.clearProperty(Main.LOG_LEVEL_PROPERTY);
            } else {
                System.setProperty(Main.LOG_LEVEL_PROPERTY, level);
            }
        }
    }
}
