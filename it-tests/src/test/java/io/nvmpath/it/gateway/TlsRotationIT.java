package io.nvmpath.it.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.nvmpath.it.guest.Peers;
import io.nvmpath.server.gateway.Gateway;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The NBD listener's TLS files as operators have them and rotate them, through the real binary
 * ({@code bin/nvmpath serve --config}): a PKCS#1 RSA key (what GnuTLS's certtool and cert-manager
 * write) serves libnbd; the files are then replaced, as a Secret update does, by a SEC1 EC key
 * and a certificate from another CA. A client connected before goes on; a new client that trusts only
 * the new CA is served within seconds; one that trusts only the old CA is not.
 */
class TlsRotationIT {
    private static final Duration T = Duration.ofSeconds(60);
    private static final ObjectMapper JSON = new ObjectMapper();

    private static void openssl(Path dir, String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "openssl";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Tool.run(T, cmd).requireOk("openssl " + String.join(" ", args));
    }

    /**
     * A CA in {@code dir/ca/ca-cert.pem} (libnbd's and qemu's client directory layout) and a server
     * certificate for 127.0.0.1 it signed, whose key {@code newKey} makes in {@code dir/server.key}.
     */
    private static Path authority(Path dir, String name, String... newKey) throws Exception {
        Files.createDirectories(dir.resolve("ca"));
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.resolve("ca.key").toString(),
                "-out", dir.resolve("ca/ca-cert.pem").toString(), "-subj", "/CN=" + name + " CA", "-days", "2");
        openssl(dir, newKey);
        openssl(dir, "req", "-new", "-key", dir.resolve("server.key").toString(), "-out", dir.resolve("server.csr").toString(),
                "-subj", "/CN=" + name + " gateway");
        Files.writeString(dir.resolve("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
        openssl(dir, "x509", "-req", "-in", dir.resolve("server.csr").toString(), "-CA", dir.resolve("ca/ca-cert.pem").toString(),
                "-CAkey", dir.resolve("ca.key").toString(), "-CAcreateserial", "-out", dir.resolve("server.crt").toString(),
                "-days", "2", "-extfile", dir.resolve("san.ext").toString());
        return dir;
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void should_serve_a_pkcs1_key_and_move_new_sessions_to_rotated_files_while_established_ones_go_on()
            throws Exception {
        Peers.assumeTools("openssl", "openssl", "nbdinfo", "libnbd-bin", "nbdsh", "python3-libnbd");
        Path dir = Files.createTempDirectory("nvmpath-tls-rotation");
        Path a = authority(dir.resolve("a"), "first", "genrsa", "-traditional", "-out",
                dir.resolve("a/server.key").toString(), "2048");
        Path b = authority(dir.resolve("b"), "second", "ecparam", "-name", "prime256v1", "-genkey", "-out",
                dir.resolve("b/server.key").toString());
        assertThat(Files.readString(a.resolve("server.key"))).startsWith("-----BEGIN RSA PRIVATE KEY-----");
        assertThat(Files.readString(b.resolve("server.key"))).contains("-----BEGIN EC PRIVATE KEY-----");
        Path tls = Files.createDirectories(dir.resolve("tls"));
        Files.copy(a.resolve("server.crt"), tls.resolve("tls.crt"));
        Files.copy(a.resolve("server.key"), tls.resolve("tls.key"));

        int nbd = freePort();
        int http = freePort();
        try (NvmeTarget target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0))) {
            Path cfg = dir.resolve("gateway.yaml");
            Files.writeString(cfg, """
                    host: {stateFile: host.properties}
                    portals:
                      - {traddr: 127.0.0.1, trsvcid: %d, subnqn: "%s"}
                    nbd:
                      listen: {address: 127.0.0.1, port: %d}
                      tls: {mode: require, certificate: tls/tls.crt, key: tls/tls.key}
                    http:
                      listen: {address: 127.0.0.1, port: %d}
                    """.formatted(target.port(1), TargetConfig.DEMO_NQN, nbd, http));
            Process first = null;
            try (ServeProcess serve = ServeProcess.start(cfg, dir.resolve("serve.log"))) {
                String export = Gateway.exportName(TargetConfig.DEMO_NQN, 1);
                serve.await("the gateway ready", T, () -> get("http://127.0.0.1:" + http + "/ready").startsWith("200"));
                String uri = "nbds://127.0.0.1:" + nbd + "/" + export + "?tls-certificates=";
                Tool.run(T, "nbdinfo", "--size", uri + a.resolve("ca")).requireOk("nbdinfo, trusting the first CA");

                // a libnbd client that stays connected across the rotation: read, wait 8 s, read again
                // (nbdsh is Debian's python3 with python3-libnbd, whatever python3 comes first on the PATH)
                first = new ProcessBuilder("/usr/bin/python3", "-m", "nbd", "-c", "h.set_uri_allow_local_file(True)",
                        "-c", "h.connect_uri('" + uri + a.resolve("ca") + "')",
                        "-c", "h.pread(1048576, 0); print('read 1 done', flush=True)", "-c", "import time; time.sleep(8)",
                        "-c", "h.pread(1048576, 1048576); print('read 2 done')").redirectErrorStream(true).start();
                Process client = first;
                serve.await("the first client connected", T, () -> {
                    if (!client.isAlive()) {
                        throw new AssertionError("nbdsh exited " + client.exitValue() + ": "
                                + new String(client.getInputStream().readAllBytes()));
                    }
                    return JSON.readTree(get("http://127.0.0.1:" + http + "/api/v1/exports").substring(4))
                            .path("exports").get(0).path("connections").asInt() == 1;
                });

                // the rotation, as a Secret update makes it: each file replaced whole, one after the other
                long t0 = System.nanoTime();
                replace(b.resolve("server.crt"), tls.resolve("tls.crt"));
                replace(b.resolve("server.key"), tls.resolve("tls.key"));
                serve.await("a client trusting only the second CA to be served", T,
                        () -> Tool.run(T, "nbdinfo", "--size", uri + b.resolve("ca")).rc() == 0);
                long rotatedMs = (System.nanoTime() - t0) / 1_000_000;
                System.out.printf("rotated files in use by new sessions %d ms after they were replaced%n", rotatedMs);
                assertThat(Tool.run(T, "nbdinfo", "--size", uri + a.resolve("ca")).rc())
                        .as("a client trusting only the first CA, after the rotation").isNotZero();

                assertThat(first.waitFor(30, TimeUnit.SECONDS)).isTrue();
                String out = new String(first.getInputStream().readAllBytes());
                assertThat(first.exitValue()).as("the client connected before the rotation: %s", out).isZero();
                assertThat(out).contains("read 1 done").contains("read 2 done");
                assertThat(serve.log()).contains("NBD TLS: CN=first gateway")
                        .contains("NBD TLS: files changed, new sessions use CN=second gateway");
            } finally {
                if (first != null) {
                    first.destroyForcibly();
                }
            }
        }
    }

    /** Replaces {@code target} by a copy of {@code source} in one rename, as a Secret's volume does. */
    private static void replace(Path source, Path target) throws Exception {
        Path tmp = target.resolveSibling(target.getFileName() + ".new");
        Files.copy(source, tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static String get(String url) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.body();
    }
}
