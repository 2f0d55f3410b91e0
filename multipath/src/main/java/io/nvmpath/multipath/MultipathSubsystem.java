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

    /** Switches the iopolicy; takes effect with the next I/O (the manager re-evaluates the heads). */
    public void ioPolicy(IoPolicy p) {
        this.ioPolicy = p;
    }

    /** The path named {@code pathName} (address, or address and CNTLID) is preferred when usable; null clears. */
    public void preferredPath(String pathName) {
        this.preferredPath = pathName;
    }

    public String preferredPath() {
        return preferredPath;
    }

    /** The preferred path among {@code paths}: its name equals the preference or starts with it and a space. */
    Path preferredFor(Path[] paths) {
        String pref = preferredPath;
        if (pref == null) {
            return null;
        }
        for (Path p : paths) {
            String name = p.io.name();
            if (name.equals(pref) || name.startsWith(pref + " ")) {
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

    /** Records a refusal, replacing an earlier one for the same address and NSID (rescans, reconnects). */
    void refuse(RefusedPath r) {
        String address = address(r.path());
        refused.removeIf(x -> x.nsid() == r.nsid() && address(x.path()).equals(address));
        refused.add(r);
    }

    /** Forgets the refusals of a controller that is gone. */
    void forgetRefusals(String pathName) {
        String address = address(pathName);
        refused.removeIf(x -> address(x.path()).equals(address));
    }

    private static String address(String pathName) {
        int i = pathName.indexOf(" cntlid");
        return i < 0 ? pathName : pathName.substring(0, i);
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
