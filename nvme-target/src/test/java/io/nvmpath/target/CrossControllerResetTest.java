package io.nvmpath.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
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
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.AsyncEvent;
import io.nvmpath.fabric.nvme.CrossControllerReset;
import io.nvmpath.fabric.nvme.CrossControllerResetLog;
import io.nvmpath.fabric.nvme.CrossControllerResetLog.ResetStatus;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.testing.Await;
import io.nvmpath.fabric.testing.ManualScheduler;
import io.nvmpath.target.backend.Backend;
import io.nvmpath.target.backend.MemoryBackend;
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
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Rapid Path Failure Recovery as a host sees it through the project's own host, in-process: what
 * Identify Controller reports (CQT, CIU, CIRN, CCRL), and Cross-Controller Reset (admin 38h) with its
 * log and notice. The target's timers run on a manual clock.
 */
class CrossControllerResetTest {
    static final String SUB = "nqn.2026-11.test:ccr";
    static final String HOST = "nqn.2026-11.test:ccr-host";
    private static final long WAIT_SECONDS = 10;

    private final ManualScheduler clock = new ManualScheduler();
    private NvmeTarget target;
    private EventLoopGroup loops;

    @BeforeEach
    void loops() {
        loops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() throws Exception {
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        if (target != null) {
            target.close();
        }
    }

    /** One subsystem with a 1 MiB namespace, reachable through ports 1 and 2. */
    static TargetConfig config(SubsystemConfig sub) {
        List<String> linked = List.of(sub.nqn());
        return new TargetConfig(List.of(sub),
                List.of(new PortConfig(1, "127.0.0.1", 0, null, linked, Map.of(1, AnaState.OPTIMIZED)),
                        new PortConfig(2, "127.0.0.1", 0, null, linked, Map.of(1, AnaState.OPTIMIZED))),
                null, null, null, 10);
    }

    static SubsystemConfig subsystem() {
        return new SubsystemConfig(SUB, "CCR1", "ccr test", "1", true, List.of(),
                List.of(new NamespaceConfig(1, 1 << 20, null, 512, 1, null, null, null, false)));
    }

    private void start(SubsystemConfig sub) throws Exception {
        target = NvmeTarget.start(config(sub), clock);
    }

    private Controller connect(int port, ControllerListener... ls) throws Exception {
        return connect(port, HOST, ls);
    }

    /** One I/O queue; reconnects only when the test moves the clock, which none here does for that. */
    private Controller connect(int port, String hostNqn, ControllerListener... ls) throws Exception {
        return Controller.connect(new TransportAddress("127.0.0.1", target.port(port)), SUB,
                new ControllerOptions().hostNqn(hostNqn).ioQueues(1).scheduler(clock)
                        .reconnectDelay(Duration.ofMinutes(10)), loops, ls).get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    /** The status a command's future failed with. */
    private static int statusOf(CompletableFuture<?> f) {
        assertThatThrownBy(() -> f.get(WAIT_SECONDS, TimeUnit.SECONDS)).hasCauseInstanceOf(NvmeException.class);
        return ((NvmeException) f.handle((v, e) -> e instanceof CompletionException c ? c.getCause() : e).join())
                .status();
    }

    /** Asynchronous events as they come. */
    private static final class Events implements ControllerListener {
        final LinkedBlockingQueue<AsyncEvent> events = new LinkedBlockingQueue<>();

        @Override
        public void asyncEvent(Controller controller, AsyncEvent event) {
            events.add(event);
        }

        /** The next Cross-Controller Reset Completed notice, or null within the wait. */
        AsyncEvent nextCrossControllerResetCompleted() throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
            while (System.nanoTime() - deadline < 0) {
                AsyncEvent e = events.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                if (e != null && e.isCrossControllerResetCompleted()) {
                    return e;
                }
            }
            return null;
        }

        boolean sawCrossControllerResetCompleted() {
            return events.stream().anyMatch(AsyncEvent::isCrossControllerResetCompleted);
        }
    }

    /** A memory namespace whose writes reach the memory only when the test opens the gate: commands in execution. */
    private static final class GatedBackend implements Backend {
        final MemoryBackend memory = new MemoryBackend(1 << 20);
        final CompletableFuture<Void> gate = new CompletableFuture<>();
        final AtomicInteger writes = new AtomicInteger();

        @Override
        public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
            return memory.read(offset, length, alloc);
        }

        @Override
        public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
            writes.incrementAndGet();
            return gate.thenCompose(v -> memory.write(offset, data, fua));
        }

