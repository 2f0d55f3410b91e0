package io.nvmpath.server.cli;

import io.nvmpath.fabric.host.Controller;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code nvmpath ana-log}: the Asymmetric Namespace Access log as this controller reports it. */
@Command(name = "ana-log",
        description = "Read the ANA log page (LID 0Ch) and print it, with the controller that answered.")
final class AnaLogCommand extends SubsystemCommand {
    @Option(names = "--groups-only", description = "RGO: ask for the group descriptors without their NSID lists.")
    boolean groupsOnly;

    @Override
    void run(Controller c) {
        print(Render.anaLog(c.cntlid(), c.subsystemNqn(),
                Failures.await(c.anaLog(groupsOnly), Session.ADMIN_SECONDS, "Get Log Page ANA")));
    }
}
