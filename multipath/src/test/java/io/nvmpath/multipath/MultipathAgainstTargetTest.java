package io.nvmpath.multipath;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/** A head over two paths of the project's target, in-process, under faults. */
class MultipathAgainstTargetTest {
    private NvmeTarget target;
    private EventLoopGroup loops;
    private Multipath mp;

    @BeforeEach
    void start() throws Exception {
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
        loops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        ControllerOptions co = new ControllerOptions().keepAliveTimeout(Duration.ofSeconds(1))
                .reconnectDelay(Duration.ofMillis(200));
        mp = new Multipath(MultipathOptions.defaults().withController(co), loops);
        mp.addPortal(new TransportAddress("127.0.0.1", target.port(1)), TargetConfig.DEMO_NQN).get(10, TimeUnit.SECONDS);
        mp.addPortal(new TransportAddress("127.0.0.1", target.port(2)), TargetConfig.DEMO_NQN).get(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws Exception {
        mp.close();
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        target.close();
    }

    private NamespaceHead head() {
        return mp.head(TargetConfig.DEMO_NQN, 1);
    }

    private String address(int port) {
        return "127.0.0.1:" + target.port(port);
    }

    /** Runs reads at a given depth until stopped; counts successes per portal address and errors. */
    private final class Load {
        final AtomicBoolean running = new AtomicBoolean(true);
        final AtomicLong ok = new AtomicLong();
        final AtomicInteger errors = new AtomicInteger();
        final ConcurrentHashMap<String, AtomicLong> perPath = new ConcurrentHashMap<>();
        final AtomicInteger outstanding = new AtomicInteger();
        final ConcurrentHashMap<String, Integer> errorStatuses = new ConcurrentHashMap<>();

        Load start(int depth) {
            for (int i = 0; i < depth; i++) {
                int slot = i;
                issue(slot);
            }
            return this;
        }

        private void issue(int slot) {
            if (!running.get()) {
                return;
            }
            outstanding.incrementAndGet();
            NvmeRequest r = Commands.read(1, slot * 8L, 8, 512);
            r.callback(done -> {
                ByteBuf b = done.takeReadData();
                if (b != null) {
                    b.release();
                }
                if (done.ok()) {
                    ok.incrementAndGet();
                    // by portal: the CNTLID changes on reconnect
                    perPath.computeIfAbsent(NamespaceHead.pathOf(done).id().address(), k -> new AtomicLong()).incrementAndGet();
                } else {
                    errors.incrementAndGet();
                    errorStatuses.merge(done.describeStatus(), 1, Integer::sum);
                }
                outstanding.decrementAndGet();
                loops.execute(() -> issue(slot));
            });
            head().submit(r);
        }

        private static String describe(java.util.List<Path> paths) {
            return paths.stream().map(p -> p + (p.heldBack() ? " held back" : "") + (p.marginal() ? " marginal" : ""))
                    .toList().toString();
        }

        long on(String address) {
            AtomicLong n = perPath.get(address);
            return n == null ? 0 : n.get();
        }

        /** Waits until {@code n} more reads than now have completed through {@code address}. */
        void more(String address, long n, String what) {
            more(address, n, what, Await.DEADLINE);
        }

        void more(String address, long n, String what, Duration deadline) {
            long target = on(address) + n;
            Await.until(what + " (" + n + " more reads through " + address + "; so far " + perPath + ", errors "
                    + errorStatuses + "; paths " + describe(head().paths()) + ")", () -> on(address) >= target, deadline);
        }

        void stop() {
            running.set(false);
            Await.until("the load's reads all completed", () -> outstanding.get() == 0);
        }
    }

    @Test
    void one_head_two_paths_and_io_goes_to_the_optimized_one() throws Exception {
        NamespaceHead h = head();
        assertThat(h).isNotNull();
        assertThat(h.paths()).hasSize(2);
        assertThat(h.paths()).extracting(Path::anaState).containsExactlyInAnyOrder(AnaState.OPTIMIZED, AnaState.NON_OPTIMIZED);
        ByteBuf w = PooledByteBufAllocator.DEFAULT.buffer(4096).writeZero(4096).setInt(0, 0xC0FFEE);
        NvmeRequest wr = Commands.write(1, 100, 8, w, false);
        CompletableFuture<NvmeRequest> f = new CompletableFuture<>();
        wr.callback(f::complete);
        h.submit(wr);
        assertThat(f.get(5, TimeUnit.SECONDS).ok()).isTrue();
        w.release();
        Load load = new Load().start(8);
        Await.until("500 reads", () -> load.ok.get() >= 500);
        load.stop();
        assertThat(load.errors.get()).isZero();
        String opt = h.paths().stream().filter(p -> p.anaState() == AnaState.OPTIMIZED).findFirst().orElseThrow()
                .id().address();
        assertThat(load.perPath).containsOnlyKeys(opt);
    }

    @Test
    void ana_flip_port_down_and_blackhole_cost_no_io_errors() {
        String one = address(1);
        String two = address(2);
        Load load = new Load().start(16);
        load.more(one, 200, "reads on the optimized port 1");
        target.setAnaState(1, 1, AnaState.INACCESSIBLE);
        load.more(two, 200, "reads move to port 2 while port 1's group is inaccessible");
        target.setAnaState(1, 1, AnaState.OPTIMIZED);
        load.more(one, 200, "reads back on port 1 once it is optimized again");
        target.setFault(1, new Fault.Down());
        load.more(two, 200, "reads on port 2 while port 1 is down");
        target.setFault(1, Fault.NONE);
        load.more(one, 200, "reads on port 1 once its controller reconnected");
        target.setFault(1, new Fault.Blackhole());
        load.more(two, 200, "reads on port 2 once keep-alive gave port 1's silent controller up");
        target.setFault(1, Fault.NONE);
        // a reconnect begun during the blackhole waits out its ICResp timeout (10 s, as Linux's) first
        load.more(one, 200, "reads on port 1 after the blackhole", Duration.ofSeconds(30));
        load.stop();
        assertThat(load.errors.get()).as(load.errorStatuses.toString()).isZero();
        assertThat(head().failovers.sum()).as("the ANA flip and the lost connections failed I/O over").isPositive();
    }

    @Test
    void the_view_reports_paths_traffic_failovers_and_iopolicy() {
        Load load = new Load().start(8);
        load.more(address(1), 200, "reads on port 1");
        target.setAnaState(1, 1, AnaState.INACCESSIBLE);
        load.more(address(2), 200, "reads on port 2 after the ANA change");
        load.stop();
        mp.ioPolicy(TargetConfig.DEMO_NQN, IoPolicy.ROUND_ROBIN);
        MultipathView.Subsystem sub = mp.view().get(0);
        assertThat(sub.nqn()).isEqualTo(TargetConfig.DEMO_NQN);
        assertThat(sub.ioPolicy()).isEqualTo("round-robin");
        MultipathView.Head h = sub.heads().get(0);
        assertThat(h.nsid()).isEqualTo(1);
        assertThat(h.sizeBytes()).isEqualTo(1L << 30);
        assertThat(h.failovers()).isPositive();
        assertThat(h.paths()).hasSize(2);
        MultipathView.PathEntry p1 = h.paths().stream().filter(p -> p.anaState().equals("inaccessible")).findFirst()
                .orElseThrow();
        MultipathView.PathEntry p2 = h.paths().stream().filter(p -> p.anaState().equals("non-optimized")).findFirst()
                .orElseThrow();
        assertThat(p1.address()).isEqualTo(address(1));
        assertThat(p1.name()).isEqualTo(address(1) + " cntlid " + p1.cntlid());
        assertThat(p1.usable()).isFalse();
        assertThat(p1.ops().get("read")).isPositive();
        assertThat(p1.errors()).containsKey(Status.ANA_INACCESSIBLE);
        assertThat(p1.failoversFrom()).isPositive();
        assertThat(p2.usable()).isTrue();
        assertThat(p2.ops().get("read")).isPositive();
        assertThat(p2.bytes().get("read")).isEqualTo(p2.ops().get("read") * 4096);
        assertThat(java.util.Arrays.stream(p2.latencyBuckets()).sum()).isEqualTo(p2.ops().get("read"));
        assertThat(load.errors.get()).isZero();
    }

    @Test
    void all_paths_down_then_one_back_queues_io_and_then_completes_it() {
        Load load = new Load().start(8);
        load.more(address(1), 100, "reads on port 1");
        target.setFault(1, new Fault.Down());
        target.setFault(2, new Fault.Down());
        Await.until("every read waiting for a path", () -> head().paths().stream().noneMatch(Path::usable)
                && head().queuedCount() == load.outstanding.get());
        long before = load.ok.get();
        long ticks = mp.ticks();
        Await.until("three management ticks", () -> mp.ticks() >= ticks + 3);
        assertThat(load.ok.get()).as("nothing completes while every path is down").isEqualTo(before);
        assertThat(head().queuedCount()).isEqualTo(8);
        target.setFault(2, Fault.NONE);
        load.more(address(2), 100, "the queued reads, then new ones, on port 2 once it is back");
        target.setFault(1, Fault.NONE);
        load.stop();
        assertThat(load.errors.get()).as(load.errorStatuses.toString()).isZero();
    }

    @Test
    void with_no_path_left_io_fails_after_the_no_path_timeout_with_a_clear_error() throws Exception {
        mp.close();
        mp = new Multipath(MultipathOptions.defaults().withNoPathTimeout(Duration.ofMillis(500))
                .withController(new ControllerOptions().reconnectDelay(Duration.ofMillis(200))), loops);
        mp.addPortal(new TransportAddress("127.0.0.1", target.port(1)), TargetConfig.DEMO_NQN).get(10, TimeUnit.SECONDS);
        target.setFault(1, new Fault.Down());
        Await.until("the only path down", () -> !head().paths().get(0).usable());
        NvmeRequest r = Commands.flush(1);
        CompletableFuture<NvmeRequest> f = new CompletableFuture<>();
        r.callback(f::complete);
        long t0 = System.nanoTime();
        head().submit(r);
        NvmeRequest done = f.get(10, TimeUnit.SECONDS);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertThat(done.status()).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(done.describeStatus()).contains("no_path_timeout");
        assertThat(ms).as("not failed before the timeout").isGreaterThanOrEqualTo(500);
        target.setFault(1, Fault.NONE);
    }
}
