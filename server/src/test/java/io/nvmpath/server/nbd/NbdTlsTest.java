package io.nvmpath.server.nbd;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import io.nvmpath.server.nbd.RawNbdClient.OptionReply;
import io.nvmpath.server.nbd.RawNbdClient.SimpleReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLContext;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** STARTTLS in ALLOW and REQUIRE modes, with a test certificate. */
class NbdTlsTest {
    private static SslContext serverContext;
    private static SSLContext clientContext;

    private NbdFixture fixture;

    @BeforeAll
    static void certificates() throws Exception {
        X509Bundle cert = new CertificateBuilder()
                .subject("CN=localhost")
                .addSanDnsName("localhost")
                .addSanIpAddress("127.0.0.1")
                .setIsCertificateAuthority(true)
                .ecp256()
                .buildSelfSigned();
        serverContext = SslContextBuilder.forServer(cert.toKeyManagerFactory()).build();
        clientContext = SSLContext.getInstance("TLS");
        clientContext.init(null, cert.toTrustManagerFactory().getTrustManagers(), null);
    }

    @BeforeEach
    void setUp() {
        fixture = new NbdFixture();
        fixture.add("disk", 1 << 20, false);
    }

    @AfterEach
    void tearDown() throws Exception {
        fixture.close();
    }

    private InetSocketAddress start(NbdServer.TlsMode mode) throws Exception {
        return fixture.start(NbdServer.Config.defaults().bind("127.0.0.1", 0).tls(mode, serverContext));
    }

    @Test
    void should_serve_an_export_over_tls_after_starttls() throws Exception {
        InetSocketAddress server = start(NbdServer.TlsMode.ALLOW);
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            assertThat(c.option(Nbd.OPT_STARTTLS, new byte[0]).type()).isEqualTo(Nbd.REP_ACK);
            c.startTls(clientContext);
            c.go("disk");
            byte[] data = NbdTransmissionTest.random(100_000, 9);
            c.write(1, 0, data);
            assertThat(c.readSimpleReply(0).error()).isZero();
            c.read(2, 0, data.length);
            SimpleReply r = c.readSimpleReply(data.length);
            assertThat(r.error()).isZero();
            assertThat(r.data()).isEqualTo(data);
        }
    }

    @Test
    void should_also_serve_clear_text_clients_when_tls_is_only_allowed() throws Exception {
        InetSocketAddress server = start(NbdServer.TlsMode.ALLOW);
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.read(1, 0, 512);
            assertThat(c.readSimpleReply(512).error()).isZero();
        }
    }

    @Test
    void should_answer_tls_reqd_to_every_option_before_starttls_when_tls_is_required() throws Exception {
        InetSocketAddress server = start(NbdServer.TlsMode.REQUIRE);
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            assertThat(c.option(Nbd.OPT_LIST, new byte[0]).type()).isEqualTo(Nbd.REP_ERR_TLS_REQD);
            assertThat(c.optionUntilFinal(Nbd.OPT_GO, RawNbdClient.infoData("disk"))).extracting(OptionReply::type)
                    .containsExactly(Nbd.REP_ERR_TLS_REQD);
            assertThat(c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]).type()).isEqualTo(Nbd.REP_ERR_TLS_REQD);
            assertThat(c.option(Nbd.OPT_STARTTLS, new byte[0]).type()).isEqualTo(Nbd.REP_ACK);
            c.startTls(clientContext);
            assertThat(c.optionUntilFinal(Nbd.OPT_LIST, new byte[0])).extracting(OptionReply::type)
                    .containsExactly(Nbd.REP_SERVER, Nbd.REP_ACK);
            assertThat(c.option(Nbd.OPT_STARTTLS, new byte[0]).type()).as("second STARTTLS")
                    .isEqualTo(Nbd.REP_ERR_INVALID);
            c.go("disk");
            c.read(1, 0, 512);
            assertThat(c.readSimpleReply(512).error()).isZero();
        }
    }

    @Test
    void should_close_on_export_name_before_starttls_when_tls_is_required() throws Exception {
        InetSocketAddress server = start(NbdServer.TlsMode.REQUIRE);
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            c.sendOption(Nbd.OPT_EXPORT_NAME, "disk".getBytes(StandardCharsets.UTF_8));
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void should_let_abort_through_before_starttls_when_tls_is_required() throws Exception {
        InetSocketAddress server = start(NbdServer.TlsMode.REQUIRE);
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            assertThat(c.option(Nbd.OPT_ABORT, new byte[0]).type()).isEqualTo(Nbd.REP_ACK);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void should_forget_what_was_negotiated_before_starttls() throws Exception {
        InetSocketAddress server = start(NbdServer.TlsMode.ALLOW);
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            assertThat(c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]).type()).isEqualTo(Nbd.REP_ACK);
            assertThat(c.option(Nbd.OPT_STARTTLS, new byte[0]).type()).isEqualTo(Nbd.REP_ACK);
            c.startTls(clientContext);
            c.go("disk");
            assertThat(c.transmissionFlags & Nbd.FLAG_SEND_DF).as("no structured replies any more").isZero();
            c.read(1, 0, 512);
            assertThat(c.readSimpleReply(512).error()).isZero();
        }
    }
}
