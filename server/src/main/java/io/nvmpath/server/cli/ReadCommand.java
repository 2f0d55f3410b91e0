package io.nvmpath.server.cli;

import io.nvmpath.fabric.host.Controller;
import picocli.CommandLine.Command;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;

/** {@code nvmpath read}: blocks of a namespace to a file or stdout. */
@Command(name = "read", mixinStandardHelpOptions = true,
        description = {"Read blocks into --data FILE, or to stdout (the summary then goes to stderr).",
                "Commands of at most min(MDTS, 1 MiB) each, 16 in flight."})
final class ReadCommand extends BlockCommand {
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
            result = BlockTransfer.read(c, range, out());
            out().flush();
            err().print(summary("read", c.cntlid(), range, result).text());
        } else {
            try (OutputStream file = new BufferedOutputStream(Files.newOutputStream(data), 1 << 20)) {
                result = BlockTransfer.read(c, range, file);
            }
            print(summary("read", c.cntlid(), range, result));
        }
    }
}
