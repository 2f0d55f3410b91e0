package io.nvmpath.fabric.host;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.nvmpath.fabric.nvme.AnaLog;
import io.nvmpath.fabric.nvme.ChangedNamespaces;
import io.nvmpath.fabric.nvme.CrossControllerReset;
import io.nvmpath.fabric.nvme.CrossControllerResetLog;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.NamespaceIds;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Status;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import java.util.function.Function;

import static io.nvmpath.fabric.host.CommandFutures.unwrap;

/**
 * The typed admin commands a path layer asks of a LIVE controller: Identify (controller, namespace,
 * active namespace list, namespace identification descriptors), Get Log Page (ANA, Changed
 * Namespace List, Cross-Controller Reset, or any page read in pieces the controller's MDTS allows)
 * and Cross-Controller Reset. Each is a future of the
 * parsed structure; the data buffer is released once parsed.
 *
 * <p>Any thread: commands go through the controller's admin submission, which refuses them unless LIVE.
 */
final class AdminCommands {
    /** Active NSIDs come in lists of this many per Identify CNS 02h. */
    private static final int NSIDS_PER_PAGE = 1024;

    private final Consumer<NvmeRequest> submitAdmin;
    private final Association association;

    AdminCommands(Consumer<NvmeRequest> submitAdmin, Association association) {
        this.submitAdmin = submitAdmin;
        this.association = association;
    }

    CompletableFuture<NvmeRequest> admin(NvmeRequest r, String what) {
        return CommandFutures.execute(r, what, submitAdmin);
    }

    /** Runs a command that returns data and parses it; the buffer is released after parsing. */
    private <T> CompletableFuture<T> read(NvmeRequest r, String what, Function<ByteBuf, T> parser) {
        return admin(r, what).thenApply(done -> {
            ByteBuf b = done.takeReadData();
            try {
                return parser.apply(b);
            } finally {
                b.release();
            }
        });
    }

    CompletableFuture<IdentifyController> identifyController() {
        return read(Commands.identify(Opcodes.CNS_CONTROLLER, 0, 0), "Identify Controller",
                IdentifyController::parse);
    }

    CompletableFuture<IdentifyNamespace> identifyNamespace(int nsid) {
        return read(Commands.identify(Opcodes.CNS_NAMESPACE, nsid, 0), "Identify Namespace " + nsid,
                IdentifyNamespace::parse);
    }

    CompletableFuture<List<Integer>> activeNamespaces() {
        return activeNamespacesFrom(0, new ArrayList<>());
    }

    private CompletableFuture<List<Integer>> activeNamespacesFrom(int start, List<Integer> acc) {
        return read(Commands.identify(Opcodes.CNS_ACTIVE_NSIDS, start, 0), "Identify Active Namespace List",
                b -> {
                    int last = 0;
                    for (int i = 0; i < NSIDS_PER_PAGE; i++) {
                        int id = b.getIntLE(b.readerIndex() + 4 * i);
                        if (id == 0) {
                            return -1;
                        }
                        acc.add(id);
                        last = id;
                    }
                    return last;
                }).thenCompose(last -> last > 0 && last != -1 && (last & 0xFFFFFFFFL) < 0xFFFFFFFEL
                ? activeNamespacesFrom(last, acc) : CompletableFuture.completedFuture(acc));
    }

    CompletableFuture<NamespaceIds> namespaceIds(int nsid) {
        CompletableFuture<NamespaceIds> descs = read(Commands.identify(Opcodes.CNS_NS_DESCRIPTORS, nsid, 0),
                "Identify Namespace Identification Descriptors " + nsid, NamespaceIds::parseDescriptors)
                .exceptionally(e -> {
                    // CNS 03h is optional before NVMe 1.3: fall back to Identify Namespace alone
                    if (unwrap(e) instanceof NvmeException n && !Status.isPathError(n.status())) {
                        return new NamespaceIds(null, null, null, 0);
                    }
                    throw e instanceof CompletionException c ? c : new CompletionException(e);
                });
        return descs.thenCombine(identifyNamespace(nsid), NamespaceIds::withFallback);
    }

    CompletableFuture<AnaLog> anaLog(boolean groupsOnly) {
        IdentifyController id = association.identity();
        int size = id == null ? 4096 : AnaLog.maxSize(Math.max(id.nanagrpid(), 1), groupsOnly ? 0 : Math.max(id.nn(), 1));
        size = Math.max(4096, (size + 3) & ~3);
        return readLog(Opcodes.LOG_ANA, groupsOnly ? 1 : 0, 0, size, "Get Log Page ANA").thenApply(b -> {
            try {
                return AnaLog.parse(b);
            } finally {
                b.release();
            }
        });
    }

    CompletableFuture<ByteBuf> readLog(int lid, int lsp, int nsid, int size, String what) {
        int chunk = (int) Math.min(Math.min(association.maxTransferBytes(), 1 << 20), size) & ~3;
        CompositeByteBuf all = ByteBufAllocator.DEFAULT.compositeBuffer(Integer.MAX_VALUE);
        return readLogFrom(lid, lsp, nsid, 0, size, chunk, what, all).whenComplete((b, e) -> {
            if (e != null) {
                all.release();
            }
        });
    }

    private CompletableFuture<ByteBuf> readLogFrom(int lid, int lsp, int nsid, long offset, int size, int chunk,
                                                   String what, CompositeByteBuf acc) {
        int n = (int) Math.min(chunk, size - offset);
        return admin(Commands.getLogPage(lid, lsp, false, nsid, offset, n), what).thenCompose(r -> {
            acc.addComponent(true, r.takeReadData());
            return offset + n >= size ? CompletableFuture.completedFuture((ByteBuf) acc)
                    : readLogFrom(lid, lsp, nsid, offset + n, size, chunk, what, acc);
        });
    }

    CompletableFuture<CrossControllerReset.Result> crossControllerReset(CrossControllerReset ccr) {
        return admin(Commands.crossControllerReset(ccr), "Cross-Controller Reset of controller " + ccr.icid())
                .thenApply(r -> CrossControllerReset.Result.fromDw0(r.result0()));
    }

    CompletableFuture<CrossControllerResetLog> crossControllerResetLog(boolean removeCompleted) {
        return read(Commands.crossControllerResetLog(removeCompleted), "Get Log Page Cross-Controller Reset",
                CrossControllerResetLog::parse);
    }

    CompletableFuture<ChangedNamespaces> changedNamespaces() {
        return read(Commands.getLogPage(Opcodes.LOG_CHANGED_NS, 0, false, 0xFFFFFFFF, 0, ChangedNamespaces.SIZE),
                "Get Log Page Changed Namespace List", ChangedNamespaces::parse);
    }
}
