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
import io.nvmpath.fabric.host.NvmeException;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaLog;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.AsyncEvent;
import io.nvmpath.fabric.nvme.DiscoveryLog;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.NamespaceIds;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.testing.ManualScheduler;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The project's NVMe/TCP host against the project's target, in-process, over loopback TCP: the
 * same behaviours the host's integration test checks against the Linux kernel target. The target's
 * timers (keep-alive timeout, completion delays) run on a manual clock, and so does the host's where
 * a test says so.
 */
class HostAgainstTargetTest {
    private final ManualScheduler clock = new ManualScheduler();
    private NvmeTarget target;
    private EventLoopGroup hostLoops;

    @BeforeEach
    void start() throws Exception {
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0), clock);
        hostLoops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() throws Exception {
        hostLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        target.close();
    }

    private Controller connect(int portId, ControllerOptions o, ControllerListener... ls) throws Exception {
        return Controller.connect(new TransportAddress("127.0.0.1", target.port(portId)), TargetConfig.DEMO_NQN, o,
                hostLoops, ls).get(10, TimeUnit.SECONDS);
    }

    @Test
    void identify_and_ana_log_reflect_the_configuration_per_port() throws Exception {
        try (Controller c1 = connect(1, new ControllerOptions()); Controller c2 = connect(2, new ControllerOptions())) {
            IdentifyController id = c1.identity();
            assertThat(id.subnqn()).isEqualTo(TargetConfig.DEMO_NQN);
            assertThat(id.model()).isEqualTo("nvmpath demo target");
            assertThat(id.anaReporting()).isTrue();
            assertThat(id.multiController()).isTrue();
            assertThat(c1.cntlid()).isNotEqualTo(c2.cntlid());
            assertThat(c1.maxTransferBytes()).isEqualTo(1 << 20);
            assertThat(c1.activeNamespaces().get()).containsExactly(1);
            IdentifyNamespace ns = c1.identifyNamespace(1).get();
            assertThat(ns.sizeBytes()).isEqualTo(1L << 30);
            assertThat(ns.lbaSize()).isEqualTo(512);
            assertThat(ns.shared()).isTrue();
            assertThat(ns.anagrpid()).isEqualTo(1);
            NamespaceIds ids1 = c1.namespaceIds(1).get();
            NamespaceIds ids2 = c2.namespaceIds(1).get();
            assertThat(ids1.nguid()).hasSize(16);
            assertThat(ids1.eui64()).hasSize(8);
            assertThat(ids1.uuid()).isNotNull();
            assertThat(ids1).as("the same namespace through both ports").isEqualTo(ids2);
            assertThat(c1.anaLog(false).get().group(1).state()).isEqualTo(AnaState.OPTIMIZED);
            assertThat(c2.anaLog(false).get().group(1).state()).isEqualTo(AnaState.NON_OPTIMIZED);
            AnaLog rgo = c2.anaLog(true).get();
            assertThat(rgo.group(1).nsids()).isEmpty();
            assertThat(target.controllers()).hasSize(2);
        }
    }

    @Test
    void a_transfer_beyond_mdts_completes_with_invalid_field_and_dnr_without_reaching_the_target() throws Exception {
        try (Controller c = connect(1, new ControllerOptions())) {
            long mdts = c.maxTransferBytes();
            java.util.concurrent.CompletableFuture<NvmeRequest> done = new java.util.concurrent.CompletableFuture<>();
            NvmeRequest r = Commands.read(1, 0, (int) (mdts / 512) + 8, 512).callback(done::complete);
            c.submit(r);
            NvmeRequest f = done.get(5, TimeUnit.SECONDS);
            assertThat(f.status()).isEqualTo(Status.INVALID_FIELD | Status.DNR);
            assertThat(f.cause()).hasMessageContaining("exceeds the maximum data transfer size (MDTS)");
            assertThat(f.takeReadData()).isNull();
            assertThat(c.stats().errors()).isEmpty(); // never sent
        }
    }

    @Test
    void the_ana_log_can_be_read_in_pieces_up_to_the_size_identify_implies() throws Exception {
        try (Controller c = connect(1, new ControllerOptions())) {
            // nvme-cli's size: header + NANAGRPID descriptors + MNAN NSIDs, read 4 KiB at a time
            long size = 16 + c.identity().nanagrpid() * 32 + 1024L * 4;
            ByteBuf whole = PooledByteBufAllocator.DEFAULT.buffer((int) size);
            for (long off = 0; off < size; off += 4096) {
                int n = (int) Math.min(4096, size - off);
                NvmeRequest r = c.admin(Commands.getLogPage(Opcodes.LOG_ANA, 0, false, 0, off, n), "ANA log piece")
                        .get(5, TimeUnit.SECONDS);
                ByteBuf b = r.takeReadData();
                whole.writeBytes(b);
                b.release();
            }
            io.nvmpath.fabric.nvme.AnaLog log = io.nvmpath.fabric.nvme.AnaLog.parse(whole);
            whole.release();
            assertThat(log.group(1).state()).isEqualTo(AnaState.OPTIMIZED);
            assertThatThrownBy(() -> c.admin(Commands.getLogPage(Opcodes.LOG_ANA, 0, false, 0, size + 4, 4), "past the end")
                    .get(5, TimeUnit.SECONDS)).hasMessageContaining("Invalid Field");
        }
    }

    @Test
    void identifiers_survive_a_restart_of_the_target() throws Exception {
        NamespaceIds before;
        try (Controller c = connect(1, new ControllerOptions())) {
            before = c.namespaceIds(1).get();
        }
        target.close();
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
        try (Controller c = connect(1, new ControllerOptions())) {
            assertThat(c.namespaceIds(1).get()).isEqualTo(before);
        }
    }

    @ParameterizedTest(name = "digests {0}")
    @ValueSource(booleans = {false, true})
    void data_written_in_capsule_and_through_r2t_reads_back(boolean digests) throws Exception {
        try (Controller c = connect(1, new ControllerOptions().headerDigest(digests).dataDigest(digests))) {
            assertThat(c.headerDigest()).isEqualTo(digests);
            Random rnd = new Random(1);
            for (int blocks : new int[] {1, 8, 16, 17, 256, 2048}) { // 8 KiB in capsule; 1 MiB = MDTS
                byte[] bytes = new byte[blocks * 512];
                rnd.nextBytes(bytes);
                ByteBuf w = PooledByteBufAllocator.DEFAULT.directBuffer(bytes.length).writeBytes(bytes);
                c.io(Commands.write(1, 1000, blocks, w, blocks == 1), "write").get(10, TimeUnit.SECONDS);
                w.release();
                NvmeRequest r = c.io(Commands.read(1, 1000, blocks, 512), "read").get(10, TimeUnit.SECONDS);
                ByteBuf got = r.takeReadData();
                assertThat(ByteBufUtil.getBytes(got)).as("%d blocks", blocks).isEqualTo(bytes);
                got.release();
            }
        }
    }

    @Test
    void with_sq_flow_control_disabled_reads_complete_by_the_c2h_success_flag() throws Exception {
        try (Controller c = connect(1, new ControllerOptions().disableSqFlowControl(true))) {
            ByteBuf w = PooledByteBufAllocator.DEFAULT.buffer(300 * 1024);
            for (int i = 0; i < 300 * 1024; i++) {
                w.writeByte(i * 13);
            }
            c.io(Commands.write(1, 0, 600, w, false), "write").get(10, TimeUnit.SECONDS);
            NvmeRequest r = c.io(Commands.read(1, 0, 600, 512), "read").get(10, TimeUnit.SECONDS);
            ByteBuf got = r.takeReadData();
            assertThat(ByteBufUtil.equals(got, w)).isTrue();
            got.release();
            w.release();
            // no stray response capsule followed: the queue is still in step
            for (int i = 0; i < 20; i++) {
                c.io(Commands.read(1, i, 1, 512), "read").get(10, TimeUnit.SECONDS).takeReadData().release();
            }
        }
    }

    @Test
    void write_zeroes_deallocate_and_flush_work_and_unwritten_blocks_read_as_zeroes() throws Exception {
        try (Controller c = connect(1, new ControllerOptions())) {
            ByteBuf w = PooledByteBufAllocator.DEFAULT.buffer(4096);
            for (int i = 0; i < 4096; i++) {
                w.writeByte(0x5A);
            }
            c.io(Commands.write(1, 0, 8, w, false), "write").get();
            w.release();
            c.io(Commands.writeZeroes(1, 0, 4, false, false), "write zeroes").get();
            ByteBuf range = PooledByteBufAllocator.DEFAULT.buffer(16);
            Commands.dsmRange(range, 4, 4);
            c.io(Commands.deallocate(1, 1, range), "deallocate").get();
            range.release();
            c.io(Commands.flush(1), "flush").get();
            NvmeRequest r = c.io(Commands.read(1, 0, 16, 512), "read").get();
            ByteBuf got = r.takeReadData();
            assertThat(ByteBufUtil.getBytes(got)).containsOnly((byte) 0);
            got.release();
        }
    }

    @Test
    void io_beyond_the_namespace_or_to_an_unknown_namespace_gets_the_specified_status() throws Exception {
        try (Controller c = connect(1, new ControllerOptions())) {
            long blocks = (1L << 30) / 512;
            assertThatThrownBy(() -> c.io(Commands.read(1, blocks - 1, 2, 512), "read").get())
                    .hasCauseInstanceOf(NvmeException.class).hasMessageContaining("LBA Out of Range (SCT 0h SC 80h DNR)");
            assertThatThrownBy(() -> c.io(Commands.read(7, 0, 1, 512), "read").get())
                    .hasMessageContaining("Invalid Namespace or Format (SCT 0h SC 0Bh DNR)");
            assertThatThrownBy(() -> c.identifyNamespace(5000).get()).hasMessageContaining("Invalid Namespace");
            assertThat(c.identifyNamespace(9).get().active()).as("inactive NSID: zeroes").isFalse();
            // the connection is still fine
            c.io(Commands.flush(1), "flush").get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void ana_flip_sends_an_async_event_and_io_gets_the_ana_status() throws Exception {
        LinkedBlockingQueue<AsyncEvent> events = new LinkedBlockingQueue<>();
        ControllerListener l = new ControllerListener() {
            @Override
            public void asyncEvent(Controller c, AsyncEvent e) {
                events.add(e);
            }
        };
        try (Controller c = connect(1, new ControllerOptions(), l)) {
            target.setAnaState(1, 1, AnaState.INACCESSIBLE);
            AsyncEvent e = events.poll(5, TimeUnit.SECONDS);
            assertThat(e).isNotNull();
            assertThat(e.isAnaChange()).isTrue();
            assertThat(c.anaLog(false).get().group(1).state()).isEqualTo(AnaState.INACCESSIBLE);
            assertThatThrownBy(() -> c.io(Commands.read(1, 0, 1, 512), "read").get())
                    .hasMessageContaining("ANA Inaccessible (SCT 3h SC 02h)");
            target.setAnaState(1, 1, AnaState.PERSISTENT_LOSS);
            assertThat(events.poll(5, TimeUnit.SECONDS)).isNotNull();
            assertThatThrownBy(() -> c.io(Commands.flush(1), "flush").get())
                    .hasMessageContaining("ANA Persistent Loss");
            // the notice stays masked until the host reads the ANA log page
            target.setAnaState(1, 1, AnaState.CHANGE);
            assertThat(events.poll(300, TimeUnit.MILLISECONDS)).isNull();
            assertThat(c.anaLog(true).get().group(1).state()).isEqualTo(AnaState.CHANGE);
            target.setAnaState(1, 1, AnaState.INACCESSIBLE);
            assertThat(events.poll(5, TimeUnit.SECONDS)).isNotNull();
            target.setAnaState(1, 1, AnaState.CHANGE);
            assertThat(c.anaLog(false).get().group(1).state()).isEqualTo(AnaState.CHANGE);
            assertThatThrownBy(() -> c.io(Commands.flush(1), "flush").get()).hasMessageContaining("ANA Transition");
            // a change on the other port does not concern this controller
            target.setAnaState(2, 1, AnaState.OPTIMIZED);
            assertThat(events.poll(300, TimeUnit.MILLISECONDS)).isNull();
        }
    }

    @Test
    void discovery_lists_every_port_of_the_subsystem() throws Exception {
        try (Controller d = Controller.connect(new TransportAddress("127.0.0.1", target.discoveryPort()),
                Opcodes.DISCOVERY_NQN, new ControllerOptions(), hostLoops).get(10, TimeUnit.SECONDS)) {
            DiscoveryLog log = Discovery.readLog(d).get(10, TimeUnit.SECONDS);
            assertThat(log.entries()).extracting(DiscoveryLog.Entry::trsvcid)
                    .containsExactly(String.valueOf(target.port(1)), String.valueOf(target.port(2)));
            assertThat(log.entries()).allSatisfy(e -> {
                assertThat(e.subnqn()).isEqualTo(TargetConfig.DEMO_NQN);
                assertThat(e.traddr()).isEqualTo("127.0.0.1");
                assertThat(e.transportName()).isEqualTo("tcp");
            });
        }
    }

    @Test
    void unknown_subsystem_nqn_is_refused_with_the_offset_of_subnqn() {
        assertThatThrownBy(() -> Controller.connect(new TransportAddress("127.0.0.1", target.port(1)),
                "nqn.2026-11.io.nvmpath:nope", new ControllerOptions(), hostLoops).get(10, TimeUnit.SECONDS))
                .hasMessageContaining("Connect Invalid Parameters (SCT 1h SC 82h DNR)");
    }

    @Test
    void port_down_aborts_in_flight_io_and_the_controller_reconnects_after_clear() throws Exception {
        CountDownLatch back = new CountDownLatch(1);
        CountDownLatch left = new CountDownLatch(1);
        ControllerListener l = new ControllerListener() {
            @Override
            public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                if (from == ControllerState.LIVE) {
                    left.countDown();
                }
                if (to == ControllerState.LIVE && left.getCount() == 0) {
                    back.countDown();
                }
            }
        };
        try (Controller c = connect(2, new ControllerOptions().reconnectDelay(Duration.ofMillis(200)), l)) {
            target.setFault(2, new Fault.Delay(2000));
            NvmeRequest slow = Commands.flush(1);
            CountDownLatch done = new CountDownLatch(1);
            slow.callback(r -> done.countDown());
            c.submit(slow);
            clock.awaitTaskIn(Duration.ofMillis(2000)); // the target holds its completion back: it is in flight
            target.setFault(2, new Fault.Down());
            assertThat(done.await(2, TimeUnit.SECONDS)).isTrue();
            assertThat(slow.status()).isEqualTo(Status.HOST_ABORTED_CMD);
            assertThat(left.await(2, TimeUnit.SECONDS)).isTrue();
            target.setFault(2, Fault.NONE);
            assertThat(back.await(10, TimeUnit.SECONDS)).isTrue();
            c.io(Commands.flush(1), "flush").get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void delay_holds_completions_fail_fails_exactly_n_commands_and_blackhole_is_found_by_keep_alive() throws Exception {
        CountDownLatch left = new CountDownLatch(1);
        ControllerListener l = new ControllerListener() {
            @Override
            public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                if (from == ControllerState.LIVE) {
                    left.countDown();
                }
            }
        };
        try (Controller c = connect(1, new ControllerOptions().keepAliveTimeout(Duration.ofSeconds(1)).scheduler(clock), l)) {
            target.setFault(1, new Fault.Delay(400));
            java.util.concurrent.CompletableFuture<NvmeRequest> delayed = c.io(Commands.flush(1), "flush");
            clock.awaitTaskIn(Duration.ofMillis(400));
            assertThat(delayed).as("completion held back").isNotDone();
            clock.advance(Duration.ofMillis(400));
            delayed.get(5, TimeUnit.SECONDS);
            target.setFault(1, new Fault.Fail(2, Status.INTERNAL_PATH_ERROR));
            assertThatThrownBy(() -> c.io(Commands.flush(1), "flush").get()).hasMessageContaining("Internal Path Error");
            assertThatThrownBy(() -> c.io(Commands.flush(1), "flush").get()).hasMessageContaining("Internal Path Error");
            c.io(Commands.flush(1), "flush").get(5, TimeUnit.SECONDS);
            assertThat(target.fault(1)).isEqualTo(Fault.NONE);
            target.setFault(1, new Fault.Blackhole());
            clock.advance(Duration.ofMillis(100)); // 500 ms after connect: Keep Alive, unanswered, due by 1000 ms
            clock.advance(Duration.ofMillis(500));
            assertThat(left.getCount()).as("at its deadline, not past it").isEqualTo(1);
            clock.advance(Duration.ofMillis(250)); // the admin queue's next sweep finds it overdue
            assertThat(left.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(c.lastFailure()).contains("Keep Alive");
            target.setFault(1, Fault.NONE);
        }
    }
}
