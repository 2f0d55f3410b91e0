package io.nvmpath.multipath;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.testing.Await;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What the gateway builds on: head events, head limits, portals added, retried, listed and removed. */
class PortalsAndHeadEventsTest {
    private NvmeTarget target;
    private EventLoopGroup loops;
    private Multipath mp;
    private final List<String> events = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
        loops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        ControllerOptions co = new ControllerOptions().keepAliveTimeout(Duration.ofSeconds(1))
                .reconnectDelay(Duration.ofMillis(200)).connectTimeout(Duration.ofSeconds(2));
        mp = new Multipath(MultipathOptions.defaults().withController(co), loops);
        mp.addHeadListener(new Multipath.HeadListener() {
            @Override
            public void headAdded(NamespaceHead head) {
                events.add("added " + head.nsid() + " paths=" + head.paths().size());
            }

            @Override
            public void headRemoved(NamespaceHead head) {
                events.add("removed " + head.nsid() + " gone=" + head.gone());
            }
        });
    }

    @AfterEach
    void stop() throws Exception {
        mp.close();
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        target.close();
    }

    private TransportAddress port(int ref) {
        return new TransportAddress("127.0.0.1", target.port(ref));
    }

    private static void await(String what, BooleanSupplier cond) {
        Await.until(what, cond);
    }

    private int read(NamespaceHead h) throws Exception {
        CompletableFuture<Integer> f = new CompletableFuture<>();
        NvmeRequest r = Commands.read(h.nsid(), 0, 1, h.lbaSize()).callback(req -> {
            var data = req.takeReadData();
            if (data != null) {
                data.release();
            }
            f.complete(req.status());
        });
        h.submit(r);
        return f.get(10, TimeUnit.SECONDS);
    }

    @Test
    void should_announce_a_head_once_and_its_removal_when_the_namespace_leaves_every_path() throws Exception {
        mp.addPortal(port(1), TargetConfig.DEMO_NQN).get(10, TimeUnit.SECONDS);
        mp.addPortal(port(2), TargetConfig.DEMO_NQN).get(10, TimeUnit.SECONDS);
        await("head announced", () -> !events.isEmpty());
        assertThat(events).containsExactly("added 1 paths=1");

        target.removeNamespace(TargetConfig.DEMO_NQN, 1);
        await("head removed", () -> events.size() == 2);
        assertThat(events.get(1)).isEqualTo("removed 1 gone=true");
        assertThat(mp.head(TargetConfig.DEMO_NQN, 1)).isNull();
    }

    @Test
    void should_tell_a_late_listener_of_the_heads_that_exist() throws Exception {
        mp.addPortal(port(1), TargetConfig.DEMO_NQN).get(10, TimeUnit.SECONDS);
        List<Integer> seen = new CopyOnWriteArrayList<>();
        mp.addHeadListener(new Multipath.HeadListener() {
            @Override
            public void headAdded(NamespaceHead head) {
                seen.add(head.nsid());
            }

            @Override
            public void headRemoved(NamespaceHead head) {
            }
        });
        await("late listener told", () -> !seen.isEmpty());
        assertThat(seen).containsExactly(1);
    }

    @Test
    void should_report_the_limits_every_path_of_a_head_shares() throws Exception {
        mp.addPortal(port(1), TargetConfig.DEMO_NQN).get(10, TimeUnit.SECONDS);
        mp.addPortal(port(2), TargetConfig.DEMO_NQN).get(10, TimeUnit.SECONDS);
        NamespaceHead h = mp.head(TargetConfig.DEMO_NQN, 1);
        var ctrl = ((ControllerPathIo) h.paths().get(0).io()).controller();
        assertThat(h.maxTransferBytes()).isPositive().isLessThanOrEqualTo((int) Math.min(ctrl.maxTransferBytes(),
                65536L * h.lbaSize()));
        assertThat(h.maxTransferBytes() % h.lbaSize()).isZero();
        int oncs = ctrl.identity().oncs();
        assertThat(h.commandSupport() & 0xFFFF).isEqualTo(oncs);
        assertThat(h.commandSupport() < 0).isEqualTo((ctrl.identity().vwc() & 1) != 0);
        assertThat(h.identity().nsze()).isEqualTo(h.sizeBytes() / h.lbaSize());
    }

    @Test
    void should_drop_a_removed_portals_paths_and_keep_serving_through_the_other() throws Exception {
        mp.addPortal(port(1), TargetConfig.DEMO_NQN).get(10, TimeUnit.SECONDS);
        mp.addPortal(port(2), TargetConfig.DEMO_NQN).get(10, TimeUnit.SECONDS);
        NamespaceHead h = mp.head(TargetConfig.DEMO_NQN, 1);
        await("two paths", () -> h.paths().size() == 2);

        assertThat(mp.removePortal(port(1), TargetConfig.DEMO_NQN)).isTrue();
        await("one path", () -> h.paths().size() == 1);
        assertThat(h.paths().get(0).io().name()).startsWith("127.0.0.1:" + target.port(2));
        assertThat(read(h)).isZero();
        assertThat(mp.portals()).extracting(Multipath.PortalView::address).containsExactly(port(2));
        await("no controller of port 1 on the target", () -> target.controllers().stream()
                .noneMatch(c -> c.toString().contains(":" + target.port(1) + " ")) && target.controllers().size() == 1);
        assertThat(mp.removePortal(port(1), TargetConfig.DEMO_NQN)).isFalse();
        assertThat(events).doesNotContain("removed 1 gone=true");
    }

    @Test
    void should_keep_retrying_a_portal_unreachable_at_start_and_join_it_when_it_comes() throws Exception {
        target.setFault(2, new Fault.Down());
        mp.addPortal(port(1), TargetConfig.DEMO_NQN).get(10, TimeUnit.SECONDS);
        CompletableFuture<Void> second = mp.addPortal(port(2), TargetConfig.DEMO_NQN);
        assertThatThrownBy(() -> second.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class);
        await("portal 2 retrying", () -> mp.portals().stream()
                .anyMatch(p -> p.address().equals(port(2)) && p.state().equals("retrying") && p.lastError() != null));

        target.setFault(2, new Fault.None());
        NamespaceHead h = mp.head(TargetConfig.DEMO_NQN, 1);
        await("second path joins", () -> h.paths().size() == 2);
        assertThat(mp.portals()).allSatisfy(p -> assertThat(p.state()).isEqualTo("connected"));
    }

    @Test
    void should_list_a_discovery_portal_and_the_portals_it_found() throws Exception {
        mp.addDiscovery(new TransportAddress("127.0.0.1", target.discoveryPort())).get(10, TimeUnit.SECONDS);
        await("both paths from discovery", () -> mp.head(TargetConfig.DEMO_NQN, 1) != null
                && mp.head(TargetConfig.DEMO_NQN, 1).paths().size() == 2);
        List<Multipath.PortalView> ps = mp.portals();
        assertThat(ps).filteredOn(p -> p.kind().equals("discovery")).hasSize(1)
                .allSatisfy(p -> assertThat(p.nqn()).isNull());
        assertThat(ps).filteredOn(p -> p.kind().equals("discovered")).extracting(Multipath.PortalView::address)
                .contains(port(1), port(2));
    }
}
