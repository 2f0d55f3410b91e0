package io.nvmpath.multipath;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaState;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The ghost-write hazard, end to end against the project's target: writers at queue depth 16, each
 * to its own block, on the optimized path of a port with {@code ghost-writes 200} (each write held
 * 200 ms before it is applied, and still applied after its connection is cut). The path is cut; every
 * writer then completes three more writes and stops; once the target has applied or dropped every
 * held write, each block must hold its last completed write. With {@code immediate} write failover a
 * stale block shows up (the drill can fail); with {@code safe} there is none, whether a
 * Cross-Controller Reset or the keep-alive time rule releases the fence.
 */
class WriteSafeFailoverDrillTest {
    private static final String NQN = "nqn.2026-11.test:ghosts";
    private static final int WRITERS = 16;
    private static final int BLOCK = 4096;
    private static final Duration KATO = Duration.ofMillis(500);
    private static final int CQT_MS = 200;

    private NvmeTarget target;
    private EventLoopGroup loops;
    private Multipath mp;

    @BeforeEach
    void loops() {
        loops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() throws Exception {
        if (mp != null) {
            mp.close();
        }
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        if (target != null) {
            target.close();
        }
    }

    private NamespaceHead start(boolean crossControllerReset, WriteFailover mode) throws Exception {
        SubsystemConfig s = new SubsystemConfig(NQN, "GHOST1", "ghost drill", "1", true, List.of(),
                List.of(new NamespaceConfig(1, 8 << 20, null, 512, 1, null, null, null, false)), CQT_MS,
                crossControllerReset);
        PortConfig p1 = new PortConfig(1, "127.0.0.1", 0, null, List.of(NQN), Map.of(1, AnaState.OPTIMIZED));
        PortConfig p2 = new PortConfig(2, "127.0.0.1", 0, null, List.of(NQN), Map.of(1, AnaState.NON_OPTIMIZED));
        target = NvmeTarget.start(new TargetConfig(List.of(s), List.of(p1, p2), null, null, null, 10));
        ControllerOptions co = new ControllerOptions().keepAliveTimeout(KATO).reconnectDelay(Duration.ofMillis(100))
                .ctrlLossTimeout(Duration.ofMinutes(5));
        // the drill cuts port 1 again and again: no marginal hold, or it would stop taking I/O
        mp = new Multipath(MultipathOptions.defaults().withController(co).withWriteFailover(mode)
                .withNoPathTimeout(Duration.ofSeconds(30)).withMarginal(3, Duration.ofSeconds(10), Duration.ZERO), loops);
        mp.addPortal(new TransportAddress("127.0.0.1", target.port(1)), NQN).get(10, TimeUnit.SECONDS);
        mp.addPortal(new TransportAddress("127.0.0.1", target.port(2)), NQN).get(10, TimeUnit.SECONDS);
        target.setFault(1, Fault.parse("ghost-writes 200"));
        return mp.head(NQN, 1);
    }

    /** Sixteen writers, each rewriting its own block with a rising sequence number. */
    private final class Writers {
        final NamespaceHead head;
        final AtomicLongArray completed = new AtomicLongArray(WRITERS);
        final AtomicLongArray sinceCut = new AtomicLongArray(WRITERS);
        final AtomicLong seq = new AtomicLong();
        final AtomicInteger errors = new AtomicInteger();
        final AtomicInteger running = new AtomicInteger();
        final AtomicLong onPort1 = new AtomicLong();
        volatile boolean afterCut;
        volatile long stopAfter = Long.MAX_VALUE;

        Writers(NamespaceHead head) {
            this.head = head;
        }

        void start() {
            afterCut = false;
            for (int k = 0; k < WRITERS; k++) {
                sinceCut.set(k, 0);
                running.incrementAndGet();
                write(k);
            }
        }

        private void write(int k) {
            long s = seq.incrementAndGet();
            ByteBuf data = Unpooled.buffer(BLOCK);
            for (int i = 0; i < BLOCK / 8; i++) {
                data.writeLong(s);
            }
            NvmeRequest r = Commands.write(1, k * 8L, 8, data, false);
            r.callback(done -> {
                data.release();
                if (done.ok()) {
                    completed.set(k, s);
                    Path on = NamespaceHead.pathOf(done);
                    if (on != null && on.id().at("127.0.0.1:" + target.port(1))) {
                        onPort1.incrementAndGet();
                    }
                } else {
                    errors.incrementAndGet();
                }
                if (afterCut && sinceCut.incrementAndGet(k) >= stopAfter) {
                    running.decrementAndGet();
                    return;
                }
                loops.execute(() -> write(k));
            });
            head.submit(r);
        }

        /** From now on each writer stops after {@code n} more completions. */
        void stopAfter(int n) {
            stopAfter = n;
            afterCut = true;
        }
    }

    /** The first long of each writer's block, read through the head. */
    private long[] readBack(NamespaceHead head) throws Exception {
        long[] out = new long[WRITERS];
        for (int k = 0; k < WRITERS; k++) {
            CompletableFuture<NvmeRequest> f = new CompletableFuture<>();
            head.submit(Commands.read(1, k * 8L, 8, 512).callback(f::complete));
            NvmeRequest r = f.get(10, TimeUnit.SECONDS);
            assertThat(r.ok()).as(r.describeStatus()).isTrue();
            ByteBuf b = r.takeReadData();
            try {
                out[k] = b.getLong(b.readerIndex());
            } finally {
                b.release();
            }
        }
        return out;
    }

    /** One cut of port 1 under the writers; returns the stale blocks it left. */
    private int cut(NamespaceHead head, Writers w) throws Exception {
        w.start();
        long before = w.onPort1.get();
        Await.until("writes through port 1 (paths " + head.paths() + ", held " + head.paths().stream()
                .map(Path::heldBack).toList() + ", queued " + head.queuedCount() + ", fenced " + head.fencedCount()
                + ", writers " + w.running.get() + ")", () -> w.onPort1.get() >= before + WRITERS);
        w.stopAfter(4); // the write in flight at the cut and three more
        target.cutConnections(1);
        Await.until("every writer done", () -> w.running.get() == 0, Duration.ofSeconds(30));
        Await.until("every held write applied or dropped", target::writesSettled, Duration.ofSeconds(30));
        long[] found = readBack(head);
        int stale = 0;
        for (int k = 0; k < WRITERS; k++) {
            stale += found[k] == w.completed.get(k) ? 0 : 1;
        }
        Await.until("port 1 usable again", () -> head.paths().stream()
                .anyMatch(p -> p.id().at("127.0.0.1:" + target.port(1)) && p.usable()));
        return stale;
    }

    private static List<FailoverRecord> fenced(Multipath mp) {
        return mp.failovers().stream().filter(f -> f.fenced() > 0).toList();
    }

    @Test
    void immediate_failover_lets_a_ghost_write_land_over_newer_data() throws Exception {
        NamespaceHead head = start(true, WriteFailover.IMMEDIATE);
        Writers w = new Writers(head);
        int stale = 0;
        for (int i = 0; i < 10 && stale == 0; i++) {
            stale += cut(head, w);
        }
        assertThat(stale).as("a write resent at once, then overwritten by its own ghost").isPositive();
        assertThat(w.errors.get()).isZero();
    }

    @Test
    void safe_failover_with_cross_controller_reset_leaves_no_stale_block_over_fifty_cuts() throws Exception {
        NamespaceHead head = start(true, WriteFailover.SAFE);
        Writers w = new Writers(head);
        int stale = 0;
        for (int i = 0; i < 50; i++) {
            stale += cut(head, w);
        }
        assertThat(stale).isZero();
        assertThat(w.errors.get()).isZero();
        List<FailoverRecord> f = fenced(mp);
        assertThat(f).isNotEmpty().allSatisfy(r -> assertThat(r.fenceMethod()).isEqualTo("ccr"));
        report("safe, CCR", f);
    }

    @Test
    void safe_failover_without_cross_controller_reset_waits_out_kato_and_cqt_and_leaves_no_stale_block()
            throws Exception {
        NamespaceHead head = start(false, WriteFailover.SAFE);
        Writers w = new Writers(head);
        int stale = 0;
        for (int i = 0; i < 5; i++) {
            stale += cut(head, w);
        }
        assertThat(stale).isZero();
        assertThat(w.errors.get()).isZero();
        List<FailoverRecord> f = fenced(mp);
        // the wait itself (about 2 x KATO + CQT from the last send) is reported, not asserted: on a real
        // clock its timer runs a few ms late (1203 ms against 1200 once in CI); no stale block is the proof
        assertThat(f).isNotEmpty().allSatisfy(r -> {
            assertThat(r.fenceMethod()).isEqualTo("time");
            assertThat(r.fenceWaitMillis()).as("the fence held").isPositive();
        });
        report("safe, time", f);
    }

    private static void report(String what, List<FailoverRecord> f) {
        List<Long> waits = new ArrayList<>(f.stream().map(FailoverRecord::fenceWaitMillis).sorted().toList());
        List<Long> stalls = new ArrayList<>(f.stream().map(FailoverRecord::stallMillis).sorted().toList());
        System.out.println(what + ": " + f.size() + " fenced failovers; fence wait ms median "
                + waits.get(waits.size() / 2) + " max " + waits.get(waits.size() - 1) + "; write stall ms median "
                + stalls.get(stalls.size() / 2) + " max " + stalls.get(stalls.size() - 1));
    }
}
