package io.nvmpath.server.cli;

import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.NvmeException;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.NamespaceIds;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code nvmpath id-ns}: Identify Namespace and the Namespace Identification Descriptors
 * ({@code nvme id-ns} and {@code nvme ns-descs}).
 */
@Command(name = "id-ns",
        description = "Send Identify Namespace and Identify Namespace Identification Descriptors; print both.")
final class IdNsCommand extends SubsystemCommand {
    @Option(names = "--nsid", paramLabel = "NSID", defaultValue = "1", description = "Namespace ID (default: ${DEFAULT-VALUE}).")
    long nsid;

    @Override
    void validate() {
        super.validate();
        Usage.nsid(cmd(), nsid, true);
    }

    @Override
    void run(Controller c) {
        int id = (int) nsid;
        IdentifyNamespace ns = Failures.await(c.identifyNamespace(id), Session.ADMIN_SECONDS, "Identify Namespace");
        NamespaceIds ids = null;
        String idsFailure = null;
        try {
            ids = Failures.await(c.namespaceIds(id), Session.ADMIN_SECONDS, "Namespace Identification Descriptors");
        } catch (NvmeException e) {
            // older controllers reject CNS 03h; Identify Namespace still stands on its own
            idsFailure = e.getMessage();
        }
        print(Render.idNs(nsid, c.cntlid(), ns, ids, idsFailure));
    }
}
