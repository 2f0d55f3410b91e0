package io.nvmpath.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.UnmatchedArgumentException;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;

/**
 * {@code nvmpath}: the command-line front end. Subcommands follow nvme-cli's names and options.
 *
 * <p>Exit codes: 0 success, 1 a failed command (NVMe status, transport, I/O), 2 bad usage. Errors are
 * one line on stderr, {@code nvmpath <command>: <what failed>}; {@code -v} adds the stack trace and
 * debug logging.
 */
@Command(name = "nvmpath", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "NVMe/TCP multipath gateway: host tools.",
        subcommands = {DiscoverCommand.class, IdCtrlCommand.class, IdNsCommand.class, AnaLogCommand.class,
                ReadCommand.class, WriteCommand.class, FlushCommand.class, TargetCommand.class,
                BenchCommand.class, ServeCommand.class, CheckConfigCommand.class, ListSubsysCommand.class})
public final class Main {
    static final int EXIT_FAILURE = 1;
    static final int EXIT_USAGE = 2;

    /** The command line's log level (-v sets debug); a command without one logs warnings and errors. */
    static final String LOG_LEVEL_PROPERTY = "nvmpath.log.level";

    /** Inherited by every subcommand; set from the parse result wherever it was given. */
    @Option(names = {"-v", "--verbose"}, scope = ScopeType.INHERIT,
            description = "Debug logging, and stack traces with errors.")
    boolean verbose;

    private final PrintStream out;
    private final PrintStream err;

    private Main(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs one command line and returns its exit code; never exits the JVM. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Main main = new Main(out, err);
        CommandLine cmd = new CommandLine(main)
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setOut(new PrintWriter(out, true, StandardCharsets.UTF_8))
                .setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        cmd.setExecutionStrategy(main::execute)
                .setParameterExceptionHandler(main::usageError)
                .setExecutionExceptionHandler((e, c, parsed) -> main.failure(e, c));
        int code = cmd.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    /** Data output of subcommands (stdout). */
    PrintStream out() {
        return out;
    }

    /** Messages (stderr). */
    PrintStream err() {
        return err;
    }

    /** Sets the log level (debug with -v), then runs the command. */
    private int execute(ParseResult parsed) {
        for (ParseResult p = parsed; p != null; p = p.subcommand()) {
            verbose |= p.hasMatchedOption("--verbose");
        }
        if (verbose) {
            System.setProperty(LOG_LEVEL_PROPERTY, "debug");
        }
        io.nvmpath.server.log.LogLevel.set(System.getProperty(LOG_LEVEL_PROPERTY, "warn"));
        return new CommandLine.RunLast().execute(parsed);
    }

    private int usageError(ParameterException e, String[] args) {
        CommandLine c = e.getCommandLine();
        err.println(prefix(c) + e.getMessage());
        if (!UnmatchedArgumentException.printSuggestions(e, err)) {
            err.println("Try '" + c.getCommandSpec().qualifiedName() + " --help' for more information.");
        }
        if (verbose || hasVerboseFlag(args)) {
            e.printStackTrace(err);
        }
        return EXIT_USAGE;
    }

    private int failure(Exception e, CommandLine c) {
        Throwable cause = Failures.unwrap(e);
        err.println(prefix(c) + Failures.message(cause));
        if (verbose) {
            cause.printStackTrace(err);
        }
        return EXIT_FAILURE;
    }

    private static String prefix(CommandLine c) {
        return c.getCommandSpec().qualifiedName() + ": ";
    }

    private static boolean hasVerboseFlag(String[] args) {
        for (String a : args) {
            if (a.equals("--")) {
                return false;
            }
            if (a.equals("-v") || a.equals("--verbose")) {
                return true;
            }
        }
        return false;
    }

    /** The version in the jar's manifest (Implementation-Version), else the build's. */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"nvmpath " + (v != null ? v : "0.1.0-SNAPSHOT")};
        }
    }
}
