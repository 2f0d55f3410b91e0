package io.nvmpath.it.fabric;

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
import io.nvmpath.fabric.host.NvmeException;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaLog;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.NamespaceIds;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.it.guest.NvmetGuest;
import io.nvmpath.it.guest.Peers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The project's NVMe/TCP host against the Linux kernel target (nvmet-tcp) in a QEMU guest: one
 * subsystem, two namespaces, two ports, two ANA groups in different states per port.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NvmeHostAgainstKernelTargetIT {
    private static NvmetGuest target;
    private static EventLoopGroup group;

    @BeforeAll
    static void boot() throws Exception {
        Peers.assumeGuest();
        target = NvmetGuest.start("fabric-host-vs-nvmet");
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    }

    @AfterAll
    static void shutdown() throws Exception {
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).sync();
        }
        if (target != null) {
            target.close();
        }
    }

    private static Controller connect(int port, ControllerOptions o, ControllerListener... ls) throws Exception {
        return Controller.connect(new TransportAddress(target.address(), target.port(port)), target.subsystemNqn(),
                o, group, ls).get(30, TimeUnit.SECONDS);
    }

    @Test
    @Order(1)
    void identify_and_ana_log_match_what_the_target_was_given() throws Exception {
        for (int port = 1; port <= 2; port++) {
            try (Controller c = connect(port, new ControllerOptions())) {
                IdentifyController id = c.identity();
                assertThat(id.model()).isEqualTo(target.facts().model());
                assertThat(id.serial()).isEqualTo(target.facts().serial());
                assertThat(id.subnqn()).isEqualTo(target.subsystemNqn());
                assertThat(id.anaReporting()).isTrue();
                assertThat(id.multiController()).isTrue();
                assertThat(c.activeNamespaces().get()).containsExactly(1, 2);
                for (int nsid = 1; nsid <= 2; nsid++) {
                    IdentifyNamespace ns = c.identifyNamespace(nsid).get();
                    assertThat(ns.sizeBytes()).isEqualTo(target.facts().sizeBytes(nsid));
                    assertThat(ns.lbaSize()).isEqualTo(target.facts().blockBytes(nsid));
                    assertThat(ns.anagrpid()).isEqualTo(target.facts().anaGroup(nsid));
                    assertThat(ns.shared()).isTrue();
                    NamespaceIds ids = c.namespaceIds(nsid).get();
                    assertThat(ids.nguid()).isEqualTo(target.facts().nguidBytes(nsid));
                    assertThat(ids.uuid()).hasToString(target.facts().uuid(nsid));
                }
                AnaLog ana = c.anaLog(false).get();
                for (int grp = 1; grp <= 2; grp++) {
                    AnaLog.Group g = ana.group(grp);
                    assertThat(g.state()).as("port %d group %d", port, grp)
                            .isEqualTo(AnaState.fromLabel(target.facts().anaState(port, grp)));
                    assertThat(g.nsids()).containsExactly(grp);
                }
                AnaLog groupsOnly = c.anaLog(true).get();
                assertThat(groupsOnly.groups()).hasSize(2).allSatisfy(g -> assertThat(g.nsids()).isEmpty());
                // LBA 0 of namespace 1 holds the marker the guest wrote
                NvmeRequest r = c.io(Commands.read(1, 0, 1, 512), "read LBA 0").get(10, TimeUnit.SECONDS);
                ByteBuf b = r.takeReadData();
                String head = b.toString(b.readerIndex(), 13, StandardCharsets.US_ASCII);
                b.release();
                assertThat(head).isEqualTo(target.facts().lba0Prefix(1));
            }
        }
    }

    @ParameterizedTest(name = "digests {0}")
    @ValueSource(booleans = {false, true})
    @Order(2)
    void writes_then_reads_back_64_MiB_with_in_capsule_and_r2t_sizes(boolean digests) throws Exception {
        ControllerOptions o = new ControllerOptions().headerDigest(digests).dataDigest(digests);
        try (Controller c = connect(digests ? 2 : 1, o)) {
            assertThat(c.headerDigest()).isEqualTo(digests);
            assertThat(c.dataDigest()).isEqualTo(digests);
            int inCapsule = (int) (c.identity().ioccsz() * 16 - 64);
            assertThat(inCapsule).as("nvmet offers in-capsule data").isGreaterThanOrEqualTo(4096);
            long base = digests ? 262144 : 131072; // blocks: two separate 64 MiB areas of namespace 1
            // 8 MiB in 4 KiB in-capsule writes, 56 MiB in 128 KiB writes that need R2T
            List<int[]> plan = new ArrayList<>();
            long lba = base;
            for (int i = 0; i < 2048; i++) {
                plan.add(new int[] {(int) lba, 8});
                lba += 8;
            }
            for (int i = 0; i < 448; i++) {
                plan.add(new int[] {(int) lba, 256});
                lba += 256;
            }
            assertThat((lba - base) * 512).isEqualTo(64L << 20);
            Random rnd = new Random(digests ? 2 : 1);
            MessageDigest written = MessageDigest.getInstance("SHA-256");
            MessageDigest readBack = MessageDigest.getInstance("SHA-256");
            long t0 = System.nanoTime();
            runWindowed(plan, 16, p -> {
                byte[] bytes = new byte[p[1] * 512];
                synchronized (rnd) {
                    rnd.nextBytes(bytes);
                    written.update(ByteBuffer.wrap(bytes));
                }
                ByteBuf data = PooledByteBufAllocator.DEFAULT.directBuffer(bytes.length).writeBytes(bytes);
                return c.io(Commands.write(1, p[0], p[1], data, false), "write").whenComplete((r, e) -> data.release());
            }, true);
            long t1 = System.nanoTime();
            byte[][] chunks = new byte[plan.size()][];
            List<int[]> indexed = new ArrayList<>();
            for (int i = 0; i < plan.size(); i++) {
                indexed.add(new int[] {plan.get(i)[0], plan.get(i)[1], i});
            }
            runWindowed(indexed, 16, p -> c.io(Commands.read(1, p[0], p[1], 512), "read").thenApply(r -> {
                ByteBuf b = r.takeReadData();
                byte[] bytes = new byte[b.readableBytes()];
                b.getBytes(b.readerIndex(), bytes);
                b.release();
                chunks[p[2]] = bytes;
                return r;
            }), false);
            long t2 = System.nanoTime();
            for (byte[] chunk : chunks) {
                readBack.update(chunk);
            }
            System.out.printf("64 MiB digests=%s: write %.1f MiB/s, read %.1f MiB/s%n", digests,
                    64 / ((t1 - t0) / 1e9), 64 / ((t2 - t1) / 1e9));
            assertThat(HexFormat.of().formatHex(readBack.digest()))
                    .isEqualTo(HexFormat.of().formatHex(written.digest()));
        }
    }

    /** Runs one future per item, at most {@code window} at a time, and waits for all. */
    private static <T> void runWindowed(List<T> items, int window,
                                        java.util.function.Function<T, CompletableFuture<?>> op, boolean inOrder)
            throws Exception {
        java.util.concurrent.Semaphore slots = new java.util.concurrent.Semaphore(window);
        List<CompletableFuture<?>> all = Collections.synchronizedList(new ArrayList<>());
        for (T item : items) {
            slots.acquire();
            CompletableFuture<?> f = op.apply(item);
            f.whenComplete((r, e) -> slots.release());
            all.add(f);
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(300, TimeUnit.SECONDS);
    }

    @Test
    @Order(3)
    void stays_live_through_three_keep_alive_timeouts_of_idleness() throws Exception {
        ConcurrentLinkedQueue<String> changes = new ConcurrentLinkedQueue<>();
        ControllerListener l = new ControllerListener() {
            @Override
            public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                changes.add(from + "->" + to + " " + reason);
            }
        };
        Duration kato = Duration.ofSeconds(5);
        try (Controller c = connect(1, new ControllerOptions().keepAliveTimeout(kato), l)) {
            changes.clear();
            Thread.sleep(kato.multipliedBy(3).toMillis());
            assertThat(c.state()).isEqualTo(ControllerState.LIVE);
            assertThat(changes).as("no reset while idle").isEmpty();
            // nvmet drops a controller that misses its KATO; commands still work, so keep-alive was sent
            assertThat(c.io(Commands.flush(1), "flush").get(10, TimeUnit.SECONDS).ok()).isTrue();
        }
    }

    @Test
    @Order(4)
    void removing_a_port_under_io_aborts_in_flight_commands_with_path_errors_and_it_reconnects_when_back()
            throws Exception {
        ConcurrentLinkedQueue<String> changes = new ConcurrentLinkedQueue<>();
        CountDownLatch left = new CountDownLatch(1);
        CountDownLatch back = new CountDownLatch(1);
        ControllerListener l = new ControllerListener() {
            @Override
            public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                changes.add(from + "->" + to + " (" + reason + ")");
                if (from == ControllerState.LIVE) {
                    left.countDown();
                }
                if (to == ControllerState.LIVE && left.getCount() == 0) {
                    back.countDown();
                }
            }
        };
        Duration kato = Duration.ofSeconds(5);
        ControllerOptions o = new ControllerOptions().keepAliveTimeout(kato).reconnectDelay(Duration.ofSeconds(1));
        try (Controller c = connect(2, o, l)) {
            AtomicBoolean running = new AtomicBoolean(true);
            AtomicInteger ok = new AtomicInteger();
            ConcurrentLinkedQueue<Integer> failedStatuses = new ConcurrentLinkedQueue<>();
            ConcurrentLinkedQueue<Long> failureTimes = new ConcurrentLinkedQueue<>();
            AtomicInteger outstanding = new AtomicInteger();
            // 16 readers, each resubmitting as soon as its read completes, until told to stop
            for (int i = 0; i < 16; i++) {
                int slot = i;
                Runnable[] loop = new Runnable[1];
                loop[0] = () -> {
                    if (!running.get()) {
                        return;
                    }
                    outstanding.incrementAndGet();
                    NvmeRequest r = Commands.read(1, slot * 64L, 64, 512);
                    r.callback(done -> {
                        outstanding.decrementAndGet();
                        ByteBuf b = done.takeReadData();
                        if (b != null) {
                            b.release();
                        }
                        if (done.ok()) {
                            ok.incrementAndGet();
                            group.execute(loop[0]);
                        } else {
                            failedStatuses.add(done.status());
                            failureTimes.add(System.nanoTime());
                        }
                    });
                    c.submit(r);
                };
                loop[0].run();
            }
            Thread.sleep(1000);
            assertThat(ok.get()).as("reads flow before the fault").isPositive();
            long removedAt = System.nanoTime();
            target.removePort(2);
            assertThat(left.await(kato.toMillis() + 2000, TimeUnit.MILLISECONDS))
                    .as("controller leaves LIVE within the keep-alive window").isTrue();
            // every reader's command ended, each with a path error, inside the keep-alive window
            long deadline = System.nanoTime() + kato.toNanos() + TimeUnit.SECONDS.toNanos(2);
            while (failedStatuses.size() < 16 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            running.set(false);
            assertThat(failedStatuses).hasSize(16);
            assertThat(failedStatuses).allSatisfy(s -> assertThat(Status.isPathError(s))
                    .as(Status.describe(s)).isTrue());
            long slowest = failureTimes.stream().mapToLong(t -> t - removedAt).max().orElseThrow();
            System.out.printf("port removed: controller left LIVE, last in-flight command failed after %d ms; %s%n",
                    TimeUnit.NANOSECONDS.toMillis(slowest), changes);
            assertThat(c.state()).isIn(ControllerState.RESETTING, ControllerState.CONNECTING);
            // a submit now is a host pathing error, at once
            assertThatThrownBy(() -> c.io(Commands.flush(1), "flush").get(1, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(NvmeException.class)
                    .hasMessageContaining("Host Pathing Error");
            target.addPort(2);
            assertThat(back.await(30, TimeUnit.SECONDS)).as("reconnects once the port is back").isTrue();
            assertThat(c.state()).isEqualTo(ControllerState.LIVE);
            NvmeRequest r = c.io(Commands.read(1, 0, 1, 512), "read after reconnect").get(10, TimeUnit.SECONDS);
            r.takeReadData().release();
            assertThat(changes).anyMatch(s -> s.startsWith("LIVE->RESETTING"))
                    .anyMatch(s -> s.startsWith("CONNECTING->LIVE"));
        }
    }

    @Test
    @Order(5)
    void ana_change_is_delivered_as_an_async_event_and_io_on_the_inaccessible_path_fails_with_the_ana_status()
            throws Exception {
        java.util.concurrent.LinkedBlockingQueue<io.nvmpath.fabric.nvme.AsyncEvent> events =
                new java.util.concurrent.LinkedBlockingQueue<>();
        ControllerListener l = new ControllerListener() {
            @Override
            public void asyncEvent(Controller c, io.nvmpath.fabric.nvme.AsyncEvent e) {
                events.add(e);
            }
        };
        try (Controller c = connect(1, new ControllerOptions(), l)) {
            try {
                target.setAnaState(1, 1, NvmetGuest.AnaState.INACCESSIBLE);
                io.nvmpath.fabric.nvme.AsyncEvent e = events.poll(15, TimeUnit.SECONDS);
                assertThat(e).as("ANA change notice").isNotNull();
                assertThat(e.isAnaChange()).as(e.toString()).isTrue();
                assertThat(e.logPage()).isEqualTo(0x0C);
                assertThat(c.anaLog(false).get().group(1).state()).isEqualTo(AnaState.INACCESSIBLE);
                assertThatThrownBy(() -> c.io(Commands.read(1, 0, 1, 512), "read").get(10, TimeUnit.SECONDS))
                        .hasCauseInstanceOf(NvmeException.class)
                        .hasMessageContaining("ANA Inaccessible (SCT 3h SC 02h)")
                        .satisfies(t -> assertThat(Status.isAnaError(((NvmeException) t.getCause()).status())).isTrue());
            } finally {
                target.setAnaState(1, 1, NvmetGuest.AnaState.OPTIMIZED);
            }
            // the request stays armed: a second change is reported too
            io.nvmpath.fabric.nvme.AsyncEvent again = events.poll(15, TimeUnit.SECONDS);
            assertThat(again).isNotNull();
            assertThat(again.isAnaChange()).isTrue();
            assertThat(c.anaLog(true).get().group(1).state()).isEqualTo(AnaState.OPTIMIZED);
        }
    }

    @Test
    @Order(6)
    void write_zeroes_flush_fua_and_deallocate_reach_the_namespace() throws Exception {
        try (Controller c = connect(1, new ControllerOptions())) {
            long lba = 400000;
            ByteBuf ones = PooledByteBufAllocator.DEFAULT.directBuffer(8192);
            ones.writeBytes(new byte[8192].clone()).setZero(0, 0);
            for (int i = 0; i < 8192; i++) {
                ones.setByte(i, 0xA5);
            }
            c.io(Commands.write(1, lba, 16, ones, true), "write FUA").get(10, TimeUnit.SECONDS);
            ones.release();
            c.io(Commands.flush(1), "flush").get(10, TimeUnit.SECONDS);
            assertThat(readAll(c, lba, 16)).containsOnly((byte) 0xA5);
            c.io(Commands.writeZeroes(1, lba, 8, false, false), "write zeroes").get(10, TimeUnit.SECONDS);
            byte[] after = readAll(c, lba, 16);
            for (int i = 0; i < 8192; i++) {
                assertThat(after[i]).as("byte %d", i).isEqualTo(i < 4096 ? (byte) 0 : (byte) 0xA5);
            }
            ByteBuf range = PooledByteBufAllocator.DEFAULT.buffer(16);
            Commands.dsmRange(range, lba + 8, 8);
            NvmeRequest dsm = c.io(Commands.deallocate(1, 1, range), "deallocate").get(10, TimeUnit.SECONDS);
            range.release();
            assertThat(dsm.ok()).isTrue();
            // a loop device over tmpfs punches a hole: deallocated blocks read back as zeroes
            assertThat(readAll(c, lba, 16)).containsOnly((byte) 0);
        }
    }

    private static byte[] readAll(Controller c, long lba, int blocks) throws Exception {
        NvmeRequest r = c.io(Commands.read(1, lba, blocks, 512), "read").get(10, TimeUnit.SECONDS);
        ByteBuf b = r.takeReadData();
        byte[] out = new byte[b.readableBytes()];
        b.getBytes(b.readerIndex(), out);
        b.release();
        return out;
    }

    @Test
    @Order(7)
    void a_silent_path_is_detected_by_keep_alive_within_about_kato_and_recovers() throws Exception {
        ConcurrentLinkedQueue<String> changes = new ConcurrentLinkedQueue<>();
        CountDownLatch left = new CountDownLatch(1);
        CountDownLatch back = new CountDownLatch(1);
        ControllerListener l = new ControllerListener() {
            @Override
            public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                changes.add(from + "->" + to + " (" + reason + ")");
                if (from == ControllerState.LIVE) {
                    left.countDown();
                }
                if (to == ControllerState.LIVE && left.getCount() == 0) {
                    back.countDown();
                }
            }
        };
        Duration kato = Duration.ofSeconds(4);
        ControllerOptions o = new ControllerOptions().keepAliveTimeout(kato).reconnectDelay(Duration.ofSeconds(1))
                .connectTimeout(Duration.ofSeconds(3));
        try (Controller c = connect(1, o, l)) {
            // a read that the frozen target will never answer
            NvmeRequest stuck = Commands.read(1, 0, 8, 512);
            CountDownLatch stuckDone = new CountDownLatch(1);
            target.vm().freeze();
            long frozenAt = System.nanoTime();
            try {
                stuck.callback(r -> stuckDone.countDown());
                c.submit(stuck);
                assertThat(left.await(kato.toMillis() * 2, TimeUnit.MILLISECONDS))
                        .as("keep-alive notices the silent path").isTrue();
                long detectMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - frozenAt);
                assertThat(stuckDone.await(1, TimeUnit.SECONDS)).isTrue();
                assertThat(stuck.status()).isEqualTo(Status.HOST_ABORTED_CMD);
                System.out.printf("silent path: detected after %d ms (KATO %d ms): %s%n", detectMs, kato.toMillis(),
                        c.lastFailure());
                assertThat(c.lastFailure()).contains("Keep Alive");
            } finally {
                target.vm().thaw();
            }
            assertThat(back.await(60, TimeUnit.SECONDS)).as("reconnects after the path returns: " + changes).isTrue();
            NvmeRequest r = c.io(Commands.read(1, 0, 1, 512), "read after recovery").get(10, TimeUnit.SECONDS);
            r.takeReadData().release();
        }
    }

    @Test
    @Order(8)
    void a_controller_that_cannot_reconnect_within_ctrl_loss_tmo_is_deleted() throws Exception {
        CountDownLatch dead = new CountDownLatch(1);
        ConcurrentLinkedQueue<String> changes = new ConcurrentLinkedQueue<>();
        ControllerListener l = new ControllerListener() {
            @Override
            public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                changes.add(from + "->" + to);
                if (to == ControllerState.DEAD) {
                    dead.countDown();
                }
            }
        };
        ControllerOptions o = new ControllerOptions().reconnectDelay(Duration.ofMillis(500))
                .ctrlLossTimeout(Duration.ofSeconds(3)).connectTimeout(Duration.ofSeconds(2));
        Controller c = connect(2, o, l);
        try {
            target.removePort(2);
            long t0 = System.nanoTime();
            assertThat(dead.await(20, TimeUnit.SECONDS)).as("deleted after ctrl_loss_tmo: " + changes).isTrue();
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            System.out.printf("ctrl_loss_tmo 3000 ms: DEAD after %d ms; %s%n", ms, changes);
            assertThat(ms).isGreaterThanOrEqualTo(2000);
            assertThat(changes).containsSubsequence("LIVE->RESETTING", "RESETTING->CONNECTING", "CONNECTING->DELETING",
                    "DELETING->DEAD");
            assertThat(c.closeFuture()).isCompleted();
            NvmeRequest late = Commands.flush(1);
            c.submit(late);
            assertThat(late.status()).isEqualTo(Status.HOST_PATH_ERROR);
        } finally {
            target.addPort(2);
            c.close();
        }
    }

    @Test
    @Order(9)
    void single_path_users_can_hold_io_across_a_reconnect_or_fail_it_after_fast_io_fail_tmo() throws Exception {
        ControllerOptions o = new ControllerOptions().reconnectDelay(Duration.ofMillis(500))
                .holdIoWhileReconnecting(true).fastIoFailTimeout(Duration.ofSeconds(2));
        try (Controller c = connect(2, o)) {
            // 1. the path comes back in time: held I/O completes successfully
            target.removePort(2);
            awaitState(c, ControllerState.CONNECTING);
            NvmeRequest held = Commands.read(1, 0, 1, 512);
            CountDownLatch heldDone = new CountDownLatch(1);
            held.callback(r -> heldDone.countDown());
            c.submit(held);
            Thread.sleep(500);
            assertThat(heldDone.getCount()).as("held while reconnecting").isEqualTo(1);
            target.addPort(2);
            assertThat(heldDone.await(20, TimeUnit.SECONDS)).isTrue();
            assertThat(held.ok()).as(held.describeStatus()).isTrue();
            held.takeReadData().release();
            // 2. it does not: held I/O fails with a path error once fast_io_fail_tmo has passed
            target.removePort(2);
            awaitState(c, ControllerState.CONNECTING);
            long t0 = System.nanoTime();
            NvmeRequest failing = Commands.read(1, 0, 1, 512);
            CountDownLatch failed = new CountDownLatch(1);
            failing.callback(r -> failed.countDown());
            c.submit(failing);
            assertThat(failed.await(10, TimeUnit.SECONDS)).isTrue();
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(failing.status()).isEqualTo(Status.HOST_PATH_ERROR);
            System.out.printf("fast_io_fail_tmo 2000 ms: held read failed after %d ms%n", ms);
            assertThat(ms).isBetween(1000L, 5000L);
            target.addPort(2);
        }
    }

    private static void awaitState(Controller c, ControllerState s) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (c.state() != s && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(c.state()).isEqualTo(s);
    }

    @Test
    @Order(10)
    void connect_to_a_wrong_subsystem_nqn_fails_with_the_connect_status_by_name() {
        assertThatThrownBy(() -> Controller.connect(new TransportAddress(target.address(), target.port(1)),
                "nqn.2026-11.test:nope", new ControllerOptions(), group).get(30, TimeUnit.SECONDS))
                .hasCauseInstanceOf(NvmeException.class)
                .hasMessageContaining("Connect Invalid Parameters")
                .hasMessageContaining("wrong subsystem NQN");
    }
}
