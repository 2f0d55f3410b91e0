package io.nvmpath.server.cli;

import picocli.CommandLine.Command;

/** {@code nvmpath target status}: the ports and controllers of a running target. */
@Command(name = "status",
        description = "Show the ports of a running target (address, ANA states, fault, connections) and the "
                + "controllers hosts have created.")
final class TargetStatusCommand extends TargetAdminCommand {
    @Override
    void run(AdminClient client) {
        print(TargetRender.status(client.get("/api/v1/target")));
    }
}
