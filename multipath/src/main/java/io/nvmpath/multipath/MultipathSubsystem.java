package io.nvmpath.multipath;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The controllers of one NVM subsystem (linked by subsystem NQN) and the namespace heads they share,
 * with the subsystem's iopolicy and preferred path.
 */
public final class MultipathSubsystem {
    /** A path that was not joined to its head, and why. */
    public record RefusedPath(String path, int nsid, String reason) {
    }

    private final String nqn;
    private final Multipath manager;
    final Map<Integer, NamespaceHead> heads = new ConcurrentSkipListMap<>();
    final List<PathIo> controllers = new CopyOnWriteArrayList<>();
    final List<RefusedPath> refused = new CopyOnWriteArrayList<>();
    private volatile IoPolicy ioPolicy;
    private volatile String preferredPath;

    MultipathSubsystem(String nqn, IoPolicy ioPolicy, Multipath manager) {
        this.nqn = nqn;
        this.ioPolicy = ioPolicy;
        this.manager = manager;
    }

    public String nqn() {
        return nqn;
    }

    public IoPolicy ioPolicy() {
        return ioPolicy;
    }

    /** Switches the iopolicy; takes effect with the next I/O. */
    public void ioPolicy(IoPolicy p) {
        this.ioPolicy = p;
        for (NamespaceHead h : heads.values()) {
            h.pathsChanged();
        }
    }

    /** Paths whose controller name starts with {@code pathName} are preferred when usable; null clears. */
    public void preferredPath(String pathName) {
        this.preferredPath = pathName;
    }

    public String preferredPath() {
        return preferredPath;
    }

    Path preferredFor(NamespaceHead h) {
        String pref = preferredPath;
        if (pref == null) {
            return null;
        }
        for (Path p : h.paths()) {
            if (p.io.name().startsWith(pref)) {
                return p;
            }
        }
        return null;
    }

    public List<NamespaceHead> heads() {
        return List.copyOf(heads.values());
    }

    public NamespaceHead head(int nsid) {
        return heads.get(nsid);
    }

    public List<RefusedPath> refusedPaths() {
        return List.copyOf(refused);
    }

    public List<PathIo> controllers() {
        return List.copyOf(controllers);
    }

    /** A snapshot for the API. */
    public MultipathView.Subsystem view() {
        return new MultipathView.Subsystem(nqn, ioPolicy.label(), preferredPath,
                heads().stream().map(NamespaceHead::view).toList(), refusedPaths());
    }

    /** An ANA error status came back through {@code p}: the manager re-reads that controller's ANA log. */
    void anaErrorSeen(Path p) {
        if (manager != null) {
            manager.anaErrorSeen(p.io);
        }
    }
}
