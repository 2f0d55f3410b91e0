package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code check-config} and {@code serve --check}: the whole configuration checked, nothing connected. */
class CheckConfigCommandTest {
    @TempDir
    Path dir;

    private Path config(String yaml) throws Exception {
        Path p = dir.resolve("gateway.yaml");
        Files.writeString(p, yaml);
        return p;
    }

    private void tlsFiles(X509Bundle cert, X509Bundle key) throws Exception {
        Files.writeString(dir.resolve("tls.crt"), cert.getCertificatePEM());
        Files.writeString(dir.resolve("tls.key"), key.getPrivateKeyPEM());
    }

    private static X509Bundle selfSigned(String cn) throws Exception {
        return new CertificateBuilder().subject("CN=" + cn).setIsCertificateAuthority(true)
                .algorithm(CertificateBuilder.Algorithm.ecp256).buildSelfSigned();
    }

    @Test
    void should_print_what_the_gateway_would_do_and_exit_0_without_connecting() throws Exception {
        X509Bundle b = selfSigned("gateway.example");
        tlsFiles(b, b);
        // 10.0.0.1 is never dialled: nothing is connected
        Path cfg = config("""
                host: {stateFile: state/host.properties}
                portals:
                  - {traddr: 10.0.0.1, trsvcid: 4420, subnqn: "nqn.2026-11.example:array1"}
                nbd:
                  listen: {address: 127.0.0.1, port: 0}
                  tls: {mode: require, certificate: tls.crt, key: tls.key}
                exports:
                  "nqn.2026-11.example:array1/1": {aliases: [db], readOnly: true}
                http: off
                """);
        CliRun r = CliRun.of("check-config", cfg.toString());

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("configuration " + cfg + ": OK\n")
                .contains("host NQN and ID kept in " + dir.resolve("state/host.properties"))
                .contains("  direct 10.0.0.1:4420 nqn.2026-11.example:array1".replace("direct ", "direct    "))
                .contains("nbd: listen 127.0.0.1:0, TLS require with CN=gateway.example, serial ")
                .contains("  export nqn.2026-11.example:array1/1 aliases [db], read-only")
                .contains("http: off");
        assertThat(dir.resolve("state")).as("nothing written").doesNotExist();

        JsonNode json = new ObjectMapper().readTree(CliRun.of("check-config", "-o", "json", cfg.toString()).out());
        assertThat(json.path("ok").asBoolean()).isTrue();
        assertThat(json.path("portals").get(0).asText()).isEqualTo("direct 10.0.0.1:4420 nqn.2026-11.example:array1");
    }

    @Test
    void should_exit_2_naming_the_field_for_a_key_that_does_not_match_its_certificate() throws Exception {
        tlsFiles(selfSigned("a"), selfSigned("b"));
        Path cfg = config("nbd: {tls: {mode: require, certificate: tls.crt, key: tls.key}}\n");

        CliRun r = CliRun.of("check-config", cfg.toString());

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).startsWith("nvmpath check-config: nbd.tls.key: " + dir.resolve("tls.key")
                + ": does not belong to the certificate in " + dir.resolve("tls.crt") + " (CN=a)");
    }

    @Test
    void should_exit_2_when_a_listen_port_is_taken_and_serve_check_says_the_same() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Path cfg = config("nbd: {listen: {address: 127.0.0.1, port: 0}}\nhttp: {listen: {address: 127.0.0.1, port: "
                    + taken.getLocalPort() + "}}\n");

            CliRun r = CliRun.of("check-config", cfg.toString());
            assertThat(r.exitCode()).isEqualTo(2);
            assertThat(r.out()).startsWith("configuration " + cfg + ": NOT OK\n  problem: http.listen: cannot listen on 127.0.0.1:"
                    + taken.getLocalPort());
            assertThat(r.err()).contains("http.listen: cannot listen on 127.0.0.1:" + taken.getLocalPort());

            CliRun serve = CliRun.of("serve", "--check", "--config", cfg.toString(), "--http-listen", "127.0.0.1:0");
            assertThat(serve.exitCode()).as("the override frees it: %s", serve.err()).isZero();
            assertThat(serve.out()).contains(": OK\n").contains("http: listen 127.0.0.1:0");
        }
    }
}
