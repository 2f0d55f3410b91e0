package io.nvmpath.it.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nvmpath.it.guest.Peers;
import io.nvmpath.server.gateway.Gateway;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * NBD over TLS with X.509 certificates (made here with openssl), judged by libnbd (GnuTLS):
 * {@code tls: require} refuses a plaintext client and serves one that upgrades with STARTTLS.
 */
class GatewayTlsIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration T = Duration.ofSeconds(60);

    private static void openssl(Path dir, String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "openssl";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Tool.Result r = Tool.run(T, cmd);
        r.requireOk("openssl " + String.join(" ", args));
    }

    /** A CA, and a server certificate for 127.0.0.1 it signed, in libnbd's directory layout. */
    private static Path certificates() throws Exception {
        Path d = Files.createTempDirectory("nvmpath-tls-it");
        openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d.resolve("ca-key.pem").toString(),
                "-out", d.resolve("ca-cert.pem").toString(), "-subj", "/CN=nvmpath test CA", "-days", "2");
        openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", d.resolve("server-key.pem").toString(),
                "-out", d.resolve("server.csr").toString(), "-subj", "/CN=localhost");
        Files.writeString(d.resolve("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
        openssl(d, "x509", "-req", "-in", d.resolve("server.csr").toString(), "-CA", d.resolve("ca-cert.pem").toString(),
                "-CAkey", d.resolve("ca-key.pem").toString(), "-CAcreateserial", "-out",
                d.resolve("server-cert.pem").toString(), "-days", "2", "-extfile", d.resolve("san.ext").toString());
        // libnbd's client directory: only the CA is needed to verify the server
        Path client = d.resolve("client");
        Files.createDirectories(client);
        Files.copy(d.resolve("ca-cert.pem"), client.resolve("ca-cert.pem"));
        return d;
    }

    @Test
    void tls_required_refuses_plaintext_and_serves_a_verified_tls_client() throws Exception {
        Peers.assumeTools("nbdinfo", "libnbd-bin", "openssl", "openssl", "nbdcopy", "libnbd-bin");
        Path certs = certificates();
        try (NvmeTarget target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
             GatewayFixture gw = GatewayFixture.start(List.of(
                     new GatewayFixture.Portal("127.0.0.1", target.port(1), TargetConfig.DEMO_NQN),
                     new GatewayFixture.Portal("127.0.0.1", target.port(2), TargetConfig.DEMO_NQN)),
                     ", tls: {mode: require, certificate: " + certs.resolve("server-cert.pem") + ", key: "
                             + certs.resolve("server-key.pem") + "}", 2)) {
            String export = Gateway.exportName(TargetConfig.DEMO_NQN, 1);
            String plain = "nbd://127.0.0.1:" + gw.nbdPort() + "/" + export;
            Tool.Result refused = Tool.run(T, "env", "LIBNBD_DEBUG=1", "nbdinfo", plain);
            assertThat(refused.rc()).isNotZero();
            assertThat(refused.err()).contains("server error message: TLS is required");

            String tls = "nbds://127.0.0.1:" + gw.nbdPort() + "/" + export + "?tls-certificates="
                    + certs.resolve("client");
            Tool.Result ok = Tool.run(T, "nbdinfo", "--json", tls).requireOk("nbdinfo over TLS");
            JsonNode info = JSON.readTree(ok.out());
            assertThat(info.get("TLS").asBoolean()).isTrue();
            assertThat(info.get("exports").get(0).get("export-size").asLong()).isEqualTo(1L << 30);

            // data moves over TLS: 8 MiB in and out, equal
            Path in = certs.resolve("in.bin");
            byte[] b = new byte[8 << 20];
            new java.util.Random(7).nextBytes(b);
            Files.write(in, b);
            Tool.run(T, "nbdcopy", in.toString(), tls).requireOk("nbdcopy in over TLS");
            Path out = certs.resolve("out.bin");
            Tool.run(Duration.ofSeconds(240), "nbdcopy", tls, out.toString()).requireOk("nbdcopy out over TLS");
            byte[] back = java.util.Arrays.copyOf(Files.readAllBytes(out), b.length);
            assertThat(back).isEqualTo(b);

            // a client that does not trust the server's CA is refused by its own verification
            Path stranger = Files.createTempDirectory("nvmpath-tls-stranger");
            openssl(stranger, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    stranger.resolve("k.pem").toString(), "-out", stranger.resolve("ca-cert.pem").toString(), "-subj",
                    "/CN=other CA", "-days", "2");
            Tool.Result untrusted = Tool.run(T, "nbdinfo", "nbds://127.0.0.1:" + gw.nbdPort() + "/" + export
                    + "?tls-certificates=" + stranger);
            assertThat(untrusted.rc()).isNotZero();
        }
    }
}
