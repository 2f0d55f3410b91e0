package io.nvmpath.server.cli;

import io.nvmpath.config.ConfigException;
import io.nvmpath.target.config.ConfigLoader;
import io.nvmpath.target.config.TargetConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * {@code nvmpath target}: runs the project's NVMe/TCP target in the foreground until SIGINT or
 * SIGTERM; its subcommands change a running one through the admin endpoint.
 *
 * <p>A configuration that does not load or validate is a usage error (exit 2) naming the field; a
 * listener that cannot be bound is a failure (exit 1) naming the address.
 */
@Command(name = "target",
        description = {"Run the NVMe/TCP target of this project (for tests, demos and failover drills) until "
                + "interrupted, and its HTTP admin endpoint when the configuration has one.",
                "Without --config: the demo, subsystem " + TargetConfig.DEMO_NQN + " with a 1 GiB namespace "
                        + "on 127.0.0.1 ports 4420 (optimized) and 4421 (non-optimized), discovery 8009, admin "
                        + TargetConfig.DEFAULT_ADMIN_PORT + "."},
        subcommands = {TargetAnaStateCommand.class, TargetFaultCommand.class, TargetCutCommand.class,
                TargetStatusCommand.class})
final class TargetCommand extends CliCommand {
    @Option(names = {"-c", "--config"}, paramLabel = "FILE",
            description = "YAML configuration: subsystems, namespaces, ports, ANA states, discovery, admin, limits.")
    Path config;

    private TargetConfig target;

    @Override
    void validate() {
        try {
            target = config == null ? TargetConfig.demo().validate() : ConfigLoader.load(config);
        } catch (ConfigException e) {
            throw new ParameterException(cmd(), e.getMessage());
        }
    }

    @Override
    void run() throws Exception {
        if (System.getProperty(Main.LOG_LEVEL_PROPERTY) == null) {
            // a target logs what it is told to do (ANA changes, faults): worth seeing while it runs
            io.nvmpath.server.log.LogLevel.set("info");
        }
        RunningTarget running;
        try {
            running = RunningTarget.start(target);
        } catch (ConfigException e) {
            // found only when starting: a namespace file that cannot be opened or created
            throw new ParameterException(cmd(), e.getMessage());
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            running.close();
            stopped.countDown();
        }, "nvmpath-target-shutdown");
        try {
            Runtime.getRuntime().addShutdownHook(hook);
            print(running.report());
            stopped.await();
        } finally {
            running.close();
        }
    }
}
