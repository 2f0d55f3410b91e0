package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import picocli.CommandLine.Option;

/** The options of {@code read} and {@code write}: which namespace, which blocks, which file. */
abstract class BlockCommand extends SubsystemCommand {
    @Option(names = "--nsid", paramLabel = "NSID", defaultValue = "1", description = "Namespace ID (default: ${DEFAULT-VALUE}).")
    long nsid;

    @Option(names = "--start-block", paramLabel = "LBA", defaultValue = "0",
            description = "First logical block (default: ${DEFAULT-VALUE}).")
    long startBlock;

    @Option(names = "--block-count", paramLabel = "N",
            description = "Number of blocks, counted from 1 (unlike nvme-cli's 0's based -c).")
    Long blockCount;

    @Override
    void validate() {
        super.validate();
        Usage.nsid(cmd(), nsid, false);
        Usage.check(cmd(), startBlock >= 0, "--start-block must be 0 or more, not " + startBlock);
        Usage.check(cmd(), blockCount == null || blockCount >= 1,
                "--block-count must be at least 1 (it counts blocks from 1), not " + blockCount);
    }

    @Override
    int eventLoops() {
        return 2;
    }

    /** The namespace's logical block size, from Identify Namespace. */
    int lbaSize(Controller c) {
        IdentifyNamespace ns = Failures.await(c.identifyNamespace((int) nsid), Session.ADMIN_SECONDS,
                "Identify Namespace");
        if (!ns.active()) {
            throw new Failures.CliException("namespace " + nsid + " is not active on controller " + c.cntlid()
                    + " (Identify Namespace returned zeroes)");
        }
        return ns.lbaSize();
    }

    /** A range that does not run past LBA 2^64 - 1. */
    BlockTransfer.Range range(long count, int lbaSize) {
        Usage.check(cmd(), Long.compareUnsigned(startBlock + count - 1, startBlock) >= 0,
                "--start-block " + startBlock + " plus " + count + " blocks runs past the last possible LBA");
        return new BlockTransfer.Range((int) nsid, startBlock, count, lbaSize);
    }

    /** "read: Success, ..." with the numbers that tell whether it went as asked. */
    static Report summary(String op, int cntlid, BlockTransfer.Range range, BlockTransfer.Result r) {
        double seconds = r.nanos() / 1e9;
        ObjectNode json = Report.object();
        json.put("command", op);
        json.put("nsid", range.nsid() & 0xFFFFFFFFL);
        json.put("cntlid", cntlid);
        json.put("startBlock", range.startBlock());
        json.put("blocks", r.blocks());
        json.put("bytes", r.bytes());
        json.put("lbaSize", range.lbaSize());
        json.put("commands", r.commands());
        json.put("seconds", seconds);
        String text = String.format("%s: Success, %d blocks (%d bytes) at LBA %d of namespace %d via controller %d, "
                        + "%d commands in %.3f s (%.1f MiB/s)%n", op, r.blocks(), r.bytes(), range.startBlock(),
                range.nsid() & 0xFFFFFFFFL, cntlid, r.commands(), seconds,
                seconds > 0 ? r.bytes() / seconds / (1 << 20) : 0.0);
        return new Report(json, text);
    }
}
