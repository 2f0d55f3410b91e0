package io.nvmpath.target;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.testing.ManualScheduler;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The {@code delay} fault as a host sees it, over loopback against the target in this JVM, whose
 * timers run on a manual clock: a completion waits exactly the delay, and what a delay holds goes
 * at once when the fault is cleared or replaced, without the clock moving.
 */
class DelayFaultTest {
    private static final long WAIT_SECONDS = 10;
    private static final Duration LONG = Duration.ofMinutes(10);

    private final ManualScheduler clock = new ManualScheduler();
    private NvmeTarget target;
    private EventLoopGroup hostLoops;

    @BeforeEach
    void start() throws Exception {
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0), clock);
        hostLoops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() throws Exception {
        hostLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        target.close();
    }

    /** One I/O queue: commands reach the target in the order they are submitted. */
    private Controller connect() throws Exception {
        return Controller.connect(new TransportAddress("127.0.0.1", target.port(1)), TargetConfig.DEMO_NQN,
                new ControllerOptions().ioQueues(1), hostLoops).get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    /**
     * An I/O the target refuses before executing it (an unknown namespace), answered at once: once
     * it is back, every command submitted before it has reached the target and is held.
     */
    private static void passMarker(Controller c) {
        assertThatThrownBy(() -> c.io(Commands.read(99, 0, 1, 512), "marker").get(WAIT_SECONDS, TimeUnit.SECONDS))
                .hasMessageContaining("Invalid Namespace");
    }

    private static void assertReadOf(NvmeRequest r, int bytes) {
        ByteBuf data = r.takeReadData();
        try {
            assertThat(data.readableBytes()).isEqualTo(bytes);
        } finally {
            data.release();
        }
    }

    @Test
    void should_hold_each_io_completion_for_exactly_the_delay_while_admin_commands_are_answered() throws Exception {
        try (Controller c = connect()) {
            target.setFault(1, Fault.parse("delay 1000"));
            CompletableFuture<NvmeRequest> read = c.io(Commands.read(1, 0, 8, 512), "read");
            CompletableFuture<NvmeRequest> flush = c.io(Commands.flush(1), "flush");
            passMarker(c);
            clock.awaitTaskIn(Duration.ofMillis(1000));

            assertThat(c.identifyController().get(WAIT_SECONDS, TimeUnit.SECONDS).subnqn())
                    .as("admin commands are not delayed").isEqualTo(TargetConfig.DEMO_NQN);
            clock.advance(Duration.ofMillis(999));
            assertThat(read).isNotDone();
            assertThat(flush).isNotDone();
            clock.advance(Duration.ofMillis(1));

            assertReadOf(read.get(WAIT_SECONDS, TimeUnit.SECONDS), 4096);
            assertThat(flush.get(WAIT_SECONDS, TimeUnit.SECONDS).ok()).isTrue();
        }
    }

    @ParameterizedTest(name = "by {0}")
    @ValueSource(strings = {"clear", "throttle 100000iops", "fail 5 0x302"})
    void should_send_what_the_delay_holds_at_once_when_the_fault_is_cleared_or_replaced(String next) throws Exception {
        try (Controller c = connect()) {
            target.setFault(1, Fault.parse("delay " + LONG.toMillis()));
            CompletableFuture<NvmeRequest> read = c.io(Commands.read(1, 0, 8, 512), "read");
            CompletableFuture<NvmeRequest> flush = c.io(Commands.flush(1), "flush");
            passMarker(c);
            clock.awaitTaskIn(LONG);
            assertThat(read).isNotDone();

            target.setFault(1, Fault.parse(next));

            // no clock movement: the completions come because the delay no longer holds them
            assertReadOf(read.get(WAIT_SECONDS, TimeUnit.SECONDS), 4096);
            assertThat(flush.get(WAIT_SECONDS, TimeUnit.SECONDS).ok()).isTrue();
        }
    }

    @Test
    void should_hold_new_completions_for_the_new_delay_when_a_delay_is_replaced_by_a_shorter_one() throws Exception {
        try (Controller c = connect()) {
            target.setFault(1, Fault.parse("delay " + LONG.toMillis()));
            CompletableFuture<NvmeRequest> before = c.io(Commands.flush(1), "flush before");
            passMarker(c);
            clock.awaitTaskIn(LONG);

            target.setFault(1, Fault.parse("delay 100"));
            assertThat(before.get(WAIT_SECONDS, TimeUnit.SECONDS).ok()).as("released at once").isTrue();

            CompletableFuture<NvmeRequest> after = c.io(Commands.flush(1), "flush after");
            passMarker(c);
            clock.awaitTaskIn(Duration.ofMillis(100));
            assertThat(after).as("the new delay holds it").isNotDone();
            clock.advance(Duration.ofMillis(100));
            assertThat(after.get(WAIT_SECONDS, TimeUnit.SECONDS).ok()).isTrue();
        }
    }
}
