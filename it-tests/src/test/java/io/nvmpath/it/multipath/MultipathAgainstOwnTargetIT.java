package io.nvmpath.it.multipath;

import io.netty.util.ResourceLeakDetector;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.multipath.ControllerPathIo;
import io.nvmpath.multipath.IoPolicy;
import io.nvmpath.multipath.MultipathOptions;
import io.nvmpath.server.bench.Bench;
import io.nvmpath.server.bench.BenchConfig;
import io.nvmpath.server.bench.BenchResult;
import io.nvmpath.server.bench.RwMode;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The namespace head under a verified closed-loop load (iodepth 32) against the project's target,
 * in-process, through two ports: port 1 optimized, port 2 non-optimized, numa, failback immediate.
 * Each fault is injected while the load runs and cleared again; no I/O may fail, every block read must
 * hold the pattern, and I/O must go back to port 1. The stall each fault costs is printed.
 *
 * <p>Faults: an ANA flip of port 1 to inaccessible (the controller answers with ANA status), port 1
 * down (connections reset: a hard loss), port 1 blackholed (silent: only keep-alive notices, after about
 * KATO), both ports down, then port 2 back (I/O waits in the head, shorter than no_path_timeout), port 1
 * answering too late (the I/O timeout resets its controller), port 1 answering with a path error, and
 * the host resetting port 1's controller.
 */
class MultipathAgainstOwnTargetIT {
    static final Duration KATO = Duration.ofMillis(1500);
    static final Duration RECONNECT_DELAY = Duration.ofMillis(300);

    /**
     * {@code -Dnvmpath.it.leakDetection=disabled} (or simple...) runs these drills without the paranoid
     * leak detector, which costs about a factor of ten in IOPS: for quoting stalls at realistic rates.
     */
    static final String LEAK_DETECTION = "nvmpath.it.leakDetection";

    private static ResourceLeakDetector.Level leakLevel;
    private static final FaultDrill.Table TABLE = new FaultDrill.Table();
    private NvmeTarget target;