        @Override
        public CompletableFuture<Void> zero(long offset, long length) {
            return memory.zero(offset, length);
        }

        @Override
        public CompletableFuture<Void> flush() {
            return memory.flush();
        }

        @Override
        public long sizeBytes() {
            return memory.sizeBytes();
        }

        @Override
        public String describe() {
            return "gated memory";
        }

        @Override
        public void close() {
            memory.close();
        }
    }

    /** Adds namespace 2 over a gated backend; writes to it execute until the gate opens. */
    private GatedBackend gatedNamespace() {
        GatedBackend b = new GatedBackend();
        target.addNamespace(SUB, new NamespaceConfig(2, 1 << 20, null, 512, 1, null, null, null, false), b);
        return b;
    }

    /** Enables the notices the host's own set-up enables, and Cross-Controller Reset Completed. */
    private static void enableCrossControllerResetNotice(Controller c) throws Exception {
        c.admin(Commands.setFeatures(Opcodes.FEAT_ASYNC_EVENT, AsyncEvent.CFG_CCR_COMPLETED | AsyncEvent.CFG_NS_ATTR
                | AsyncEvent.CFG_ANA_CHANGE), "Set Features").get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    private static CompletableFuture<NvmeRequest> write(Controller c, int nsid, int fill) {
        ByteBuf data = Unpooled.buffer(512).writeZero(512);
        for (int i = 0; i < 512; i++) {
            data.setByte(i, fill);
        }
        return c.io(Commands.write(nsid, 0, 1, data, false), "write").whenComplete((r, e) -> data.release());
    }

    private static int readFirstByte(Controller c, int nsid) throws Exception {
        ByteBuf b = c.io(Commands.read(nsid, 0, 1, 512), "read").get(WAIT_SECONDS, TimeUnit.SECONDS).takeReadData();
        try {
            return b.getUnsignedByte(b.readerIndex());
        } finally {
            b.release();
        }
    }

    @Test
    void should_report_cqt_ciu_cirn_and_a_ccrl_of_4_when_cross_controller_reset_is_on() throws Exception {
        start(subsystem().withCqt(1500));
        try (Controller a = connect(1); Controller b = connect(2)) {
            IdentifyController ia = a.identifyController().get(WAIT_SECONDS, TimeUnit.SECONDS);
            IdentifyController ib = b.identifyController().get(WAIT_SECONDS, TimeUnit.SECONDS);

            assertThat(ia.cqt()).isEqualTo(1500);
            assertThat(ia.ccrl()).isEqualTo(4);
            assertThat(ia.crossControllerReset()).isTrue();
            assertThat(ia.oaes() & AsyncEvent.CFG_CCR_COMPLETED).as("OAES: the completion notice").isNotZero();
            assertThat(ia.ciu()).isBetween(1, 255);
            assertThat(ib.ciu()).isBetween(1, 255);
            assertThat(ia.cirn()).as("each instance draws its own CIRN").isNotEqualTo(ib.cirn());
            assertThat(a.identity().cirn()).as("what the host keeps to name it later").isEqualTo(ia.cirn());
        }
    }

    @Test
    void should_report_no_limit_and_no_notice_and_refuse_the_notice_when_cross_controller_reset_is_off()
            throws Exception {
        start(subsystem().withCrossControllerReset(false));
        try (Controller a = connect(1)) {
            IdentifyController id = a.identifyController().get(WAIT_SECONDS, TimeUnit.SECONDS);

            assertThat(id.ccrl()).isZero();
            assertThat(id.crossControllerReset()).isFalse();
            assertThat(id.cqt()).as("default, as Linux nvmet").isZero();
            assertThat(id.ciu()).as("the instance is still named").isNotZero();
            assertThat(id.oaes() & AsyncEvent.CFG_CCR_COMPLETED).isZero();
            a.admin(Commands.setFeatures(Opcodes.FEAT_ASYNC_EVENT, AsyncEvent.CFG_CCR_COMPLETED
                    | AsyncEvent.CFG_ANA_CHANGE), "Set Features").get(WAIT_SECONDS, TimeUnit.SECONDS);
            NvmeRequest get = NvmeRequest.noData(Sqe.of(Opcodes.ADMIN_GET_FEATURES).cdw(10, Opcodes.FEAT_ASYNC_EVENT));
            int cfg = a.admin(get, "Get Features").get(WAIT_SECONDS, TimeUnit.SECONDS).result0();
            assertThat(cfg).as("only the notices it can send are kept").isEqualTo(AsyncEvent.CFG_ANA_CHANGE);
        }
    }

    @Test
    void should_answer_a_reset_of_an_instance_already_gone_as_done_and_refuse_one_never_seen() throws Exception {
        start(subsystem());
        try (Controller b = connect(2)) {
            CrossControllerReset gone;
            try (Controller a = connect(1)) {
                gone = CrossControllerReset.of(a.identity());
            }
            assertThat(target.whenControllerGone(SUB, gone.icid())).succeedsWithin(Duration.ofSeconds(WAIT_SECONDS));

            CrossControllerReset.Result r = b.crossControllerReset(gone).get(WAIT_SECONDS, TimeUnit.SECONDS);

            assertThat(r.immediate()).as("nothing of it can run any more").isTrue();
            assertThat(r.validated()).isTrue();
            CrossControllerReset never = new CrossControllerReset(gone.icid(), gone.ciu() ^ 1, gone.cirn());
            assertThatThrownBy(() -> b.crossControllerReset(never).get(WAIT_SECONDS, TimeUnit.SECONDS))
                    .hasMessageContaining("Invalid Field");
        }
    }

    @Test
    void should_reset_the_impacted_controller_at_once_when_nothing_of_it_executes() throws Exception {
        start(subsystem());
        try (Controller a = connect(1); Controller b = connect(2)) {
            int impacted = a.cntlid();

            CrossControllerReset.Result r = b.crossControllerReset(CrossControllerReset.of(a.identity()))
                    .get(WAIT_SECONDS, TimeUnit.SECONDS);

            assertThat(r).isEqualTo(CrossControllerReset.Result.RESET);
            assertThat(target.whenControllerGone(SUB, impacted)).as("its association is torn down")
                    .succeedsWithin(Duration.ofSeconds(WAIT_SECONDS));
            CrossControllerResetLog log = b.crossControllerResetLog(false).get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertThat(log.entries()).containsExactly(new CrossControllerResetLog.Entry(impacted, a.identity().ciu(),
                    b.cntlid(), ResetStatus.SUCCESS, CrossControllerResetLog.Entry.FLAG_VALIDATED
                    | CrossControllerResetLog.Entry.FLAG_RESET_INITIATED));
            assertThat(b.crossControllerResetLog(true).get(WAIT_SECONDS, TimeUnit.SECONDS).entries())
                    .as("read with RMC: returned, then removed").hasSize(1);
            assertThat(b.crossControllerResetLog(false).get(WAIT_SECONDS, TimeUnit.SECONDS).entries()).isEmpty();
            assertThat(readFirstByte(b, 1)).as("the healthy path carries on").isZero();
        }
    }

    @Test
    void should_be_in_progress_while_a_write_of_the_impacted_controller_executes_and_notify_when_it_is_done()
            throws Exception {
        start(subsystem());
        GatedBackend slow = gatedNamespace();
        Events events = new Events();
        try (Controller a = connect(1); Controller b = connect(2, events)) {
            enableCrossControllerResetNotice(b);
            int impacted = a.cntlid();
            CrossControllerReset ccr = CrossControllerReset.of(a.identity());
            CompletableFuture<NvmeRequest> executing = write(a, 2, 0x77);
            Await.until("the write is in the backend", () -> slow.writes.get() == 1);

            CrossControllerReset.Result r = b.crossControllerReset(ccr).get(WAIT_SECONDS, TimeUnit.SECONDS);

            assertThat(r).isEqualTo(CrossControllerReset.Result.IN_PROGRESS);
            assertThat(b.crossControllerResetLog(false).get(WAIT_SECONDS, TimeUnit.SECONDS).entry(impacted).status())
                    .isEqualTo(ResetStatus.IN_PROGRESS);
            assertThat(statusOf(b.crossControllerReset(ccr))).as("a second one while the first is in progress")
                    .isEqualTo(Status.CCR_IN_PROGRESS);
            assertThat(executing).as("its connections are closed").failsWithin(Duration.ofSeconds(WAIT_SECONDS));
            assertThat(target.whenControllerGone(SUB, impacted)).as("gone once its write finishes").isNotDone();
            assertThat(events.sawCrossControllerResetCompleted()).isFalse();

            slow.gate.complete(null);

            AsyncEvent done = events.nextCrossControllerResetCompleted();
            assertThat(done).as("Cross-Controller Reset Completed notice").isNotNull();
            assertThat(done.logPage()).isEqualTo(Opcodes.LOG_CROSS_CONTROLLER_RESET);
            assertThat(b.crossControllerResetLog(true).get(WAIT_SECONDS, TimeUnit.SECONDS).entry(impacted).status())
                    .isEqualTo(ResetStatus.SUCCESS);
            assertThat(target.whenControllerGone(SUB, impacted)).succeedsWithin(Duration.ofSeconds(WAIT_SECONDS));
            assertThat(readFirstByte(b, 2)).as("the write in execution finished before the reset did").isEqualTo(0x77);
        }
    }

    @Test
    void should_refuse_a_reset_past_the_limit_of_four_in_progress() throws Exception {
        start(subsystem());
        GatedBackend slow = gatedNamespace();
        List<Controller> impacted = new ArrayList<>();
        try (Controller b = connect(2)) {
            for (int i = 0; i < 5; i++) {
                Controller a = connect(1);
                impacted.add(a);
                write(a, 2, i);
            }
            Await.until("five writes in the backend", () -> slow.writes.get() == 5);
            for (int i = 0; i < 4; i++) {
                assertThat(b.crossControllerReset(CrossControllerReset.of(impacted.get(i).identity()))
                        .get(WAIT_SECONDS, TimeUnit.SECONDS).immediate()).isFalse();
            }

            assertThat(statusOf(b.crossControllerReset(CrossControllerReset.of(impacted.get(4).identity()))))
                    .isEqualTo(Status.CCR_LIMIT_EXCEEDED);
            assertThat(impacted.get(4).state()).as("untouched").isEqualTo(ControllerState.LIVE);
            slow.gate.complete(null);
        } finally {
            impacted.forEach(Controller::close);
        }
    }

    @Test
    void should_refuse_with_invalid_field_a_reset_that_names_no_other_controller_instance_of_the_host()
            throws Exception {
        start(subsystem());
        try (Controller a = connect(1); Controller b = connect(2); Controller other = connect(1, "nqn.2026-11.test:other")) {
            IdentifyController id = a.identity();
            List<CrossControllerReset> wrong = List.of(
                    CrossControllerReset.of(b.identity()), // the issuing controller itself
                    new CrossControllerReset(id.cntlid(), id.ciu() % 255 + 1, id.cirn()), // another instance
                    new CrossControllerReset(id.cntlid(), id.ciu(), id.cirn() + 1),
                    new CrossControllerReset(0xFFEE, id.ciu(), id.cirn()), // no such controller
                    CrossControllerReset.of(other.identity())); // another host's controller
            for (CrossControllerReset ccr : wrong) {
                assertThat(statusOf(b.crossControllerReset(ccr))).as(ccr.toString())
                        .isEqualTo(Status.INVALID_FIELD | Status.DNR);
            }

            assertThat(readFirstByte(a, 1)).as("nobody was reset").isZero();
            assertThat(readFirstByte(other, 1)).isZero();
            assertThat(b.crossControllerResetLog(false).get(WAIT_SECONDS, TimeUnit.SECONDS).entries())
                    .as("only validated resets are logged").isEmpty();
        }
    }

    @Test
    void should_refuse_the_command_and_its_log_when_cross_controller_reset_is_off() throws Exception {
        start(subsystem().withCrossControllerReset(false));
        try (Controller a = connect(1); Controller b = connect(2)) {
            assertThat(statusOf(b.crossControllerReset(CrossControllerReset.of(a.identity()))))
                    .isEqualTo(Status.INVALID_OPCODE | Status.DNR);
            assertThat(statusOf(b.crossControllerResetLog(false))).isEqualTo(Status.INVALID_LOG_PAGE | Status.DNR);
            assertThat(a.state()).isEqualTo(ControllerState.LIVE);
        }
    }
}
