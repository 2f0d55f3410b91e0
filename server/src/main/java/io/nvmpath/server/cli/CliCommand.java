package io.nvmpath.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.util.concurrent.Callable;

/** What every subcommand shares: the output format, the streams, validate-then-run. */
abstract class CliCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = {"-o", "--output-format"}, paramLabel = "FORMAT", defaultValue = "normal",
            description = "Output format: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    OutputFormat outputFormat;

    @Override
    public final Integer call() throws Exception {
        validate();
        run();
        return 0;
    }

    /** Checks the options before anything is connected; throws a usage error. */
    void validate() {
    }

    abstract void run() throws Exception;

    CommandLine cmd() {
        return spec.commandLine();
    }

    PrintStream out() {
        return main.out();
    }

    PrintStream err() {
        return main.err();
    }

    /** Prints a result on stdout in the chosen format. */
    void print(Report r) {
        out().print(r.render(outputFormat));
        out().flush();
    }
}
