package io.nvmpath.server.cli;

import io.nvmpath.server.gateway.GatewayConfig;
import io.nvmpath.server.gateway.GatewayConfigLoader;
import io.nvmpath.config.ConfigException;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;

/**
 * {@code nvmpath check-config FILE}: the whole gateway configuration checked as {@code serve} would
 * read it — every field, files readable, certificates loadable and matching their keys, listen ports
 * free — and what the gateway would do, printed; nothing is connected. Exit 0 when it would start, 2
 * (with the field and the reason) when not.
 */
@Command(name = "check-config",
        description = {"Check a gateway configuration without connecting anything: fields, files, TLS material "
                + "(certificates loadable, keys matching), listen ports free; print what the gateway would do.",
                "Exit 0 when the gateway would start with it, 2 when not."})
final class CheckConfigCommand extends CliCommand {
    @Parameters(index = "0", paramLabel = "FILE", description = "The gateway's YAML configuration.")
    Path file;

    private GatewayConfig config;

    @Override
    void validate() {
        try {
            config = GatewayConfigLoader.load(file);
        } catch (ConfigException e) {
            throw new ParameterException(cmd(), e.getMessage());
        }
    }

    @Override
    void run() {
        List<String> problems = ConfigPlan.problems(config);
        print(ConfigPlan.render(file, config, problems));
        if (!problems.isEmpty()) {
            throw new ParameterException(cmd(), problems.get(0));
        }
    }
}
