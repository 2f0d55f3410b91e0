package io.nvmpath.target;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerListener;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.AsyncEvent;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.testing.ManualScheduler;
import io.nvmpath.target.config.TargetConfig;
import io.nvmpath.target.config.TargetConfig.NamespaceConfig;
import io.nvmpath.target.config.TargetConfig.PortConfig;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Rapid Path Failure Recovery as a host sees it through the project's own host, in-process: what
 * Identify Controller reports (CQT, CIU, CIRN, CCRL), and Cross-Controller Reset (admin 38h) with its
 * log and notice. The target's timers run on a manual clock.
 */
class CrossControllerResetTest {
    static final String SUB = "nqn.2026-11.test:ccr";
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
        return Controller.connect(new TransportAddress("127.0.0.1", target.port(port)), SUB,
                new ControllerOptions().ioQueues(1), loops, ls).get(WAIT_SECONDS, TimeUnit.SECONDS);
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
}
