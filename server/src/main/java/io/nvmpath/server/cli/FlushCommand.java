package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Controller;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code nvmpath flush}: one Flush for a namespace. */
@Command(name = "flush",
        description = "Send Flush: commit the namespace's volatile write cache to media.")
final class FlushCommand extends SubsystemCommand {
    @Option(names = "--nsid", paramLabel = "NSID", defaultValue = "1",
            description = "Namespace ID; 4294967295 (FFFFFFFFh) flushes all (default: ${DEFAULT-VALUE}).")
    long nsid;

    @Override
    void validate() {
        super.validate();
        Usage.nsid(cmd(), nsid, true);
    }

    @Override
    int eventLoops() {
        return 2;
    }

    @Override
    void run(Controller c) {
        long start = System.nanoTime();
        Failures.await(c.io(Commands.flush((int) nsid), "Flush of namespace " + nsid), BlockTransfer.IO_SECONDS,
                "Flush");
        double seconds = (System.nanoTime() - start) / 1e9;
        ObjectNode json = Report.object();
        json.put("command", "flush");
        json.put("nsid", nsid);
        json.put("cntlid", c.cntlid());
        json.put("seconds", seconds);
        print(new Report(json, String.format("NVMe Flush: success (nsid %d, controller %d, %.3f s)%n", nsid,
                c.cntlid(), seconds)));
    }
}
