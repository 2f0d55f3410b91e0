package io.nvmpath.server.cli;

import io.nvmpath.fabric.host.Discovery;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.Opcodes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code nvmpath discover}: the discovery log of a discovery controller, as {@code nvme discover} prints it. */
@Command(name = "discover",
        description = "Connect to a discovery controller (" + Opcodes.DISCOVERY_NQN + ") and print its "
                + "discovery log page (LID 70h).")
final class DiscoverCommand extends CliCommand {
    @Option(names = {"-a", "--traddr"}, required = true, paramLabel = "ADDR",
            description = "Transport address of the discovery controller's port.")
    String traddr;

    @Option(names = {"-s", "--trsvcid"}, paramLabel = "PORT", defaultValue = "8009",
            description = "TCP port (default: ${DEFAULT-VALUE}).")
    int trsvcid;

    @Mixin
    HostOptions host;

    @Override
    void validate() {
        Usage.check(cmd(), trsvcid >= 1 && trsvcid <= 65535, "--trsvcid must be 1..65535, not " + trsvcid);
        Usage.check(cmd(), !traddr.isBlank(), "--traddr is empty");
    }

    @Override
    void run() {
        try (Session s = Session.connect(new TransportAddress(traddr, trsvcid), Opcodes.DISCOVERY_NQN,
                host.toControllerOptions(), 1)) {
            print(Render.discovery(Failures.await(Discovery.readLog(s.controller()),
                    Session.ADMIN_SECONDS, "the discovery log")));
        }
    }
}
