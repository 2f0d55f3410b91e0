package io.nvmpath.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerListener;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.host.Discovery;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.AsyncEvent;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.target.config.TargetConfig;
import io.nvmpath.target.config.TargetConfig.NamespaceConfig;
import io.nvmpath.target.config.TargetConfig.PortConfig;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Subsystems, namespaces and ports changing while hosts are connected; host lists; backends. */
class TopologyTest {
    private static final String SUB = "nqn.2026-11.test:topo";
    private static final String OTHER = "nqn.2026-11.test:topo-b";
    private EventLoopGroup loops;
    private NvmeTarget target;

    @BeforeEach
    void loops() {
        loops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() throws Exception {
        if (target != null) {
            target.close();
        }
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private static TargetConfig config(List<NamespaceConfig> ns, boolean anyHost, List<String> hosts) {
        SubsystemConfig a = new SubsystemConfig(SUB, "TOPO1", "topology test", "1", anyHost, hosts, ns);
        SubsystemConfig b = new SubsystemConfig(OTHER, "TOPO2", "topology test", "1", true, List.of(),
                List.of(new NamespaceConfig(1, 1 << 20, null, 512, 1, null, null, null, false)));
        PortConfig p1 = new PortConfig(1, "127.0.0.1", 0, null, List.of(SUB), Map.of(1, AnaState.OPTIMIZED));
        return new TargetConfig(List.of(a, b), List.of(p1), new TargetConfig.ListenConfig("127.0.0.1", 0), null,
                null, 10);
    }

    private static NamespaceConfig mem(int nsid, long size, int lba) {
        return new NamespaceConfig(nsid, size, null, lba, 1, null, null, null, false);
    }

    private Controller connect(String nqn, ControllerOptions o, ControllerListener... ls) throws Exception {
        return Controller.connect(new TransportAddress("127.0.0.1", target.port(1)), nqn, o, loops, ls)
                .get(10, TimeUnit.SECONDS);
    }

    @Test
    void a_host_not_on_the_list_is_refused_and_a_listed_one_gets_in() throws Exception {
        target = NvmeTarget.start(config(List.of(mem(1, 1 << 20, 512)), false, List.of("nqn.2026-11.test:good")));
        assertThatThrownBy(() -> connect(SUB, new ControllerOptions().hostNqn("nqn.2026-11.test:bad")))
                .hasMessageContaining("Connect Invalid Host").hasMessageContaining("not allowed");
        try (Controller c = connect(SUB, new ControllerOptions().hostNqn("nqn.2026-11.test:good"))) {
            assertThat(c.state()).isEqualTo(ControllerState.LIVE);
        }
    }

    @Test
    void a_4k_namespace_reports_4096_byte_blocks_and_moves_whole_blocks() throws Exception {
        target = NvmeTarget.start(config(List.of(mem(1, 1 << 20, 4096)), true, List.of()));
        try (Controller c = connect(SUB, new ControllerOptions())) {
            assertThat(c.identifyNamespace(1).get().lbaSize()).isEqualTo(4096);
            assertThat(c.identifyNamespace(1).get().nsze()).isEqualTo(256);
            ByteBuf w = PooledByteBufAllocator.DEFAULT.buffer(8192).writeZero(8192).setByte(4096, 7);
            c.io(Commands.write(1, 10, 2, w, false), "write").get();
            w.release();
            NvmeRequest r = c.io(Commands.read(1, 11, 1, 4096), "read").get();
            ByteBuf got = r.takeReadData();
            assertThat(got.readableBytes()).isEqualTo(4096);
            assertThat(got.getByte(got.readerIndex())).isEqualTo((byte) 7);
            got.release();
        }
    }

    @Test
    void a_file_namespace_keeps_its_data_across_a_restart(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ns1.img");
        NamespaceConfig ns = new NamespaceConfig(1, 4 << 20, file.toString(), 512, 1, null, null, null, false);
        target = NvmeTarget.start(config(List.of(ns), true, List.of()));
        byte[] bytes = new byte[65536];
        new Random(3).nextBytes(bytes);
        try (Controller c = connect(SUB, new ControllerOptions())) {
            ByteBuf w = PooledByteBufAllocator.DEFAULT.directBuffer(bytes.length).writeBytes(bytes);
            c.io(Commands.write(1, 100, 128, w, true), "write FUA").get(10, TimeUnit.SECONDS);
            w.release();
            c.io(Commands.flush(1), "flush").get(10, TimeUnit.SECONDS);
        }
        target.close();
        assertThat(Files.size(file)).isEqualTo(4 << 20);
        target = NvmeTarget.start(config(List.of(ns), true, List.of()));
        try (Controller c = connect(SUB, new ControllerOptions())) {
            NvmeRequest r = c.io(Commands.read(1, 100, 128, 512), "read").get(10, TimeUnit.SECONDS);
            ByteBuf got = r.takeReadData();
            assertThat(ByteBufUtil.getBytes(got)).isEqualTo(bytes);
            got.release();
        }
    }

    @Test
    void namespaces_added_and_removed_at_run_time_are_announced_with_the_changed_list() throws Exception {
        target = NvmeTarget.start(config(List.of(mem(1, 1 << 20, 512)), true, List.of()));
        LinkedBlockingQueue<AsyncEvent> events = new LinkedBlockingQueue<>();
        ControllerListener l = new ControllerListener() {
            @Override
            public void asyncEvent(Controller c, AsyncEvent e) {
                events.add(e);
            }
        };
        try (Controller c = connect(SUB, new ControllerOptions(), l)) {
            target.addNamespace(SUB, mem(5, 1 << 20, 512));
            AsyncEvent e = events.poll(5, TimeUnit.SECONDS);
            assertThat(e).isNotNull();
            assertThat(e.isNamespaceChange()).isTrue();
            assertThat(c.changedNamespaces().get().nsids()).containsExactly(5);
            assertThat(c.activeNamespaces().get()).containsExactly(1, 5);
            target.removeNamespace(SUB, 1);
            assertThat(events.poll(5, TimeUnit.SECONDS)).isNotNull();
            assertThat(c.changedNamespaces().get().nsids()).containsExactly(1);
            assertThat(c.activeNamespaces().get()).containsExactly(5);
            assertThatThrownBy(() -> c.io(Commands.read(1, 0, 1, 512), "read").get())
                    .hasMessageContaining("Invalid Namespace");
        }
    }

    @Test
    void linking_a_subsystem_changes_the_discovery_log_and_unlinking_drops_its_controllers() throws Exception {
        target = NvmeTarget.start(config(List.of(mem(1, 1 << 20, 512)), true, List.of()));
        LinkedBlockingQueue<AsyncEvent> events = new LinkedBlockingQueue<>();
        ControllerListener l = new ControllerListener() {
            @Override
            public void asyncEvent(Controller c, AsyncEvent e) {
                events.add(e);
            }
        };
        try (Controller disc = Controller.connect(new TransportAddress("127.0.0.1", target.discoveryPort()),
                Opcodes.DISCOVERY_NQN, new ControllerOptions(), loops, l).get(10, TimeUnit.SECONDS)) {
            assertThat(Discovery.readLog(disc).get().entries()).extracting(e -> e.subnqn()).containsExactly(SUB);
            target.linkSubsystem(1, OTHER);
            AsyncEvent e = events.poll(5, TimeUnit.SECONDS);
            assertThat(e).isNotNull();
            assertThat(e.isDiscoveryChange()).isTrue();
            assertThat(Discovery.readLog(disc).get().entries()).extracting(x -> x.subnqn())
                    .containsExactlyInAnyOrder(SUB, OTHER);
            CountDownLatch left = new CountDownLatch(1);
            ControllerListener gone = new ControllerListener() {
                @Override
                public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                    if (from == ControllerState.LIVE) {
                        left.countDown();
                    }
                }
            };
            try (Controller other = connect(OTHER, new ControllerOptions(), gone)) {
                target.unlinkSubsystem(1, OTHER);
                assertThat(left.await(5, TimeUnit.SECONDS)).as("controller of the unlinked subsystem dropped").isTrue();
                assertThat(events.poll(5, TimeUnit.SECONDS)).isNotNull();
                assertThat(Discovery.readLog(disc).get().entries()).extracting(x -> x.subnqn()).containsExactly(SUB);
                assertThat(other.state()).isNotEqualTo(ControllerState.LIVE);
            }
        }
    }
}
