package io.nvmpath.server.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code serve}'s usage errors: exit 2 with one line naming what is wrong, before anything starts. */
class ServeCommandTest {

    @Test
    void should_want_a_config_or_the_demo() {
        CliRun r = CliRun.of("serve");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("give --config FILE or --demo");
    }

    @Test
    void should_name_the_wrong_field_of_a_bad_config(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("gateway.yaml");
        Files.writeString(cfg, "portals:\n  - {traddr: 10.0.0.1, trsvcid: 4420, subnqn: nqn.2026-11.example:a}\n"
                + "nbd: {listen: {port: 123456}}\n");
        CliRun r = CliRun.of("serve", "--config", cfg.toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("nbd.listen.port: 123456 is not a port");
    }

    @Test
    void should_refuse_a_bad_listen_override(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("gateway.yaml");
        Files.writeString(cfg, "{}\n");
        CliRun r = CliRun.of("serve", "--config", cfg.toString(), "--nbd-listen", "localhost:port");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--nbd-listen: 'localhost:port' is not ADDRESS:PORT");
    }

    @Test
    void should_say_which_address_is_taken() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1,
                java.net.InetAddress.getLoopbackAddress())) {
            Path dir = Files.createTempDirectory("serve-test");
            Path cfg = dir.resolve("gateway.yaml");
            Files.writeString(cfg, "host: {stateFile: " + dir.resolve("h") + "}\nhttp: off\n");
            CliRun r = CliRun.of("serve", "--config", cfg.toString(), "--nbd-listen",
                    "127.0.0.1:" + taken.getLocalPort());
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.err()).contains("cannot listen").contains(String.valueOf(taken.getLocalPort()));
        }
    }
}
