package io.nvmpath.server.cli;

import io.nvmpath.fabric.host.Controller;
import picocli.CommandLine.Command;

/** {@code nvmpath id-ctrl}: Identify Controller, as {@code nvme id-ctrl} prints it. */
@Command(name = "id-ctrl",
        description = "Send Identify Controller and print the result.")
final class IdCtrlCommand extends SubsystemCommand {
    @Override
    void run(Controller c) {
        print(Render.idCtrl(Failures.await(c.identifyController(), Session.ADMIN_SECONDS, "Identify Controller")));
    }
}
