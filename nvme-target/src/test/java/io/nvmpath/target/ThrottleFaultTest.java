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
import io.nvmpath.fabric.host.NvmeException;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The {@code throttle} fault as a host sees it, over loopback against the target in this JVM. The
 * pace itself is pinned on a manual clock ({@link IoThrottleTest}); here: which commands are held,
 * that the path stays live, and what clearing or taking the port down does with what is held. Caps
 * of 1-2 iops hold completions for seconds, so the waits below have seconds of margin.
 */
class ThrottleFaultTest {
    private static final long WAIT_SECONDS = 10;

    private NvmeTarget target;
    private EventLoopGroup hostLoops;

    @BeforeEach
    void start() throws Exception {
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
        hostLoops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() throws Exception {
        hostLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        target.close();
    }

    /** One I/O queue: commands reach the target in the order they are submitted. */
    private Controller connect(ControllerOptions o, ControllerListener... ls) throws Exception {
        return Controller.connect(new TransportAddress("127.0.0.1", target.port(1)), TargetConfig.DEMO_NQN,
                o.ioQueues(1), hostLoops, ls).get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    /**
     * Sends an I/O the target refuses before executing it (an unknown namespace), so it is answered
     * at once: once its answer is back, every command submitted before it on the queue has reached
     * the target and been given its turn.
     */
    private static void passMarker(Controller c) {
        assertThatThrownBy(() -> c.io(Commands.read(99, 0, 1, 512), "marker").get(WAIT_SECONDS, TimeUnit.SECONDS))
                .hasMessageContaining("Invalid Namespace");
    }

    private static void await(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out waiting for " + what);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
    }

    private static ByteBuf pattern(int len) {
        ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(len);
        for (int i = 0; i < len; i++) {
            b.writeByte(i * 7 + 3);
        }
        return b;
    }

    @Test
    void should_hold_io_completions_to_the_cap_while_admin_commands_and_keep_alives_are_answered() throws Exception {
        List<String> leftLive = new CopyOnWriteArrayList<>();
        ControllerListener l = new ControllerListener() {
            @Override
            public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                if (from == ControllerState.LIVE) {
                    leftLive.add(from + " -> " + to + " (" + reason + ")");
                }
            }
        };
        try (Controller c = connect(new ControllerOptions().keepAliveTimeout(Duration.ofSeconds(1)), l)) {
            target.setFault(1, Fault.parse("throttle 2iops"));
            IoThrottle bucket = target.throttle(1);
            List<Integer> completed = new CopyOnWriteArrayList<>();
            List<CompletableFuture<NvmeRequest>> flushes = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                int n = i;
                flushes.add(c.io(Commands.flush(1), "flush " + i).whenComplete((r, e) -> completed.add(n)));
            }
            passMarker(c);

            // due at 0, 0.5, ... 2.5 s: the admin command does not wait behind them
            assertThat(c.identifyController().get(WAIT_SECONDS, TimeUnit.SECONDS).subnqn())
                    .isEqualTo(TargetConfig.DEMO_NQN);
            assertThat(flushes.get(5)).as("the sixth flush, due 2.5 s after the first").isNotDone();
            assertThat(bucket.commands()).as("the six flushes; the marker was refused, not executed").isEqualTo(6);

            CompletableFuture.allOf(flushes.toArray(CompletableFuture[]::new)).get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertThat(completed).as("in the order they were sent").containsExactly(0, 1, 2, 3, 4, 5);
            assertThat(bucket.held()).isZero();
            assertThat(bucket.commands()).as("Identify and the Keep Alives are not counted").isEqualTo(6);
            assertThat(c.stats().keepAliveRttMicros()).as("Keep Alives answered meanwhile").isNotNegative();
            assertThat(leftLive).as("the controller stayed live").isEmpty();
            assertThat(target.portView(1).fault()).isEqualTo("throttle 2iops");
        }
    }

