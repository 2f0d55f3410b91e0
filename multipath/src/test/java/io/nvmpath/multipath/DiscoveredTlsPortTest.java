package io.nvmpath.multipath;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.TlsPsk;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.Discovery;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.DiscoveryLog;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.testing.Await;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import io.nvmpath.target.config.TargetConfig.NamespaceConfig;
import io.nvmpath.target.config.TargetConfig.PortConfig;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A discovery log that lists a TLS-only port (TREQ secure channel required, TSAS TLS 1.3) and a plain
 * one of the same subsystem: the TLS port's portal is connected with TLS when a PSK is configured for
 * the subsystem, and refused at once, naming the reason, when none is — rather than tried in plain TCP
 * and closed by the port; the plain port is connected without TLS either way.
 */
class DiscoveredTlsPortTest {
    private static final String NQN = "nqn.2026-12.test:discovered-tls";
    private final TlsPsk psk = newPsk();
    private NvmeTarget target;
    private EventLoopGroup loops;
    private Multipath mp;

    private static TlsPsk newPsk() {
        byte[] k = new byte[32];
        new SecureRandom().nextBytes(k);
        return TlsPsk.of(k, AuthHash.SHA256);
    }

    @BeforeEach
    void start() throws Exception {
        NamespaceConfig ns = new NamespaceConfig(1, 8 << 20, null, 512, 1, null, null, null, false);
        SubsystemConfig s = new SubsystemConfig(NQN, "DTLS", "discovered tls", "1", true, List.of(), List.of(ns));
        PortConfig plain = new PortConfig(1, "127.0.0.1", 0, null, List.of(NQN), Map.of(1, AnaState.OPTIMIZED));
        PortConfig tls = new PortConfig(2, "127.0.0.1", 0, null, List.of(NQN), Map.of(1, AnaState.OPTIMIZED)).withTls(psk);
        target = NvmeTarget.start(new TargetConfig(List.of(s), List.of(plain, tls),
                new TargetConfig.ListenConfig("127.0.0.1", 0), null, null, 10));
        loops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() throws Exception {
        if (mp != null) {
            mp.close();
        }
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        target.close();
    }

    private MultipathOptions options() {
        return MultipathOptions.defaults().withController(new ControllerOptions().reconnectDelay(Duration.ofMillis(200)));
    }

    @Test
    void the_discovery_log_says_which_port_takes_only_tls() throws Exception {
        try (Controller d = Controller.connect(new TransportAddress("127.0.0.1", target.discoveryPort()),
                Opcodes.DISCOVERY_NQN, new ControllerOptions(), loops).get(10, TimeUnit.SECONDS)) {
            DiscoveryLog log = Discovery.readLog(d).get(10, TimeUnit.SECONDS);
            DiscoveryLog.Entry plain = log.entries().stream().filter(e -> e.portid() == 1).findFirst().orElseThrow();
            DiscoveryLog.Entry tls = log.entries().stream().filter(e -> e.portid() == 2).findFirst().orElseThrow();
            assertThat(plain.secureChannelRequired()).isFalse();
            assertThat(plain.tls13()).isFalse();
            assertThat(tls.secureChannelRequired()).isTrue();
            assertThat(tls.tls13()).isTrue();
        }
    }

    @Test
    void a_discovered_tls_port_without_a_psk_is_refused_naming_why_and_connected_with_one() throws Exception {
        mp = new Multipath(options(), loops);
        mp.addDiscovery(new TransportAddress("127.0.0.1", target.discoveryPort())).get(10, TimeUnit.SECONDS);
        Await.until("the plain path", () -> mp.head(NQN, 1) != null && mp.head(NQN, 1).paths().size() == 1);
        int tlsPort = target.port(2);
        Await.until("the TLS portal refused", () -> mp.portals().stream().anyMatch(p -> p.address().trsvcid() == tlsPort
                && p.lastError() != null));
        Multipath.PortalView v = mp.portals().stream().filter(p -> p.address().trsvcid() == tlsPort).findFirst().orElseThrow();
        assertThat(v.lastError()).isEqualTo("the discovery log says 127.0.0.1:" + tlsPort
                + " takes only NVMe/TCP TLS, and no TLS PSK is configured for " + NQN);
        mp.close();

        mp = new Multipath(options().withPortalOptions((address, nqn, base) -> NQN.equals(nqn)
                ? base.copy().tlsPsk(psk) : base), loops);
        mp.addDiscovery(new TransportAddress("127.0.0.1", target.discoveryPort())).get(10, TimeUnit.SECONDS);
        Await.until("both paths, one over TLS, the other plain as the log says", () -> mp.head(NQN, 1) != null && mp.head(NQN, 1).paths().size() == 2);
    }
}
