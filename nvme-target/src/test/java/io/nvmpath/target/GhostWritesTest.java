package io.nvmpath.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.CrossControllerReset;
import io.nvmpath.fabric.nvme.CrossControllerResetLog;
import io.nvmpath.fabric.testing.ManualScheduler;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.nvmpath.target.CrossControllerResetTest.SUB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The {@code ghost-writes} fault and a cut path, as two paths of one host see them: a write held on
 * port 1 whose connection is cut is still applied when its time is up (read back through port 2),
 * unless a Cross-Controller Reset of its controller succeeded first, or its controller's keep-alive
 * timed out and its Command Quiesce Time ended first. The target
 * runs on a manual clock; each host keeps time on it too, so no keep-alive is sent behind the test's back.
 */
class GhostWritesTest {
    static final String HOST = "nqn.2026-11.test:ghost-host";
    private static final long WAIT_SECONDS = 10;
    private static final int BLOCK = 512;

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

    private void start(SubsystemConfig sub) throws Exception {
        target = NvmeTarget.start(CrossControllerResetTest.config(sub), clock);
    }

    /** One I/O queue: commands reach the target in the order they are sent. */
    private Controller connect(int port, Duration kato) throws Exception {
        return Controller.connect(new TransportAddress("127.0.0.1", target.port(port)), SUB,
                new ControllerOptions().hostNqn(HOST).ioQueues(1).keepAliveTimeout(kato).scheduler(clock)
                        .reconnectDelay(Duration.ofMinutes(10)), loops).get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    /** Writes one block of {@code fill} at LBA 0; the future is the command's. */
    static CompletableFuture<NvmeRequest> writeBlock(Controller c, int fill) {
        ByteBuf data = Unpooled.buffer(BLOCK).writeZero(BLOCK);
        for (int i = 0; i < BLOCK; i++) {
            data.setByte(i, fill);
        }
        return c.io(Commands.write(1, 0, 1, data, false), "write").whenComplete((r, e) -> data.release());
    }

    /** The first byte of LBA 0, read through {@code c}. */
    static int readBlock(Controller c) throws Exception {
        ByteBuf b = c.io(Commands.read(1, 0, 1, BLOCK), "read").get(WAIT_SECONDS, TimeUnit.SECONDS).takeReadData();
        try {
            return b.getUnsignedByte(b.readerIndex());
        } finally {
            b.release();
        }
    }

    /**
     * An I/O the target refuses before executing it, answered at once: once it is back, every command
     * sent before it on the same queue has reached the target.
     */
    static void passMarker(Controller c) {
        assertThatThrownBy(() -> c.io(Commands.read(99, 0, 1, BLOCK), "marker").get(WAIT_SECONDS, TimeUnit.SECONDS))
                .hasMessageContaining("Invalid Namespace");
    }

    @Test
    void should_apply_a_held_write_when_its_time_is_up_though_its_connection_was_cut() throws Exception {
        start(CrossControllerResetTest.subsystem());
        Controller b = connect(2, Duration.ofSeconds(5));
        Controller a = connect(1, Duration.ofSeconds(5));
        try {
            int lost = a.cntlid();
            target.setFault(1, Fault.parse("ghost-writes 1000"));
            CompletableFuture<NvmeRequest> write = writeBlock(a, 0xAB);
            passMarker(a);
            clock.awaitTaskIn(Duration.ofMillis(1000));

            assertThat(target.cutConnections(1)).as("admin and I/O connection").isEqualTo(2);
            assertThat(write).failsWithin(Duration.ofSeconds(WAIT_SECONDS));
            a.close();
            assertThat(target.whenControllerGone(SUB, lost)).as("lost, not gone: a write of it is held").isNotDone();
            assertThat(readBlock(b)).as("not applied yet").isZero();
            clock.advance(Duration.ofMillis(999));
            assertThat(readBlock(b)).as("999 ms on").isZero();

            clock.advance(Duration.ofMillis(1));

            assertThat(readBlock(b)).as("the ghost write, through the other path").isEqualTo(0xAB);
            assertThat(target.whenControllerGone(SUB, lost)).succeedsWithin(Duration.ofSeconds(WAIT_SECONDS));
        } finally {
            a.close();
            b.close();
        }
    }

    @Test
    void should_never_apply_a_held_write_once_a_cross_controller_reset_of_its_controller_succeeded()
            throws Exception {
        start(CrossControllerResetTest.subsystem());
        Controller b = connect(2, Duration.ofSeconds(5));
        Controller a = connect(1, Duration.ofSeconds(5));
        try {
            int lost = a.cntlid();
            CrossControllerReset ccr = CrossControllerReset.of(a.identity()); // what the host knew of it
            target.setFault(1, Fault.parse("ghost-writes 1000"));
            CompletableFuture<NvmeRequest> write = writeBlock(a, 0xAB);
            passMarker(a);
            clock.awaitTaskIn(Duration.ofMillis(1000));
            target.cutConnections(1);
            assertThat(write).failsWithin(Duration.ofSeconds(WAIT_SECONDS));
            a.close();

            CrossControllerReset.Result r = b.crossControllerReset(ccr).get(WAIT_SECONDS, TimeUnit.SECONDS);

            assertThat(r.immediate()).as("the held write is dropped, nothing of it executes").isTrue();
            assertThat(target.whenControllerGone(SUB, lost)).succeedsWithin(Duration.ofSeconds(WAIT_SECONDS));
            clock.advance(Duration.ofMillis(1000));
            assertThat(readBlock(b)).as("never applied").isZero();
            assertThat(b.crossControllerResetLog(false).get(WAIT_SECONDS, TimeUnit.SECONDS).entry(lost).status())
                    .isEqualTo(CrossControllerResetLog.ResetStatus.SUCCESS);
        } finally {
            a.close();
            b.close();
        }
    }

    @Test
    void should_hold_writes_but_not_reads_and_complete_the_write_when_applied() throws Exception {
        start(CrossControllerResetTest.subsystem());
        try (Controller a = connect(1, Duration.ofSeconds(5))) {
            target.setFault(1, Fault.parse("ghost-writes 300"));
            CompletableFuture<NvmeRequest> write = writeBlock(a, 0x5A);
            CompletableFuture<NvmeRequest> zeroes = a.io(Commands.writeZeroes(1, 8, 8, false, false), "write zeroes");
            passMarker(a);
            clock.awaitTaskIn(Duration.ofMillis(300));

            assertThat(readBlock(a)).as("a read is not held, and sees the old data").isZero();
            assertThat(write).isNotDone();
            assertThat(zeroes).isNotDone();
            clock.advance(Duration.ofMillis(300));

            assertThat(write.get(WAIT_SECONDS, TimeUnit.SECONDS).ok()).isTrue();
            assertThat(zeroes.get(WAIT_SECONDS, TimeUnit.SECONDS).ok()).isTrue();
            assertThat(readBlock(a)).isEqualTo(0x5A);
        }
    }

    @ParameterizedTest(name = "held {0} ms: applied {1}")
    @CsvSource({"1400, true", "1500, true", "1600, false"})
    void should_apply_nothing_after_the_keep_alive_deadline_plus_the_command_quiesce_time(long hold, boolean applied)
            throws Exception {
        start(CrossControllerResetTest.subsystem().withCqt(500));
        Controller b = connect(2, Duration.ofSeconds(5));
        Controller a = connect(1, Duration.ofSeconds(1));
        try {
            int lost = a.cntlid();
            target.setFault(1, Fault.parse("ghost-writes " + hold));
            CompletableFuture<NvmeRequest> write = writeBlock(a, 0xC3);
            passMarker(a);
            clock.awaitTaskIn(Duration.ofMillis(hold));
            target.cutConnections(1); // no keep-alive reaches the lost controller from now on
            assertThat(write).failsWithin(Duration.ofSeconds(WAIT_SECONDS));
            a.close();

            // its last keep-alive was at time 0: the deadline is KATO 1000 + CQT 500 = 1500 ms
            clock.advance(Duration.ofMillis(1499));
            if (hold < 1500) {
                assertThat(target.whenControllerGone(SUB, lost)).as("applied, so nothing of it is left")
                        .succeedsWithin(Duration.ofSeconds(WAIT_SECONDS));
            } else {
                assertThat(target.whenControllerGone(SUB, lost)).as("still quiescing").isNotDone();
            }
            clock.advance(Duration.ofMillis(1));
            assertThat(target.whenControllerGone(SUB, lost)).as("stopped at the deadline at the latest")
                    .succeedsWithin(Duration.ofSeconds(WAIT_SECONDS));
            clock.advance(Duration.ofMillis(500));

            assertThat(readBlock(b)).as("through the other path, after the hold").isEqualTo(applied ? 0xC3 : 0);
        } finally {
            a.close();
            b.close();
        }
    }

    @Test
    void should_stop_a_controller_behind_a_blackhole_at_its_keep_alive_deadline_plus_the_command_quiesce_time()
            throws Exception {
        start(CrossControllerResetTest.subsystem().withCqt(500));
        Controller b = connect(2, Duration.ofSeconds(5));
        Controller a = connect(1, Duration.ofSeconds(1));
        try {
            int lost = a.cntlid();
            target.setFault(1, Fault.parse("ghost-writes 3000"));
            CompletableFuture<NvmeRequest> write = writeBlock(a, 0x7E);
            passMarker(a);
            target.setFault(1, new Fault.Blackhole()); // a partition: no keep-alive reaches the controller now

            // its last keep-alive was at time 0: the deadline is KATO 1000 + CQT 500 = 1500 ms
            clock.advance(Duration.ofMillis(1500));
            assertThat(target.whenControllerGone(SUB, lost)).as("stopped behind the blackhole")
                    .succeedsWithin(Duration.ofSeconds(WAIT_SECONDS));
            clock.advance(Duration.ofMillis(2000));
            assertThat(target.writesSettled()).isTrue();
            assertThat(readBlock(b)).as("the held write, due at 3000 ms, was dropped").isZero();

            target.setFault(1, Fault.NONE);
            assertThat(write).as("never answered: the host fails it once the connection is gone")
                    .failsWithin(Duration.ofSeconds(WAIT_SECONDS));
        } finally {
            a.close();
            b.close();
        }
    }
}
