package io.nvmpath.multipath;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.testing.Await;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import io.nvmpath.target.config.TargetConfig.NamespaceConfig;
import io.nvmpath.target.config.TargetConfig.PortConfig;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** Controllers and namespaces coming and going while the path layer runs. */
class MultipathTopologyTest {
    private static final String A = "nqn.2026-11.test:mp-a";
    private static final String B = "nqn.2026-11.test:mp-b";
    private NvmeTarget target;
    private EventLoopGroup loops;
    private Multipath mp;

    @BeforeEach
    void start() throws Exception {
        NamespaceConfig ns = new NamespaceConfig(1, 8 << 20, null, 512, 1, null, null, null, false);
        SubsystemConfig a = new SubsystemConfig(A, "MPA", "mp topology", "1", true, List.of(), List.of(ns));
        SubsystemConfig b = new SubsystemConfig(B, "MPB", "mp topology", "1", true, List.of(), List.of(ns));
        PortConfig p1 = new PortConfig(1, "127.0.0.1", 0, null, List.of(A), Map.of(1, AnaState.OPTIMIZED));
        PortConfig p2 = new PortConfig(2, "127.0.0.1", 0, null, List.of(A), Map.of(1, AnaState.NON_OPTIMIZED));
        target = NvmeTarget.start(new TargetConfig(List.of(a, b), List.of(p1, p2),
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

    private static void await(BooleanSupplier condition, String what) {
        Await.until(what, condition);
    }

    @Test
    void persistent_discovery_adds_every_portal_and_follows_discovery_log_changes() throws Exception {
        mp = new Multipath(MultipathOptions.defaults(), loops);
        mp.addDiscovery(new TransportAddress("127.0.0.1", target.discoveryPort())).get(10, TimeUnit.SECONDS);
        await(() -> mp.head(A, 1) != null && mp.head(A, 1).paths().size() == 2, "two paths to " + A);
        assertThat(mp.subsystem(B)).isNull();
        target.linkSubsystem(2, B); // the discovery log changes: the event brings the new portal
        await(() -> mp.head(B, 1) != null && mp.head(B, 1).paths().size() == 1, "a path to " + B);
    }

    @Test
    void a_namespace_added_at_run_time_gets_a_head_through_the_namespace_changed_event() throws Exception {
        mp = new Multipath(MultipathOptions.defaults(), loops);
        mp.addPortal(new TransportAddress("127.0.0.1", target.port(1)), A).get(10, TimeUnit.SECONDS);
        mp.addPortal(new TransportAddress("127.0.0.1", target.port(2)), A).get(10, TimeUnit.SECONDS);
        target.addNamespace(A, new NamespaceConfig(7, 4 << 20, null, 4096, 1, null, null, null, false));
        await(() -> mp.head(A, 7) != null && mp.head(A, 7).paths().size() == 2, "head 7 with two paths");
        assertThat(mp.head(A, 7).lbaSize()).isEqualTo(4096);
        target.removeNamespace(A, 7);
        await(() -> mp.head(A, 7) == null, "head 7 removed");
    }

    @Test
    void an_ana_group_stuck_in_change_beyond_anatt_resets_its_controller() throws Exception {
        target.close();
        NamespaceConfig ns = new NamespaceConfig(1, 8 << 20, null, 512, 1, null, null, null, false);
        SubsystemConfig a = new SubsystemConfig(A, "MPA", "mp topology", "1", true, List.of(), List.of(ns));
        PortConfig p1 = new PortConfig(1, "127.0.0.1", 0, null, List.of(A), Map.of(1, AnaState.OPTIMIZED));
        target = NvmeTarget.start(new TargetConfig(List.of(a), List.of(p1), null, null, null, 1)); // ANATT 1 s
        mp = new Multipath(MultipathOptions.defaults()
                .withController(new ControllerOptions().reconnectDelay(Duration.ofMillis(100))), loops);
        mp.addPortal(new TransportAddress("127.0.0.1", target.port(1)), A).get(10, TimeUnit.SECONDS);
        Path p = mp.head(A, 1).paths().get(0);
        io.nvmpath.fabric.host.Controller c = ((ControllerPathIo) p.io()).controller();
        target.setAnaState(1, 1, AnaState.CHANGE);
        await(() -> p.anaState() == AnaState.CHANGE, "the path sees the change state");
        long t0 = System.nanoTime();
        await(() -> c.lastFailure() != null && c.lastFailure().contains("ANATT"), "a reset for the ANA transition");
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertThat(ms).isBetween(800L, 3000L);
        target.setAnaState(1, 1, AnaState.OPTIMIZED);
        await(() -> p.usable(), "usable again after the reconnect reads the settled state");
    }

    @Test
    void a_controller_deleted_after_ctrl_loss_tmo_takes_its_paths_and_a_delayed_removal_keeps_the_head() throws Exception {
        ControllerOptions co = new ControllerOptions().reconnectDelay(Duration.ofMillis(100))
                .ctrlLossTimeout(Duration.ofMillis(300));
        mp = new Multipath(MultipathOptions.defaults().withController(co).withDelayedRemoval(Duration.ofSeconds(1))
                .withNoPathTimeout(null), loops);
        mp.addPortal(new TransportAddress("127.0.0.1", target.port(1)), A).get(10, TimeUnit.SECONDS);
        NamespaceHead head = mp.head(A, 1);
        target.setFault(1, new Fault.Down());
        await(() -> head.paths().isEmpty(), "the path of the deleted controller removed");
        // the head outlives its last path for delayed_removal, queueing I/O meanwhile
        NvmeRequest r = Commands.flush(1);
        CompletableFuture<NvmeRequest> f = new CompletableFuture<>();
        r.callback(f::complete);
        head.submit(r);
        long t = mp.ticks();
        await(() -> mp.ticks() >= t + 2, "two management ticks with the head in delayed removal");
        assertThat(f).isNotDone();
        assertThat(mp.head(A, 1)).isSameAs(head);
        NvmeRequest done = f.get(5, TimeUnit.SECONDS);
        assertThat(done.status()).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(done.describeStatus()).contains("no controller left");
        assertThat(mp.head(A, 1)).isNull();
        target.setFault(1, Fault.NONE);
    }
}
