package io.nvmpath.server.cli;

import io.nvmpath.fabric.host.Controller;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** {@code nvmpath write}: a file onto blocks of a namespace. */
@Command(name = "write",
        description = {"Write --data FILE to blocks; the file holds exactly --block-count blocks, or, without "
                + "--block-count, a whole number of blocks.",
                "Commands of at most min(MDTS, 1 MiB) each, 16 in flight."})
final class WriteCommand extends BlockCommand {
    @Option(names = {"-d", "--data"}, paramLabel = "FILE", required = true,
            description = "File holding the data: --block-count blocks of the namespace's LBA size.")
    Path data;

    @Option(names = "--fua", description = "Force Unit Access: each write reaches non-volatile media before it completes.")
    boolean fua;

    @Override
    void validate() {
        super.validate();
        Usage.check(cmd(), Files.isRegularFile(data) && Files.isReadable(data),
                "--data " + data + " is not a readable file");
    }

    @Override
    void run(Controller c) throws IOException {
        int lbaSize = lbaSize(c);
        try (FileChannel file = FileChannel.open(data, StandardOpenOption.READ)) {
            long size = file.size();
            long count;
            if (blockCount != null) {
                Usage.check(cmd(), size % lbaSize == 0 && size / lbaSize == blockCount, "--data " + data + " holds "
                        + size + " bytes, not " + blockCount + " blocks of " + lbaSize + " bytes");
                count = blockCount;
            } else {
                Usage.check(cmd(), size > 0 && size % lbaSize == 0, "--data " + data + " holds " + size
                        + " bytes, not a whole number of " + lbaSize + "-byte blocks");
                count = size / lbaSize;
            }
            BlockTransfer.Range range = range(count, lbaSize);
            print(summary("write", c.cntlid(), range, BlockTransfer.write(c, range, file, fua)));
        }
    }
}
