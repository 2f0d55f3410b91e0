package io.nvmpath.server.http;

import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import io.nvmpath.server.tls.ReloadingTlsContext;
import io.nvmpath.server.tls.TlsMaterial;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static io.nvmpath.server.http.GatewayFixture.NQN;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Who may change the gateway over HTTP: reading stays open; POST and DELETE need the bearer token or
 * a verified client certificate, and are refused beyond loopback when neither is configured.
 */
class HttpAccessTest {
    private static final String IOPOLICY = "/api/v1/subsystems/" + NQN.replace(":", "%3A") + "/iopolicy";
    private static final String ROUND_ROBIN = "{\"iopolicy\": \"round-robin\"}";

    @TempDir
    Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private URI start(String address, HttpAccess access, String scheme) throws Exception {
        GatewayFixture gateway = new GatewayFixture();
        GatewayMetrics metrics = new GatewayMetrics(gateway);
        HttpAdminServer server = new HttpAdminServer(address, 0, null, gateway, gateway, metrics,
                HttpAdminServer.DEFAULT_PORTAL_WAIT, access);
        int port = server.start().getPort();
        open.add(metrics);
        open.add(server);
        return URI.create(scheme + "://127.0.0.1:" + port);
    }

    private static HttpResponse<String> send(HttpClient c, URI base, String method, String path, String token)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10))
                .method(method, method.equals("GET") ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(ROUND_ROBIN));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return c.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void should_refuse_state_changes_without_the_bearer_token_and_serve_them_with_it() throws Exception {
        Path token = dir.resolve("api-token");
        Files.writeString(token, "t0ken-one\n");
        URI base = start("127.0.0.1", new HttpAccess(null, token, false), "http");
        HttpClient c = HttpClient.newHttpClient();

        HttpResponse<String> none = send(c, base, "POST", IOPOLICY, null);
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"nvmpath\"");
        assertThat(none.body()).contains("needs the API token").doesNotContain("t0ken");
        assertThat(send(c, base, "POST", IOPOLICY, "wrong").statusCode()).isEqualTo(401);
        assertThat(send(c, base, "POST", IOPOLICY, "t0ken-one").statusCode()).isEqualTo(200);
        for (String open : List.of("/metrics", "/health", "/ready", "/api/v1/subsystems")) {
            assertThat(send(c, base, "GET", open, null).statusCode()).as(open).isEqualTo(200);
        }

        Files.writeString(token, "t0ken-two\n"); // rotated: in force at once
        assertThat(send(c, base, "POST", IOPOLICY, "t0ken-one").statusCode()).isEqualTo(401);
        assertThat(send(c, base, "POST", IOPOLICY, "t0ken-two").statusCode()).isEqualTo(200);
    }

    @Test
    void should_refuse_state_changes_beyond_loopback_when_no_credential_is_configured() throws Exception {
        HttpClient c = HttpClient.newHttpClient();
        URI wildcard = start("0.0.0.0", HttpAccess.PLAIN, "http");
        HttpResponse<String> refused = send(c, wildcard, "POST", IOPOLICY, null);
        assertThat(refused.statusCode()).isEqualTo(403);
        assertThat(refused.body()).contains("neither http.token nor http.tls.clientCa");
        assertThat(send(c, wildcard, "GET", "/metrics", null).statusCode()).isEqualTo(200);

        URI loopback = start("127.0.0.1", HttpAccess.PLAIN, "http");
        assertThat(send(c, loopback, "POST", IOPOLICY, null).statusCode()).as("loopback, as before").isEqualTo(200);
    }

    @Test
    void should_serve_https_and_let_a_verified_client_certificate_change_state() throws Exception {
        X509Bundle ca = new CertificateBuilder().subject("CN=nvmpath test CA").setIsCertificateAuthority(true)
                .algorithm(CertificateBuilder.Algorithm.ecp256).buildSelfSigned();
        X509Bundle server = new CertificateBuilder().subject("CN=localhost").addSanIpAddress("127.0.0.1")
                .algorithm(CertificateBuilder.Algorithm.ecp256).buildIssuedBy(ca);
        X509Bundle operator = new CertificateBuilder().subject("CN=operator")
                .algorithm(CertificateBuilder.Algorithm.ecp256).buildIssuedBy(ca);
        Path crt = Files.writeString(dir.resolve("tls.crt"), server.getCertificatePEM());
        Path key = Files.writeString(dir.resolve("tls.key"), server.getPrivateKeyPEM());
        Path cas = Files.writeString(dir.resolve("ca.crt"), ca.getCertificatePEM());
        ReloadingTlsContext tls = new ReloadingTlsContext("HTTP", List.of(crt, key, cas),
                () -> TlsMaterial.load(crt, key, null, cas), Duration.ofHours(1), io.netty.handler.ssl.ClientAuth.OPTIONAL);
        open.add(tls);
        URI base = start("0.0.0.0", new HttpAccess(tls, null, true), "https");

        SSLContext anonymous = SSLContext.getInstance("TLS");
        anonymous.init(null, ca.toTrustManagerFactory().getTrustManagers(), null);
        HttpClient scraper = HttpClient.newBuilder().sslContext(anonymous).build();
        assertThat(send(scraper, base, "GET", "/metrics", null).statusCode()).as("a scraper needs no certificate")
                .isEqualTo(200);
        assertThat(send(scraper, base, "POST", IOPOLICY, null).statusCode()).isEqualTo(401);

        SSLContext withCertificate = SSLContext.getInstance("TLS");
        withCertificate.init(operator.toKeyManagerFactory().getKeyManagers(), ca.toTrustManagerFactory().getTrustManagers(),
                null);
        HttpClient admin = HttpClient.newBuilder().sslContext(withCertificate).build();
        assertThat(send(admin, base, "POST", IOPOLICY, null).statusCode()).isEqualTo(200);
    }
}
