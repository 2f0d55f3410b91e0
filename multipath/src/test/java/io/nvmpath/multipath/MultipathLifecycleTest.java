package io.nvmpath.multipath;

import io.netty.buffer.ByteBuf;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** The path layer against in-process targets: joining paths to heads, ANA re-reads, delayed removal, close. */
class MultipathLifecycleTest {
    private static final String NQN = "nqn.2026-11.test:attach";
    private static final String OTHER_NGUID = "0123456789abcdef0123456789abcdef";

    private final List<NvmeTarget> targets = new ArrayList<>();
    private EventLoopGroup loops;
    private Multipath mp;

    @BeforeEach
    void start() {
        loops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() throws Exception {
        if (mp != null) {
            mp.close();
        }
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        for (NvmeTarget t : targets) {
            t.close();
        }
    }

    private static NamespaceConfig namespace(int nsid, String nguid) {
        return new NamespaceConfig(nsid, 8 << 20, null, 512, 1, nguid, null, null, false);
    }

    /** A target serving {@link #NQN} with {@code ns} through port 1 (optimized) and port 2 (non-optimized). */
    private NvmeTarget target(NamespaceConfig ns) throws Exception {
        SubsystemConfig s = new SubsystemConfig(NQN, "ATTACH1", "mp attach", "1", true, List.of(), List.of(ns));
        PortConfig p1 = new PortConfig(1, "127.0.0.1", 0, null, List.of(NQN), Map.of(1, AnaState.OPTIMIZED));
        PortConfig p2 = new PortConfig(2, "127.0.0.1", 0, null, List.of(NQN), Map.of(1, AnaState.NON_OPTIMIZED));
        NvmeTarget t = NvmeTarget.start(new TargetConfig(List.of(s), List.of(p1, p2), null, null, null, 10));
        targets.add(t);
        return t;
    }

    private void addPortal(NvmeTarget t, int port) throws Exception {
        mp.addPortal(new TransportAddress("127.0.0.1", t.port(port)), NQN).get(10, TimeUnit.SECONDS);
    }

    private static Path pathThrough(NamespaceHead h, NvmeTarget t, int port) {
        String address = "127.0.0.1:" + t.port(port) + " ";
        return h.paths().stream().filter(p -> p.io.name().startsWith(address)).findFirst().orElseThrow();
    }

    private static void await(BooleanSupplier condition, String what) {
        Await.until(what, condition);
    }

    /** Submits {@code r} to {@code h} and waits for its callback; read data is released. */
    private static NvmeRequest run(NamespaceHead h, NvmeRequest r) throws Exception {
        CompletableFuture<NvmeRequest> f = new CompletableFuture<>();
        r.callback(done -> {
            ByteBuf b = done.takeReadData();
            if (b != null) {
                b.release();
            }
            f.complete(done);
        });
        h.submit(r);
        return f.get(5, TimeUnit.SECONDS);
    }

    // ---- identifier mismatch --------------------------------------------------------------------

    @Test
    void should_refuse_a_path_whose_namespace_reports_other_identifiers_under_the_same_nqn() throws Exception {
        NvmeTarget first = target(namespace(1, null));
        NvmeTarget impostor = target(namespace(1, OTHER_NGUID));
        mp = new Multipath(MultipathOptions.defaults(), loops);

        addPortal(first, 1);
        addPortal(impostor, 1);

        MultipathSubsystem s = mp.subsystem(NQN);
        NamespaceHead h = s.head(1);
        assertThat(s.heads()).hasSize(1);
        assertThat(h.paths()).hasSize(1);
        assertThat(h.paths().get(0).io.name()).startsWith("127.0.0.1:" + first.port(1) + " ");
        assertThat(s.controllers()).as("the controller stays connected").hasSize(2);
        assertThat(s.refusedPaths()).hasSize(1);
        MultipathSubsystem.RefusedPath refused = s.refusedPaths().get(0);
        assertThat(refused.path()).startsWith("127.0.0.1:" + impostor.port(1) + " ");
        assertThat(refused.nsid()).isEqualTo(1);
        assertThat(refused.reason()).contains("identifiers differ").contains(OTHER_NGUID);
        assertThat(s.view().refused()).containsExactly(refused);

        NvmeRequest done = run(h, Commands.read(1, 0, 8, 512));
        assertThat(done.ok()).isTrue();
        assertThat(NamespaceHead.pathOf(done)).isSameAs(h.paths().get(0));
    }

    @Test
    void should_list_a_refused_path_once_however_often_its_controller_is_rescanned() throws Exception {
        NvmeTarget first = target(namespace(1, null));
        NvmeTarget impostor = target(namespace(1, OTHER_NGUID));
        mp = new Multipath(MultipathOptions.defaults(), loops);
        addPortal(first, 1);
        addPortal(impostor, 1);

        impostor.addNamespace(NQN, namespace(2, null)); // namespace-changed event: the controller is rescanned
        await(() -> mp.head(NQN, 2) != null, "the head of the new namespace");

        assertThat(mp.subsystem(NQN).refusedPaths()).hasSize(1);
    }

    // ---- ANA error --------------------------------------------------------------------------------

    @Test
    void should_fail_over_on_an_ana_error_and_re_read_the_ana_log_to_use_the_path_again() throws Exception {
        NvmeTarget t = target(namespace(1, null));
        mp = new Multipath(MultipathOptions.defaults(), loops);
        addPortal(t, 1);
        addPortal(t, 2);
        NamespaceHead h = mp.head(NQN, 1);
        Path opt = pathThrough(h, t, 1);
        Path nonOpt = pathThrough(h, t, 2);
        assertThat(opt.anaState()).isEqualTo(AnaState.OPTIMIZED);

        // the ANA state of the group does not change: only the re-read can clear the pending mark
        t.setFault(1, new Fault.Fail(1, Status.ANA_INACCESSIBLE));
        NvmeRequest done = run(h, Commands.read(1, 0, 8, 512));

        assertThat(done.ok()).as(done.describeStatus()).isTrue();
        // usually on the non-optimized path; the optimized one when the re-read outran the requeue
        assertThat(NamespaceHead.pathOf(done)).isIn(nonOpt, opt);
        assertThat(h.failovers.sum()).isEqualTo(1);
        assertThat(opt.failoversFrom.sum()).isEqualTo(1);
        await(() -> !opt.anaPending && opt.usable(), "the ANA log re-read after the ANA error");
        assertThat(opt.anaState()).isEqualTo(AnaState.OPTIMIZED);

        NvmeRequest next = run(h, Commands.read(1, 0, 8, 512));
        assertThat(next.ok()).isTrue();
        assertThat(NamespaceHead.pathOf(next)).isSameAs(opt);
    }

    // ---- delayed removal --------------------------------------------------------------------------

    private Multipath delayedRemoval(AtomicLong clock, Duration delay) {
        ControllerOptions co = new ControllerOptions().keepAliveTimeout(Duration.ofSeconds(1))
                .reconnectDelay(Duration.ofMillis(100)).ctrlLossTimeout(Duration.ofMillis(300));
        return new Multipath(MultipathOptions.defaults().withController(co).withDelayedRemoval(delay)
                .withNoPathTimeout(null), loops, clock::get);
    }

    @Test
    void should_keep_queueing_io_on_a_head_whose_last_controller_is_dead_until_delayed_removal_expires()
            throws Exception {
        NvmeTarget t = target(namespace(1, null));
        AtomicLong clock = new AtomicLong(1_000_000_000L);
        mp = delayedRemoval(clock, Duration.ofSeconds(60));
        addPortal(t, 1);
        NamespaceHead h = mp.head(NQN, 1);

        t.setFault(1, new Fault.Down());
        await(() -> h.paths().isEmpty(), "the path of the dead controller removed");
        CompletableFuture<NvmeRequest> f = new CompletableFuture<>();
        h.submit(Commands.flush(1).callback(f::complete));
        long ticks = mp.ticks();
        await(() -> mp.ticks() >= ticks + 3, "three ticks of the manager"); // the head's clock stands still

        assertThat(f).isNotDone();
        assertThat(h.queuedCount()).isEqualTo(1);
        assertThat(mp.head(NQN, 1)).isSameAs(h);

        clock.addAndGet(Duration.ofSeconds(60).toNanos() + 1);
        NvmeRequest done = f.get(5, TimeUnit.SECONDS);
        assertThat(done.status()).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(done.describeStatus()).contains("no controller left");
        assertThat(mp.head(NQN, 1)).isNull();
        assertThat(h.noPathFailures.sum()).isEqualTo(1);

        CompletableFuture<NvmeRequest> after = new CompletableFuture<>();
        h.submit(Commands.flush(1).callback(after::complete));
        assertThat(after).as("a removed head fails at once").isDone();
        assertThat(after.get().status()).isEqualTo(Status.HOST_PATH_ERROR);
    }

    @Test
    void should_send_io_queued_during_delayed_removal_once_the_portal_comes_back() throws Exception {
        NvmeTarget t = target(namespace(1, null));
        AtomicLong clock = new AtomicLong(1_000_000_000L);
        mp = delayedRemoval(clock, Duration.ofSeconds(60));
        addPortal(t, 1);
        NamespaceHead h = mp.head(NQN, 1);

        t.setFault(1, new Fault.Down());
        await(() -> h.paths().isEmpty(), "the path of the dead controller removed");
        CompletableFuture<NvmeRequest> f = new CompletableFuture<>();
        h.submit(Commands.flush(1).callback(f::complete));
        long ticks = mp.ticks();
        await(() -> mp.ticks() >= ticks + 2, "two ticks of the manager");
        assertThat(f).isNotDone();

        t.setFault(1, Fault.NONE); // the portal is retried every reconnect delay
        NvmeRequest done = f.get(5, TimeUnit.SECONDS);

        assertThat(done.ok()).as(done.describeStatus()).isTrue();
        assertThat(mp.head(NQN, 1)).as("the same head, joined by the new controller").isSameAs(h);
        assertThat(h.paths()).hasSize(1);
        assertThat(h.removeAtNanos).isZero();
        assertThat(h.noPathFailures.sum()).isZero();
    }

    // ---- close ------------------------------------------------------------------------------------

    @Test
    void should_fail_io_waiting_for_a_path_when_the_path_layer_is_closed() throws Exception {
        NvmeTarget t = target(namespace(1, null));
        ControllerOptions co = new ControllerOptions().keepAliveTimeout(Duration.ofSeconds(1))
                .reconnectDelay(Duration.ofMillis(100));
        mp = new Multipath(MultipathOptions.defaults().withController(co).withNoPathTimeout(null), loops);
        addPortal(t, 1);
        NamespaceHead h = mp.head(NQN, 1);
        t.setFault(1, new Fault.Down());
        await(() -> !h.paths().get(0).usable(), "the path down");
        CompletableFuture<NvmeRequest> f = new CompletableFuture<>();
        h.submit(Commands.flush(1).callback(f::complete));
        await(() -> h.queuedCount() == 1, "the flush queued");

        mp.close();
        mp = null;

        NvmeRequest done = f.get(5, TimeUnit.SECONDS);
        assertThat(done.status()).isEqualTo(Status.HOST_PATH_ERROR);
    }

    @Test
    void should_fail_io_waiting_on_a_head_in_delayed_removal_when_the_path_layer_is_closed() throws Exception {
        NvmeTarget t = target(namespace(1, null));
        ControllerOptions co = new ControllerOptions().keepAliveTimeout(Duration.ofSeconds(1))
                .reconnectDelay(Duration.ofMillis(100));
        mp = new Multipath(MultipathOptions.defaults().withController(co).withNoPathTimeout(null)
                .withDelayedRemoval(Duration.ofMinutes(5)), loops);
        addPortal(t, 1);
        NamespaceHead h = mp.head(NQN, 1);
        t.setFault(1, new Fault.Down());
        await(() -> !h.paths().get(0).usable(), "the path down");
        CompletableFuture<NvmeRequest> f = new CompletableFuture<>();
        h.submit(Commands.flush(1).callback(f::complete));
        await(() -> h.queuedCount() == 1, "the flush queued");

        mp.close();
        mp = null;

        NvmeRequest done = f.get(5, TimeUnit.SECONDS);
        assertThat(done.status()).isEqualTo(Status.HOST_PATH_ERROR);
    }
}
