package io.nvmpath.it.multipath;

import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.it.guest.NvmetGuest;
import io.nvmpath.it.guest.Peers;
import io.nvmpath.multipath.IoPolicy;
import io.nvmpath.multipath.MultipathOptions;
import io.nvmpath.server.bench.BenchConfig;
import io.nvmpath.server.bench.RwMode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The namespace head under a verified closed-loop load (iodepth 32) against the Linux kernel target
 * (nvmet-tcp in a QEMU guest): namespace 1 in ANA group 1, optimized through port 1 and non-optimized
 * through port 2; numa, failback immediate. No I/O may fail, every block read must hold the pattern,
 * and I/O must go back to port 1 after each fault. The stall each fault costs is printed.
 *
 * <p>Faults: an ANA flip of port 1 to inaccessible (nvmet answers with ANA status and sends an ANA
 * change notice); port 1 removed and added back (nvmet drops its controllers: a hard loss); and the
 * guest frozen (SIGSTOP of the whole VM: both ports fall silent, so every path is lost, and only
 * keep-alive notices; by the time it thaws nvmet has dropped our controllers after KATO, so the host
 * must reconnect both).
 */
class MultipathAgainstKernelTargetIT {
    /** Generous for a TCG guest under load: the keep-alive must complete within KATO/2. */
    static final Duration KATO = Duration.ofSeconds(3);
    static final Duration RECONNECT_DELAY = Duration.ofMillis(500);

    private static NvmetGuest target;

    @BeforeAll
    static void boot() throws Exception {
        Peers.assumeGuest();
        target = NvmetGuest.start("multipath-vs-nvmet");
    }

    private static final FaultDrill.Table TABLE = new FaultDrill.Table();

    @AfterAll
    static void shutdown() {
        System.out.println(TABLE.render("Failover drills against Linux nvmet (KATO " + KATO.toMillis()
                + " ms, CQT 0, no Cross-Controller Reset; stall = longest gap between completions):"));
        if (target != null) {
            target.close();
        }
    }

    private static String path(int port) {
        return target.address() + ":" + target.port(port);
    }

    private static BenchConfig config(RwMode rw) {
        ControllerOptions co = new ControllerOptions().keepAliveTimeout(KATO).reconnectDelay(RECONNECT_DELAY)
                .connectTimeout(Duration.ofSeconds(2));
        return BenchConfig.builder(target.subsystemNqn(), new TransportAddress(target.address(), target.port(1)),
                        new TransportAddress(target.address(), target.port(2)))
                .multipath(MultipathOptions.defaults().withController(co)).ioPolicy(IoPolicy.NUMA)
                .nsid(1).rw(rw).blockSize(4096).ioDepth(32).runtime(Duration.ofMinutes(5)).regionBytes(8 << 20)
                .verify(true).build();
    }

    /** The faults the guest can stage. */
    enum Drill {
        /** nvmet port 1, ANA group 1 inaccessible for 1 s. */
        ANA_FLIP_TO_INACCESSIBLE,
        /** The subsystem unlinked from nvmet port 1 for 1.5 s: its controllers go, the port stops listening. */
        PORT_REMOVED,
        /** The whole guest stopped for KATO + 1.5 s: every path silent, then both back. */
        GUEST_FROZEN
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
        BenchConfig c = config(rw);
        String p1 = path(1);
        String p2 = path(2);
        FaultDrill.Outcome o;
        switch (drill) {
            case ANA_FLIP_TO_INACCESSIBLE -> {
                try {
                    o = FaultDrill.run("nvmet ANA flip port 1", c, p1, p2,
                            b -> target.setAnaState(1, 1, NvmetGuest.AnaState.INACCESSIBLE), Duration.ofSeconds(1),
                            b -> target.setAnaState(1, 1, NvmetGuest.AnaState.OPTIMIZED));
                } finally {
                    target.setAnaState(1, 1, NvmetGuest.AnaState.OPTIMIZED);
                }
            }
            case PORT_REMOVED -> {
                try {
                    o = FaultDrill.run("nvmet port 1 removed", c, p1, p2, b -> target.removePort(1),
                            Duration.ofMillis(1500), b -> target.addPort(1));
                } finally {
                    if (!target.show().contains("port1=linked")) {
                        target.addPort(1);
                    }
                }
            }
            case GUEST_FROZEN -> {
                try {
                    o = FaultDrill.run("nvmet guest frozen", c, p1, p2, b -> target.vm().freeze(),
                            KATO.plusMillis(1500), b -> target.vm().thaw());
                } finally {
                    target.vm().thaw(); // SIGCONT: harmless when it is running
                }
            }
            default -> throw new IllegalStateException(drill.name());
        }
        TABLE.add(o);
        if (drill == Drill.GUEST_FROZEN) {
            assertThat(o.stallMs()).as("I/O waits while every path is lost: about the freeze")
                    .isGreaterThanOrEqualTo(KATO.toMillis());
        } else {
            if (rw == RwMode.RANDWRITE && drill == Drill.PORT_REMOVED) {
                // every queue slot may hold a fenced write: then port 2 gets nothing until the fence opens
                // a write lost unanswered with port 1 waits until nvmet (CQT 0, no Cross-Controller Reset)
                // cannot execute it any more: at most 2 x KATO + the quiesce time assumed for CQT 0 (nvmet
                // answers what it aborts when a port goes, and an answered write is not fenced)
                long fence = KATO.toMillis() * 2 + MultipathOptions.defaults().unreportedQuiesceTime().toMillis();
                System.out.println("nvmet port removed under randwrite: stall " + o.stallMs() + " ms (fence bound "
                        + fence + " ms)");
                assertThat(o.stallMs()).as("at most the write fence").isLessThan(fence + 1000);
            } else {
                assertThat(o.duringFault().getOrDefault(p2, 0L)).as("port 2 serves while port 1 is out").isPositive();
                assertThat(o.stallMs()).as("a hard loss or an ANA change costs well under a second").isLessThan(1000);
            }
        }
    }
}
