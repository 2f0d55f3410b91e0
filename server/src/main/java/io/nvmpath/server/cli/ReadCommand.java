package io.nvmpath.server.cli;

import io.nvmpath.fabric.host.Controller;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** {@code nvmpath read}: blocks of a namespace to a file or stdout. */
@Command(name = "read",
        description = {"Read blocks into --data FILE, or to stdout (the summary then goes to stderr).",
                "Commands of at most min(MDTS, 1 MiB) each, 16 in flight."})
final class ReadCommand extends BlockCommand {
    @Option(names = {"-d", "--data"}, paramLabel = "FILE",
            description = "File to store the data in, created or truncated (default: stdout).")
    Path data;

    @Override
    void validate() {
        super.validate();
        Usage.check(cmd(), data != null || outputFormat != OutputFormat.json,
                "-o json needs --data FILE: without it the data itself goes to stdout");
    }

    @Override
    void run(Controller c) throws IOException {
        int lbaSize = lbaSize(c);
        BlockTransfer.Range range = range(blockCount != null ? blockCount : 1, lbaSize);
        BlockTransfer.Result result;
        if (data == null) {
            result = BlockTransfer.read(c, range, new StdoutSink(out()));
            err().print(summary("read", c.cntlid(), range, result).text());
        } else {
            try (OutputStream file = new BufferedOutputStream(Files.newOutputStream(data), 1 << 20)) {
                result = BlockTransfer.read(c, range, file);
            }
            print(summary("read", c.cntlid(), range, result));
        }
    }

    /**
     * Stdout for data: a PrintStream swallows write errors, so a closed pipe ({@code | head}) would go
     * unnoticed and the read would carry on; this turns the error flag back into an exception.
     */
    private static final class StdoutSink extends FilterOutputStream {
        private final PrintStream ps;

        StdoutSink(PrintStream ps) {
            super(ps);
            this.ps = ps;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            ps.write(b, off, len);
            check();
        }

        @Override
        public void write(int b) throws IOException {
            ps.write(b);
            check();
        }

        @Override
        public void flush() throws IOException {
            check();
        }

        private void check() throws IOException {
            if (ps.checkError()) {
                throw new IOException("cannot write the data to stdout (closed pipe?)");
            }
        }
    }
}
