package io.nvmpath.it.gateway;

import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.it.guest.KernelHostGuest;
import io.nvmpath.it.guest.NvmetGuest;
import io.nvmpath.it.guest.Peers;
import io.nvmpath.server.gateway.Gateway;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Linux kernel's NBD client (nbd-client, ext4) in a QEMU guest against the gateway on the host:
 * backed by the project's target, and by the Linux kernel target (nvmet in a second guest). The
 * paths fail while the guest writes; the guest must see no I/O error and find its files intact.
 */
class KernelNbdClientIT {

    @BeforeAll
    static void peers() {
        Peers.assumeGuest();
    }

    @Test
    void ext4_over_nbd_rides_out_an_ana_flip_and_a_port_down_on_the_projects_target() throws Exception {
        try (NvmeTarget target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
             GatewayFixture gw = GatewayFixture.start(List.of(
                     new GatewayFixture.Portal("127.0.0.1", target.port(1), TargetConfig.DEMO_NQN),
                     new GatewayFixture.Portal("127.0.0.1", target.port(2), TargetConfig.DEMO_NQN)), "", 2);
             KernelHostGuest guest = KernelHostGuest.start("nbd-ext4-vs-own-target",
                     Map.of(gw.nbdPort(), gw.nbdPort()))) {
            String export = Gateway.exportName(TargetConfig.DEMO_NQN, 1);
            Ext4Drill.run(guest, gw.nbdPort(), export, List.of(
                    new Ext4Drill.Fault("port 1 ANA inaccessible",
                            () -> target.setAnaState(1, 1, AnaState.INACCESSIBLE),
                            () -> target.setAnaState(1, 1, AnaState.OPTIMIZED)),
                    new Ext4Drill.Fault("port 1 down",
                            () -> target.setFault(1, new Fault.Down()),
                            () -> target.setFault(1, new Fault.None()))));
            var head = gw.gateway.multipath().head(TargetConfig.DEMO_NQN, 1).view();
            System.out.println("after the drill: " + head);
            Ext4Drill.assertIoMovedAndCameBack(head);
            assertThat(gw.gateway.view().exports().get(0).errors()).as("NBD errors").isEmpty();
        }
    }

    @Test
    void ext4_over_nbd_rides_out_an_ana_flip_and_a_port_removal_on_the_linux_kernel_target() throws Exception {
        try (NvmetGuest nvmet = NvmetGuest.start("nvmet-behind-gateway");
             GatewayFixture gw = GatewayFixture.start(List.of(
                     new GatewayFixture.Portal(nvmet.address(), nvmet.port(1), nvmet.subsystemNqn()),
                     new GatewayFixture.Portal(nvmet.address(), nvmet.port(2), nvmet.subsystemNqn())), "", 2);
             KernelHostGuest guest = KernelHostGuest.start("nbd-ext4-vs-nvmet",
                     Map.of(gw.nbdPort(), gw.nbdPort()))) {
            String export = Gateway.exportName(nvmet.subsystemNqn(), 1);
            Ext4Drill.run(guest, gw.nbdPort(), export, List.of(
                    new Ext4Drill.Fault("nvmet port 1 ANA inaccessible",
                            () -> nvmet.setAnaState(1, 1, NvmetGuest.AnaState.INACCESSIBLE),
                            () -> nvmet.setAnaState(1, 1, NvmetGuest.AnaState.OPTIMIZED)),
                    new Ext4Drill.Fault("nvmet port 1 removed",
                            () -> nvmet.removePort(1),
                            () -> nvmet.addPort(1))));
            var head = gw.gateway.multipath().head(nvmet.subsystemNqn(), 1).view();
            System.out.println("after the drill: " + head);
            Ext4Drill.assertIoMovedAndCameBack(head);
            assertThat(gw.gateway.view().exports().get(0).errors()).as("NBD errors").isEmpty();
        }
    }
}
