package io.nvmpath.multipath;

import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.nvme.AnaLog;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.NamespaceIds;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Reads a controller's active namespaces, their identity and identifiers and its ANA log, then joins
 * each namespace to its head: a new head for a new NSID, a path on the existing head when the
 * identifiers and format agree and the namespace is shared, a refusal (logged, listed) otherwise.
 * Namespaces the controller no longer reports leave their heads. The join runs on the management
 * executor.
 */
final class NamespaceScan {
    private static final Logger log = LoggerFactory.getLogger(NamespaceScan.class);

    /** One namespace as a controller reports it. */
    private record Found(int nsid, IdentifyNamespace identity, NamespaceIds ids) {
    }

    private final Multipath manager;

    NamespaceScan(Multipath manager) {
        this.manager = manager;
    }

    /** Scans {@code cio}; the future completes once its paths are joined. */
    CompletableFuture<Void> scan(ControllerPathIo cio) {
        Controller c = cio.controller();
        CompletableFuture<List<Found>> namespaces = c.activeNamespaces().thenCompose(nsids -> {
            List<CompletableFuture<Found>> all = new ArrayList<>();
            for (int nsid : nsids) {
                all.add(c.identifyNamespace(nsid).thenCombine(c.namespaceIds(nsid), (ns, ids) -> new Found(nsid, ns, ids)));
            }
            return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new))
                    .thenApply(v -> all.stream().map(CompletableFuture::join).toList());
        });
        return namespaces.thenCombine(c.anaLog(false), (found, ana) -> (Runnable) () -> attach(cio, found, ana))
                .thenAcceptAsync(Runnable::run, manager.executor());
    }

    private void attach(ControllerPathIo cio, List<Found> found, AnaLog ana) {
        MultipathSubsystem s = manager.owner(cio);
        if (s == null) {
            return;
        }
        Set<Integer> present = new HashSet<>();
        for (Found f : found) {
            present.add(f.nsid());
            join(s, cio, f, ana);
        }
        for (NamespaceHead h : s.heads()) {
            if (!present.contains(h.nsid)) {
                for (Path p : h.paths()) {
                    if (p.io == cio) {
                        h.removePath(p);
                        log.info("{} nsid {}: path {} removed (namespace gone)", s.nqn(), h.nsid, cio.name());
                    }
                }
                manager.headMayGo(s, h);
            }
        }
    }

    private void join(MultipathSubsystem s, ControllerPathIo cio, Found f, AnaLog ana) {
        int nsid = f.nsid();
        IdentifyNamespace ns = f.identity();
        NamespaceHead head = s.heads.get(nsid);
        Path existing = head == null ? null : head.paths().stream().filter(p -> p.io == cio).findFirst().orElse(null);
        if (existing != null) {
            manager.ana().apply(existing, ana, true); // reconnect or rescan: the ANA state may have moved meanwhile
            head.pathsChanged();
            return;
        }
        boolean created = head == null;
        if (created) {
            head = manager.newHead(s, nsid, f.ids(), ns);
            log.info("{}: namespace head {} ({} MiB, {} B blocks, {})", s.nqn(), nsid, ns.sizeBytes() >> 20,
                    ns.lbaSize(), f.ids());
        } else {
            String refusal = refusal(head, cio.controller().identity(), f);
            if (refusal != null) {
                log.error("{} nsid {}: path {} refused: {}", s.nqn(), nsid, cio.name(), refusal);
                s.refuse(cio.id(), nsid, refusal);
                return;
            }
        }
        Path p = new Path(cio, nsid, (int) ns.anagrpid(), manager.options().marginalFailures(), manager.clock());
        manager.ana().apply(p, ana, false); // the "added" line below states it
        head.addPath(p);
        log.info("{} nsid {}: path {} added ({})", s.nqn(), nsid, cio.name(), p.anaState().label());
        if (created) {
            manager.headAdded(head);
        }
    }

    /** Why a namespace may not join {@code head} as another path, or null when it may. */
    private static String refusal(NamespaceHead head, IdentifyController id, Found f) {
        IdentifyNamespace ns = f.identity();
        if (!head.ids.equals(f.ids())) {
            return "identifiers differ: head has " + head.ids + ", this path reports " + f.ids();
        }
        if (head.lbaSize != ns.lbaSize() || head.blocks != ns.nsze()) {
            return "format differs: head " + head.blocks + " x " + head.lbaSize + " B, path " + ns.nsze() + " x "
                    + ns.lbaSize() + " B";
        }
        if (!ns.shared() || (id != null && !id.multiController())) {
            return "not shared (NMIC " + ns.nmic() + ", CMIC " + (id == null ? "?" : id.cmic())
                    + ") but seen through several controllers";
        }
        return null;
    }
}