    @ParameterizedTest(name = "by {0}")
    @ValueSource(strings = {"none", "throttle 100000iops"})
    void should_send_held_completions_at_once_when_the_throttle_is_replaced(String next) throws Exception {
        try (Controller c = connect(new ControllerOptions())) {
            ByteBuf data = pattern(4096);
            byte[] expected = ByteBufUtil.getBytes(data);
            c.io(Commands.write(1, 0, 8, data, false), "write").get(WAIT_SECONDS, TimeUnit.SECONDS);
            data.release();
            target.setFault(1, Fault.parse("throttle 1iops"));
            IoThrottle bucket = target.throttle(1);
            List<CompletableFuture<NvmeRequest>> reads = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                reads.add(c.io(Commands.read(1, 0, 8, 512), "read " + i));
            }
            passMarker(c);
            assertThat(bucket.held()).as("one a second: the last is due 19 s after the first").isGreaterThan(15);

            target.setFault(1, Fault.parse(next));

            // one deadline for all twenty, well before the last one's turn at the old cap
            CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)).get(WAIT_SECONDS, TimeUnit.SECONDS);
            for (CompletableFuture<NvmeRequest> f : reads) {
                ByteBuf got = f.join().takeReadData();
                try {
                    assertThat(ByteBufUtil.getBytes(got)).isEqualTo(expected);
                } finally {
                    got.release();
                }
            }
            assertThat(bucket.held()).isZero();
            assertThat(target.fault(1)).isEqualTo(Fault.parse(next));
        }
    }

    @Test
    void should_charge_read_and_write_data_to_a_byte_cap_but_not_admin_commands_or_ana_errors() throws Exception {
        try (Controller c = connect(new ControllerOptions())) {
            target.setFault(1, Fault.parse("throttle 1GiB/s"));
            IoThrottle bucket = target.throttle(1);
            ByteBuf data = pattern(128 << 10);
            c.io(Commands.write(1, 0, 256, data, false), "write").get(WAIT_SECONDS, TimeUnit.SECONDS);
            data.release();
            c.io(Commands.read(1, 0, 256, 512), "read").get(WAIT_SECONDS, TimeUnit.SECONDS).takeReadData().release();
            c.io(Commands.flush(1), "flush").get(WAIT_SECONDS, TimeUnit.SECONDS);
            c.io(Commands.read(1, 0, 8, 512), "read").get(WAIT_SECONDS, TimeUnit.SECONDS).takeReadData().release();
            c.anaLog(false).get(WAIT_SECONDS, TimeUnit.SECONDS);
            target.setAnaState(1, 1, AnaState.INACCESSIBLE);

            assertThatThrownBy(() -> c.io(Commands.read(1, 0, 8, 512), "read").get(WAIT_SECONDS, TimeUnit.SECONDS))
                    .hasMessageContaining("ANA Inaccessible");
            assertThat(bucket.commands()).as("write, read, flush, read; not the refused one").isEqualTo(4);
            assertThat(bucket.bytes()).isEqualTo((128 << 10) * 2 + 4096);
        }
    }

    @Test
    void should_drop_held_completions_with_their_data_when_the_port_goes_down() throws Exception {
        try (Controller c = connect(new ControllerOptions().reconnectDelay(Duration.ofMillis(200)))) {
            target.setFault(1, Fault.parse("throttle 1iops"));
            IoThrottle bucket = target.throttle(1);
            List<CompletableFuture<NvmeRequest>> reads = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                reads.add(c.io(Commands.read(1, 0, 256, 512), "read " + i));
            }
            passMarker(c);

            target.setFault(1, new Fault.Down());

            reads.get(0).get(WAIT_SECONDS, TimeUnit.SECONDS).takeReadData().release(); // the burst: sent at once
            for (CompletableFuture<NvmeRequest> f : reads.subList(1, 5)) {
                assertThatThrownBy(() -> f.get(WAIT_SECONDS, TimeUnit.SECONDS))
                        .isInstanceOf(ExecutionException.class)
                        .cause().isInstanceOf(NvmeException.class)
                        .satisfies(e -> assertThat(((NvmeException) e).status()).isEqualTo(Status.HOST_ABORTED_CMD));
            }
            await(() -> bucket.held() == 0, "the closed queue to drop what it held");
            target.setFault(1, Fault.NONE);
        }
    }
}
