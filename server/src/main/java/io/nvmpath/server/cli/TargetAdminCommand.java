package io.nvmpath.server.cli;

import io.nvmpath.target.config.TargetConfig;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.concurrent.Callable;

/**
 * What the {@code nvmpath target} subcommands share: the admin endpoint they talk to, and what
 * {@link CliCommand} gives top-level commands (output format, streams, validate-then-run). Not a
 * {@link CliCommand} itself because picocli injects the parent command, here {@link TargetCommand}.
 */
abstract class TargetAdminCommand implements Callable<Integer> {
    static final String DEFAULT_ADMIN = "http://127.0.0.1:" + TargetConfig.DEFAULT_ADMIN_PORT;

    @ParentCommand
    TargetCommand parent;

    @Spec
    CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = {"-o", "--output-format"}, paramLabel = "FORMAT", defaultValue = "normal",
            description = "Output format: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    OutputFormat outputFormat;

    @Option(names = "--admin", paramLabel = "URL", defaultValue = DEFAULT_ADMIN,
            description = "The target's admin endpoint (default: ${DEFAULT-VALUE}).")
    String admin;

    private URI adminUri;

    @Override
    public final Integer call() throws Exception {
        validate();
        try (AdminClient client = new AdminClient(adminUri)) {
            run(client);
        }
        return 0;
    }

    /** Checks the options before anything is sent; throws a usage error. */
    void validate() {
        String url = admin.endsWith("/") ? admin.substring(0, admin.length() - 1) : admin;
        try {
            adminUri = new URI(url);
        } catch (URISyntaxException e) {
            throw new CommandLine.ParameterException(cmd(), "--admin '" + admin + "' is not a URL");
        }
        Usage.check(cmd(), ("http".equals(adminUri.getScheme()) || "https".equals(adminUri.getScheme()))
                && adminUri.getHost() != null, "--admin must be an http:// URL like " + DEFAULT_ADMIN + ", not '"
                + admin + "'");
    }

    abstract void run(AdminClient client) throws Exception;

    CommandLine cmd() {
        return spec.commandLine();
    }

    PrintStream out() {
        return parent.main.out();
    }

    /** Prints a result on stdout in the chosen format. */
    void print(Report r) {
        out().print(r.render(outputFormat));
        out().flush();
    }

    /** {@code --port}: a port ID or TCP port number, both 1..65535. */
    void checkPort(int port) {
        Usage.check(cmd(), port >= 1 && port <= 65535, "--port must be a port ID or TCP port 1..65535, not " + port);
    }
}
