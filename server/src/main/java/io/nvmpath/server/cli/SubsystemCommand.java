package io.nvmpath.server.cli;

import io.nvmpath.fabric.host.Controller;
import picocli.CommandLine.Mixin;

/** A command run against one controller of an NVM subsystem: connect, work, shut down. */
abstract class SubsystemCommand extends CliCommand {
    @Mixin
    TargetOptions target;

    @Mixin
    HostOptions host;

    @Override
    void validate() {
        target.validate(cmd());
    }

    @Override
    final void run() throws Exception {
        try (Session s = Session.connect(target.address(), target.nqn, host.toControllerOptions(), eventLoops())) {
            run(s.controller());
        }
    }

    /** 1 for admin commands; I/O commands take 2 so the I/O queue has a loop of its own. */
    int eventLoops() {
        return 1;
    }

    abstract void run(Controller c) throws Exception;
}