    @BeforeAll
    static void leakDetection() {
        String level = System.getProperty(LEAK_DETECTION);
        if (level != null && !level.isBlank()) {
            leakLevel = ResourceLeakDetector.getLevel();
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.valueOf(level.trim().toUpperCase(java.util.Locale.ROOT)));
        }
    }

    @AfterAll
    static void printTable() {
        System.out.println(TABLE.render("Failover drills against the project's target (KATO " + KATO.toMillis()
                + " ms, CQT 0, Cross-Controller Reset on; stall = longest gap between completions):"));
    }

    @AfterAll
    static void restoreLeakDetection() {
        if (leakLevel != null) {
            ResourceLeakDetector.setLevel(leakLevel);
        }
    }

    @BeforeEach
    void start() throws Exception {
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
    }

    @AfterEach
    void stop() {
        if (target != null) {
            target.close();
        }
    }

    private String path(int port) {
        return "127.0.0.1:" + target.port(port);
    }

    /** The I/O timeout of the I/O-timeout drill (the others keep the default, 30 s). */
    static final Duration IO_TIMEOUT = Duration.ofSeconds(1);

    private BenchConfig config(RwMode rw, IoPolicy policy) {
        return config(rw, policy, new ControllerOptions().ioTimeout());
    }

    private BenchConfig config(RwMode rw, IoPolicy policy, Duration ioTimeout) {
        ControllerOptions co = new ControllerOptions().keepAliveTimeout(KATO).reconnectDelay(RECONNECT_DELAY)
                // generous: the first connection of a cold JVM under paranoid leak detection on a busy machine
                .connectTimeout(Duration.ofSeconds(3)).ioTimeout(ioTimeout);
        return BenchConfig.builder(TargetConfig.DEMO_NQN, new TransportAddress("127.0.0.1", target.port(1)),
                        new TransportAddress("127.0.0.1", target.port(2)))
                .multipath(MultipathOptions.defaults().withController(co)).ioPolicy(policy)
                .rw(rw).blockSize(4096).ioDepth(32).runtime(Duration.ofMinutes(5)).regionBytes(16 << 20).verify(true)
                .build();
    }

    /** The faults, each with how it is injected, held and cleared. */
    enum Drill {
        /** Port 1's ANA group 1 goes inaccessible for 1 s: I/O there fails with ANA status and fails over. */
        ANA_FLIP_TO_INACCESSIBLE,
        /** Port 1 closes its connections and refuses new ones for 1 s: a hard loss, seen at once. */
        PORT_DOWN,
        /** Port 1 answers nothing for 2 x KATO: a silent loss, seen by keep-alive after about KATO. */
        PORT_BLACKHOLE,
        /** Both ports down for 1.8 s, then port 2 back, then port 1: I/O waits in the head meanwhile. */
        ALL_PATHS_DOWN_THEN_PORT_2_BACK,
        /**
         * Port 1 holds its completions 3 s for 1.5 s, with an I/O timeout of 1 s: the host resets port 1's
         * controller when a command times out, as Linux does.
         */
        PORT_DELAY_PAST_IO_TIMEOUT,
        /**
         * Port 1 answers its next 64 I/O commands with Internal Path Error (0x300): each is requeued, and
         * goes to port 1 again, which stays the best path (as in Linux).
         */
        PATH_ERROR_STATUS,
        /** The host resets port 1's controller (as its ANA transition timeout would): it reconnects at once. */
        HOST_RESETS_PORT_1
    }

    @ParameterizedTest(name = "randread: {0}")
    @EnumSource(Drill.class)
    void randread_rides_out(Drill drill) throws Exception {
        drill(drill, RwMode.RANDREAD);
    }

    @ParameterizedTest(name = "randwrite: {0}")
    @EnumSource(Drill.class)
    void randwrite_rides_out(Drill drill) throws Exception {
        drill(drill, RwMode.RANDWRITE);
    }

    private void drill(Drill drill, RwMode rw) throws Exception {
        BenchConfig c = drill == Drill.PORT_DELAY_PAST_IO_TIMEOUT ? config(rw, IoPolicy.NUMA, IO_TIMEOUT)
                : config(rw, IoPolicy.NUMA);
        String p1 = path(1);
        String p2 = path(2);
        FaultDrill.Outcome o = switch (drill) {
            case ANA_FLIP_TO_INACCESSIBLE -> FaultDrill.run("ANA flip port 1 inaccessible", c, p1, p2,
                    b -> target.setAnaState(1, 1, AnaState.INACCESSIBLE), Duration.ofSeconds(1),
                    b -> target.setAnaState(1, 1, AnaState.OPTIMIZED));
            case PORT_DOWN -> FaultDrill.run("port 1 down", c, p1, p2,
                    b -> target.setFault(1, new Fault.Down()), Duration.ofSeconds(1),
                    b -> target.setFault(1, Fault.NONE));
            case PORT_BLACKHOLE -> FaultDrill.run("port 1 blackhole", c, p1, p2,
                    b -> target.setFault(1, new Fault.Blackhole()), KATO.multipliedBy(2),
                    b -> target.setFault(1, Fault.NONE));
            case ALL_PATHS_DOWN_THEN_PORT_2_BACK -> FaultDrill.run("all paths down, port 2 back", c, p1, p2,
                    b -> {
                        target.setFault(1, new Fault.Down());
                        target.setFault(2, new Fault.Down());
                    }, Duration.ofMillis(1500),
                    b -> {
                        long before = b.iosNow();
                        Thread.sleep(300);
                        assertThat(b.iosNow()).as("nothing completes while every path is down").isEqualTo(before);
                        assertThat(b.head().view().queuedIos()).as("I/O waits in the head").isPositive();
                        target.setFault(2, Fault.NONE);
                        Map<String, Long> w = waitForIo(b, p2);
                        assertThat(w.getOrDefault(p1, 0L)).as("port 1 still down").isZero();
                        target.setFault(1, Fault.NONE);
                    });
            case PORT_DELAY_PAST_IO_TIMEOUT -> FaultDrill.run("port 1 delay past I/O timeout", c, p1, p2,
                    b -> target.setFault(1, new Fault.Delay(3000)), Duration.ofMillis(1500),
                    b -> target.setFault(1, Fault.NONE));
            case HOST_RESETS_PORT_1 -> FaultDrill.run("host resets port 1", c, p1, p2,
                    b -> controllerOf(b, target.port(1)).reset("failover drill"), Duration.ofMillis(500), b -> { });
            case PATH_ERROR_STATUS -> FaultDrill.run("port 1 path error status", c, p1, p2,
                    b -> target.setFault(1, new Fault.Fail(64, Status.INTERNAL_PATH_ERROR)), Duration.ofMillis(500),
                    b -> target.setFault(1, Fault.NONE));
        };
        TABLE.add(o);
        // a path error leaves port 1 live and optimized: the requests it failed go to it again (as Linux)
        if (drill != Drill.ALL_PATHS_DOWN_THEN_PORT_2_BACK && drill != Drill.PATH_ERROR_STATUS) {
            assertThat(o.duringFault().getOrDefault(p2, 0L)).as("port 2 serves while port 1 is out").isPositive();
        }
        long bound = switch (drill) {
            case ANA_FLIP_TO_INACCESSIBLE, PORT_DOWN, PATH_ERROR_STATUS, HOST_RESETS_PORT_1 -> 1000;
            case PORT_DELAY_PAST_IO_TIMEOUT -> IO_TIMEOUT.toMillis() + 2000;
            case PORT_BLACKHOLE -> KATO.toMillis() + 1500;
            case ALL_PATHS_DOWN_THEN_PORT_2_BACK -> 1500 + 300 + 5000;
        };
        if (rw == RwMode.RANDWRITE && drill != Drill.ANA_FLIP_TO_INACCESSIBLE && drill != Drill.PATH_ERROR_STATUS) {
            // writes lost with a connection wait behind the write fence: 2 x KATO + 1 s (CQT 0) at most
            bound += KATO.toMillis() * 2 + MultipathOptions.defaults().unreportedQuiesceTime().toMillis();
        }
        assertThat(o.stallMs()).as("stall of %s", drill).isLessThan(bound);
    }

    /** The controller the bench's multipath layer has on {@code port}. */
    private static Controller controllerOf(Bench b, int port) {
        return b.multipath().subsystem(TargetConfig.DEMO_NQN).controllers().stream()
                .filter(io -> io instanceof ControllerPathIo c && c.controller().address().trsvcid() == port)
                .map(io -> ((ControllerPathIo) io).controller()).findFirst()
                .orElseThrow(() -> new AssertionError("no controller on port " + port));
    }

    /** Waits (at most 10 s) for a window of completions that includes {@code path}; returns it. */
    private static Map<String, Long> waitForIo(Bench b, String path) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        Map<String, Long> w = Map.of();
        while (System.nanoTime() < deadline) {
            w = FaultDrill.window(b, Duration.ofMillis(100));
            if (w.getOrDefault(path, 0L) > 0) {
                return w;
            }
        }
        throw new AssertionError("no I/O through " + path + " within 10 s: " + w);
    }

    @Test
    void round_robin_spreads_over_both_optimized_paths_keeps_to_the_survivor_and_spreads_again_after() throws Exception {
        target.setAnaState(2, 1, AnaState.OPTIMIZED);
        String p1 = path(1);
        String p2 = path(2);
        try (Bench b = Bench.start(config(RwMode.RANDREAD, IoPolicy.ROUND_ROBIN))) {
            Thread.sleep(500);
            Map<String, Long> both = FaultDrill.window(b, FaultDrill.WINDOW);
            target.setFault(1, new Fault.Down());
            Thread.sleep(300);
            Map<String, Long> survivor = FaultDrill.window(b, FaultDrill.WINDOW);
            target.setFault(1, Fault.NONE);
            waitForIo(b, p1);
            Map<String, Long> again = FaultDrill.window(b, FaultDrill.WINDOW);
            b.stop();
            BenchResult r = b.await();
            System.out.printf("round-robin: both %s, port 1 down %s, after %s; errors %s%n", both, survivor, again,
                    r.errors());
            assertThat(both.get(p1)).isPositive();
            assertThat(both.get(p2)).isPositive();
            assertThat(survivor.getOrDefault(p1, 0L)).isZero();
            assertThat(survivor.get(p2)).isPositive();
            assertThat(again.get(p1)).isPositive();
            assertThat(again.get(p2)).isPositive();
            assertThat(r.errors()).isEmpty();
            assertThat(r.verifyErrors()).isZero();
        }
    }
}
