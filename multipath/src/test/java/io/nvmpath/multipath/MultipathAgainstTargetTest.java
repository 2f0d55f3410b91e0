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

    /** Runs reads at iodepth 8 until stopped; counts successes and errors per path name. */
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
                outstanding.decrementAndGet();
                ByteBuf b = done.takeReadData();
                if (b != null) {
                    b.release();
                }
                if (done.ok()) {
                    ok.incrementAndGet();
                    String name = NamespaceHead.pathOf(done).io.name();
                    String address = name.substring(0, name.indexOf(" cntlid")); // the CNTLID changes on reconnect
                    perPath.computeIfAbsent(address, k -> new AtomicLong()).incrementAndGet();
                } else {
                    errors.incrementAndGet();
                    errorStatuses.merge(done.describeStatus(), 1, Integer::sum);
                }
                loops.execute(() -> issue(slot));
            });
            head().submit(r);
        }

        void stop() throws InterruptedException {
            running.set(false);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (outstanding.get() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
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
        Thread.sleep(500);
        load.stop();
        assertThat(load.errors.get()).isZero();
        assertThat(load.perPath).hasSize(1);
        String optName = h.paths().stream().filter(p -> p.anaState() == AnaState.OPTIMIZED).findFirst().orElseThrow().io.name();
        String opt = optName.substring(0, optName.indexOf(" cntlid"));
        assertThat(load.perPath).containsOnlyKeys(opt);
    }

    @Test
    void ana_flip_port_down_and_blackhole_cost_no_io_errors() throws Exception {
        Load load = new Load().start(16);
        Thread.sleep(300);
        target.setAnaState(1, 1, AnaState.INACCESSIBLE);
        Thread.sleep(500);
        target.setAnaState(1, 1, AnaState.OPTIMIZED);
        Thread.sleep(500);
        target.setFault(1, new Fault.Down());
        Thread.sleep(500);
        target.setFault(1, Fault.NONE);
        Thread.sleep(1500);
        target.setFault(1, new Fault.Blackhole());
        Thread.sleep(2500);
        target.setFault(1, Fault.NONE);
        Thread.sleep(1000);
        load.stop();
        System.out.println("per path " + load.perPath + " errors " + load.errorStatuses + " head failovers "
                + head().failovers.sum());
        assertThat(load.errors.get()).as(load.errorStatuses.toString()).isZero();
        assertThat(load.perPath).hasSize(2);
    }

    @Test
    void the_view_reports_paths_traffic_failovers_and_iopolicy() throws Exception {
        Load load = new Load().start(8);
        Thread.sleep(300);
        target.setAnaState(1, 1, AnaState.INACCESSIBLE);
        Thread.sleep(500);
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
    void all_paths_down_then_one_back_queues_io_and_then_completes_it() throws Exception {
        Load load = new Load().start(8);
        Thread.sleep(200);
        target.setFault(1, new Fault.Down());
        target.setFault(2, new Fault.Down());
        Thread.sleep(1000);
        long before = load.ok.get();
        Thread.sleep(500);
        assertThat(load.ok.get()).as("nothing completes while every path is down").isEqualTo(before);
        assertThat(head().queuedCount()).isPositive();
        target.setFault(2, Fault.NONE);
        Thread.sleep(1500);
        assertThat(load.ok.get()).isGreaterThan(before);
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
        Thread.sleep(300);
        NvmeRequest r = Commands.flush(1);
        CompletableFuture<NvmeRequest> f = new CompletableFuture<>();
        r.callback(f::complete);
        long t0 = System.nanoTime();
        head().submit(r);
        NvmeRequest done = f.get(5, TimeUnit.SECONDS);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertThat(done.status()).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(done.describeStatus()).contains("no_path_timeout");
        assertThat(ms).isBetween(400L, 2000L);
        target.setFault(1, Fault.NONE);
    }
}
