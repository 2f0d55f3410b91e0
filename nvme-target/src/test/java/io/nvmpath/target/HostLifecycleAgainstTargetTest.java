package io.nvmpath.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerListener;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.testing.ManualScheduler;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The host's life cycle against the project's target, in-process: bulk data with a checksum,
 * keep-alive while idle, reconnect limits, held I/O. The same cases the host's integration test runs
 * against the Linux kernel target, here fast and with faults on demand. The target's timers, and the
 * host's where a test says so, run on a manual clock: keep-alive, reconnect and fast-fail times are
 * exact, and no test waits for them to pass.
 */
class HostLifecycleAgainstTargetTest {
    private final ManualScheduler clock = new ManualScheduler();
    private NvmeTarget target;
    private EventLoopGroup loops;

    @BeforeEach
    void start() throws Exception {
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0), clock);
        loops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() throws Exception {
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        target.close();
    }

    private Controller connect(int port, ControllerOptions o, ControllerListener... ls) throws Exception {
        return Controller.connect(new TransportAddress("127.0.0.1", target.port(port)), TargetConfig.DEMO_NQN, o,
                loops, ls).get(10, TimeUnit.SECONDS);
    }

    /** Records state changes as "FROM->TO" and lets a test wait for one. */
    private static final class States implements ControllerListener {
        private final List<String> changes = new ArrayList<>();

        @Override
        public synchronized void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
            changes.add(from + "->" + to);
            notifyAll();
        }

        synchronized List<String> changes() {
            return List.copyOf(changes);
        }

        synchronized void clear() {
            changes.clear();
        }

        /** Waits, woken by each change, until {@code change} has happened since the last clear. */
        synchronized boolean await(String change, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!changes.contains(change)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
            return true;
        }
    }

    @ParameterizedTest(name = "digests {0}")
    @ValueSource(booleans = {false, true})
    void sixty_four_mib_in_capsule_and_through_r2t_read_back_with_the_same_checksum(boolean digests) throws Exception {
        try (Controller c = connect(1, new ControllerOptions().headerDigest(digests).dataDigest(digests))) {
            List<long[]> plan = new ArrayList<>();
            long lba = 0;
            for (int i = 0; i < 2048; i++) { // 8 MiB as 4 KiB in-capsule writes
                plan.add(new long[] {lba, 8});
                lba += 8;
            }
            for (int i = 0; i < 448; i++) { // 56 MiB as 128 KiB writes through R2T
                plan.add(new long[] {lba, 256});
                lba += 256;
            }
            MessageDigest written = MessageDigest.getInstance("SHA-256");
            Random rnd = new Random(digests ? 9 : 8);
            Semaphore window = new Semaphore(32);
            List<CompletableFuture<?>> all = new ArrayList<>();
            for (long[] p : plan) {
                byte[] b = new byte[(int) p[1] * 512];
                rnd.nextBytes(b);
                written.update(b);
                ByteBuf data = PooledByteBufAllocator.DEFAULT.directBuffer(b.length).writeBytes(b);
                window.acquire();
                all.add(c.io(Commands.write(1, p[0], (int) p[1], data, false), "write").whenComplete((r, e) -> {
                    data.release();
                    window.release();
                }));
            }
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            byte[][] back = new byte[plan.size()][];
            all.clear();
            for (int i = 0; i < plan.size(); i++) {
                int at = i;
                long[] p = plan.get(i);
                window.acquire();
                all.add(c.io(Commands.read(1, p[0], (int) p[1], 512), "read").whenComplete((r, e) -> {
                    if (r != null) {
                        ByteBuf b = r.takeReadData();
                        back[at] = new byte[b.readableBytes()];
                        b.getBytes(b.readerIndex(), back[at]);
                        b.release();
                    }
                    window.release();
                }));
            }
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            MessageDigest read = MessageDigest.getInstance("SHA-256");
            for (byte[] b : back) {
                read.update(ByteBuffer.wrap(b));
            }
            assertThat(HexFormat.of().formatHex(read.digest())).isEqualTo(HexFormat.of().formatHex(written.digest()));
        }
    }

    @Test
    void stays_live_through_three_keep_alive_timeouts_of_idleness() throws Exception {
        States s = new States();
        try (Controller c = connect(1, new ControllerOptions().keepAliveTimeout(Duration.ofSeconds(1)).scheduler(clock), s)) {
            s.clear();
            for (int halfKato = 0; halfKato < 7; halfKato++) {
                clock.advance(Duration.ofMillis(500)); // the host's Keep Alive falls due, the target checks
                // the target answers in order on the admin queue: once this returns it has seen the Keep Alive
                c.identifyController().get(5, TimeUnit.SECONDS);
            }
            assertThat(c.state()).isEqualTo(ControllerState.LIVE);
            assertThat(s.changes()).isEmpty();
            assertThat(target.controllers()).hasSize(1);
            c.io(Commands.flush(1), "flush").get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void the_target_drops_a_controller_whose_host_sends_no_keep_alive_within_kato() throws Exception {
        try (RawHost h = new RawHost(target.port(1))) {
            h.initialize();
            // Connect with KATO 500 ms (CDW12), then stay silent
            io.netty.buffer.ByteBuf data = io.netty.buffer.Unpooled.buffer(1024).writeZero(1024);
            data.setShortLE(16, 0xFFFF);
            data.setBytes(256, TargetConfig.DEMO_NQN.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            data.setBytes(512, "nqn.2026-11.test:silent".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            io.nvmpath.fabric.nvme.Sqe connect = io.nvmpath.fabric.nvme.Sqe.of(0x7F).fctype(0x01).cid(1)
                    .cdw(11, 31).cdw(12, 500).sgl(0, 1024, io.nvmpath.fabric.nvme.Sqe.SGL_DATA_BLOCK_OFFSET);
            h.send(new io.nvmpath.fabric.tcp.Pdu.CapsuleCmd(connect, data));
            Object resp = h.next(Duration.ofSeconds(5));
            assertThat(resp).isInstanceOf(io.nvmpath.fabric.tcp.Pdu.CapsuleResp.class);
            assertThat(target.controllers()).extracting(TargetView.Controller::katoMillis).containsExactly(500L);
            // checks every KATO/4: idle for exactly KATO is still within it
            clock.advance(Duration.ofMillis(500));
            assertThat(target.controllers()).as("after 500 ms of silence").hasSize(1);
            clock.advance(Duration.ofMillis(125));
            assertThat(target.controllers()).as("after 625 ms of silence").isEmpty();
            assertThat(h.closedByPeer(Duration.ofSeconds(5))).as("connection closed by the target").isTrue();
        }
    }

    @Test
    void a_controller_that_cannot_reconnect_within_ctrl_loss_tmo_is_deleted() throws Exception {
        States s = new States();
        Duration delay = Duration.ofMillis(200);
        Controller c = connect(2, new ControllerOptions().reconnectDelay(delay)
                .ctrlLossTimeout(Duration.ofSeconds(1)).scheduler(clock), s);
        try {
            long t0 = clock.nanoTime();
            target.setFault(2, new Fault.Down());
            for (int attempt = 1; attempt <= 5; attempt++) { // ctrl_loss_tmo / reconnect_delay
                clock.awaitTaskIn(delay); // the attempt before failed: the next one is set
                assertThat(c.state()).isEqualTo(ControllerState.CONNECTING);
                clock.advance(delay);
            }
            assertThat(s.await("DELETING->DEAD", Duration.ofSeconds(10))).as(s.changes().toString()).isTrue();
            assertThat(clock.nanoTime() - t0).as("deleted at ctrl_loss_tmo").isEqualTo(Duration.ofSeconds(1).toNanos());
            assertThat(s.changes()).containsSubsequence("LIVE->RESETTING", "RESETTING->CONNECTING",
                    "CONNECTING->DELETING", "DELETING->DEAD");
            NvmeRequest late = Commands.flush(1);
            c.submit(late);
            assertThat(late.status()).isEqualTo(Status.HOST_PATH_ERROR);
        } finally {
            target.setFault(2, Fault.NONE);
            c.close();
        }
    }

    @Test
    void held_io_completes_after_a_reconnect_or_fails_after_fast_io_fail_tmo() throws Exception {
        States s = new States();
        Duration delay = Duration.ofMillis(300);
        ControllerOptions o = new ControllerOptions().reconnectDelay(delay).scheduler(clock)
                .holdIoWhileReconnecting(true).fastIoFailTimeout(Duration.ofSeconds(1));
        try (Controller c = connect(2, o, s)) {
            target.setFault(2, new Fault.Down());
            assertThat(s.await("RESETTING->CONNECTING", Duration.ofSeconds(5))).isTrue();
            NvmeRequest held = Commands.flush(1);
            CountDownLatch heldDone = new CountDownLatch(1);
            held.callback(r -> heldDone.countDown());
            c.submit(held);
            clock.awaitTaskIn(delay);
            clock.advance(delay); // an attempt, run on the management loop after the hold
            clock.awaitTaskIn(delay); // refused: the next one is set
            assertThat(heldDone.getCount()).as("held while the port is down").isEqualTo(1);
            target.setFault(2, Fault.NONE);
            clock.advance(delay);
            assertThat(heldDone.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(held.ok()).as(held.describeStatus()).isTrue();

            s.clear();
            target.setFault(2, new Fault.Down());
            assertThat(s.await("RESETTING->CONNECTING", Duration.ofSeconds(5))).isTrue();
            long t0 = clock.nanoTime();
            NvmeRequest failing = Commands.flush(1);
            CountDownLatch failed = new CountDownLatch(1);
            failing.callback(r -> failed.countDown());
            c.submit(failing);
            for (int attempt = 1; attempt <= 3; attempt++) { // at 300, 600 and 900 ms, refused
                clock.awaitTaskIn(delay);
                clock.advance(delay);
            }
            assertThat(failed.getCount()).as("held within fast_io_fail_tmo").isEqualTo(1);
            clock.advance(Duration.ofMillis(100));
            assertThat(failed.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(failing.status()).isEqualTo(Status.HOST_PATH_ERROR);
            assertThat(clock.nanoTime() - t0).as("failed at fast_io_fail_tmo").isEqualTo(Duration.ofSeconds(1).toNanos());
            target.setFault(2, Fault.NONE);
        }
    }
}
