package io.nvmpath.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.DhGroup;
import io.nvmpath.fabric.auth.DhchapSecret;
import io.nvmpath.fabric.auth.TlsPsk;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.testing.LogCapture;
import io.nvmpath.target.config.TargetConfig;
import io.nvmpath.target.config.TargetConfig.DhchapHost;
import io.nvmpath.target.config.TargetConfig.PortConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * NVMe/TCP TLS between the project's host and target in process: a port with a configured PSK takes
 * only TLS 1.3 connections under an identity of that PSK; every queue (admin and I/O) runs its own
 * handshake, then ICReq, Connect and I/O as without TLS, digests and DH-HMAC-CHAP included. A host
 * without TLS, or with another PSK, is refused; no key reaches the log.
 */
class TlsAgainstTargetTest {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:2d4f6a8c-1e3b-4c5d-8e9f-a0b1c2d3e4f5";
    private NvmeTarget target;
    private EventLoopGroup hostLoops;
    private LogCapture logs;

    @BeforeEach
    void start() {
        hostLoops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        logs = LogCapture.start();
    }

    @AfterEach
    void stop() throws Exception {
        hostLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        if (target != null) {
            target.close();
        }
        logs.close();
    }

    private static TlsPsk psk(AuthHash hash) {
        byte[] key = new byte[hash.length()];
        RANDOM.nextBytes(key);
        return TlsPsk.of(key, hash);
    }

    private void startTarget(TlsPsk portPsk, Map<String, DhchapHost> dhchap) throws Exception {
        TargetConfig demo = TargetConfig.demo(0, 0, 0, 0);
        List<PortConfig> ports = demo.ports().stream().map(p -> p.withTls(portPsk)).toList();
        target = NvmeTarget.start(new TargetConfig(List.of(demo.subsystems().get(0).withDhchap(dhchap)), ports,
                demo.discovery(), demo.limits(), demo.admin(), demo.anatt()).validate());
    }

    private Controller connect(ControllerOptions o) throws Exception {
        return Controller.connect(new TransportAddress("127.0.0.1", target.port(1)), TargetConfig.DEMO_NQN,
                o.hostNqn(HOST_NQN).ioQueues(2).connectTimeout(Duration.ofSeconds(5)), hostLoops).get(20, TimeUnit.SECONDS);
    }

    private static void assertWorks(Controller c) throws Exception {
        assertThat(c.identity().subnqn()).isEqualTo(TargetConfig.DEMO_NQN);
        for (int i = 0; i < 8; i++) { // over both I/O queues, some in-capsule, some through R2T
            byte[] bytes = new byte[i % 2 == 0 ? 4096 : 131072];
            RANDOM.nextBytes(bytes);
            ByteBuf w = Unpooled.wrappedBuffer(bytes);
            try {
                c.io(Commands.write(1, 1000L * i, bytes.length / 512, w, false), "write").get(5, TimeUnit.SECONDS);
            } finally {
                w.release();
            }
            NvmeRequest r = c.io(Commands.read(1, 1000L * i, bytes.length / 512, 512), "read").get(5, TimeUnit.SECONDS);
            ByteBuf b = r.takeReadData();
            try {
                assertThat(ByteBufUtil.getBytes(b)).isEqualTo(bytes);
            } finally {
                b.release();
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = AuthHash.class, names = {"SHA256", "SHA384"})
    void should_run_every_queue_over_tls_with_the_psk_of_the_port(AuthHash hash) throws Exception {
        TlsPsk psk = psk(hash);
        startTarget(psk, Map.of());
        try (Controller c = connect(new ControllerOptions().tlsPsk(TlsPsk.parse(psk.format())))) {
            assertWorks(c);
        }
        assertThat(logs.text()).doesNotContain(psk.format());
    }

    /** A 48-byte PSK with the specification's handshake on both sides: TLS_AES_256_GCM_SHA384, every queue. */
    @Test
    void should_run_every_queue_over_tls_aes_256_gcm_sha384_with_the_spec_handshake() throws Exception {
        TlsPsk psk = psk(AuthHash.SHA384).withHandshake(io.nvmpath.fabric.auth.TlsHandshake.SPECIFICATION);
        startTarget(psk, Map.of());
        try (Controller c = connect(new ControllerOptions().tlsPsk(TlsPsk.parse(psk.format())
                .withHandshake(io.nvmpath.fabric.auth.TlsHandshake.SPECIFICATION)))) {
            assertWorks(c);
        }
        // and a host with the Linux handshake does not meet it on this key: refused at the handshake
        Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> connect(new ControllerOptions()
                .tlsPsk(TlsPsk.parse(psk.format())).reconnectDelay(Duration.ofMillis(50))));
        assertThat(t).isNotNull();
        assertThat(t.getCause().getMessage()).contains("TLS handshake failed");
    }

    @Test
    void should_run_tls_with_digests_and_dhchap_together() throws Exception {
        TlsPsk psk = psk(AuthHash.SHA384);
        DhchapSecret key = DhchapSecret.generate(48, AuthHash.SHA384, RANDOM);
        startTarget(psk, Map.of(HOST_NQN, new DhchapHost(key, null, AuthHash.SHA384, DhGroup.FFDHE2048)));
        try (Controller c = connect(new ControllerOptions().tlsPsk(psk).dhchapSecret(key).headerDigest(true)
                .dataDigest(true))) {
            assertThat(c.headerDigest()).isTrue();
            assertWorks(c);
        }
    }

    @Test
    void should_refuse_a_host_without_tls_and_a_host_with_another_psk() throws Exception {
        startTarget(psk(AuthHash.SHA256), Map.of());
        Throwable plain = catchThrowable(() -> connect(new ControllerOptions()));
        assertThat(plain).isInstanceOf(ExecutionException.class);
        System.out.println("plain TCP to a TLS port: " + plain.getCause().getMessage());

        TlsPsk other = psk(AuthHash.SHA256);
        Throwable wrong = catchThrowable(() -> connect(new ControllerOptions().tlsPsk(other)));
        assertThat(wrong).isInstanceOf(ExecutionException.class);
        System.out.println("another PSK: " + wrong.getCause().getMessage());
        assertThat(wrong.getCause().getMessage()).contains("TLS handshake failed");
        assertThat(logs.text()).doesNotContain(other.format());
    }
}
