package io.nvmpath.multipath;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.LongSupplier;

/**
 * The controllers of one NVM subsystem (linked by subsystem NQN) and the namespace heads they share,
 * with the subsystem's iopolicy and preferred path.
 */
public final class MultipathSubsystem {
    /**
     * A path that was not joined to its head, and why.
     *
     * @param path the refused path ({@link PathId#toString()})
     */
    public record RefusedPath(String path, int nsid, String reason) {
    }

    /** A refusal and the path it is about. */
    private record Refusal(PathId id, RefusedPath view) {
    }

    private final String nqn;
    private final Multipath manager;
    final Map<Integer, NamespaceHead> heads = new ConcurrentSkipListMap<>();
    final List<PathIo> controllers = new CopyOnWriteArrayList<>();
    private final List<Refusal> refused = new CopyOnWriteArrayList<>();
    private volatile IoPolicy ioPolicy;
    private volatile WriteFailover writeFailover;
    private final WriteFences fences;
    private final FailoverLog failoverLog;
    private volatile String preferredPath;

    MultipathSubsystem(String nqn, MultipathOptions options, Multipath manager, ScheduledExecutorService exec,
                       LongSupplier clock, FailoverLog failoverLog) {
        this.failoverLog = failoverLog;
        this.nqn = nqn;
        this.ioPolicy = options.ioPolicy();
        this.writeFailover = options.writeFailover();
        this.manager = manager;
        this.fences = new WriteFences(this, options, exec, clock);
    }

    public String nqn() {
        return nqn;
    }

    public IoPolicy ioPolicy() {
        return ioPolicy;
    }

    public WriteFailover writeFailover() {
        return writeFailover;
    }

    /** Switches the write failover; applies to writes lost from now on. */
    public void writeFailover(WriteFailover w) {
        this.writeFailover = w;
    }

    WriteFences fences() {
        return fences;
    }

    FailoverLog failoverLog() {
        return failoverLog;
    }

    /** Switches the iopolicy; takes effect with the next I/O (the manager re-evaluates the heads). */
    public void ioPolicy(IoPolicy p) {
        this.ioPolicy = p;
    }

    /**
     * Paths through the portal at {@code address} ({@code traddr:trsvcid}) take the I/O while one of
     * them is usable and not held back, whatever the iopolicy; null clears. Takes effect when the
     * manager re-evaluates the heads.
     *
     * @throws IllegalArgumentException when {@code address} is not {@code traddr:trsvcid}
     */
    public void preferredPath(String address) {
        this.preferredPath = address == null ? null : PathId.portalAddress(address);
    }

    /** The preferred portal address, or null. */
    public String preferredPath() {
        return preferredPath;
    }

    public List<NamespaceHead> heads() {
        return List.copyOf(heads.values());
    }

    public NamespaceHead head(int nsid) {
        return heads.get(nsid);
    }

    /** Records a refusal, replacing an earlier one for the same address and NSID (rescans, reconnects). */
    void refuse(PathId path, int nsid, String reason) {
        refused.removeIf(x -> x.view().nsid() == nsid && x.id().at(path.address()));
        refused.add(new Refusal(path, new RefusedPath(path.toString(), nsid, reason)));
    }

    /** Forgets the refusals of paths through {@code address}: its controller is gone. */
    void forgetRefusals(String address) {
        refused.removeIf(x -> x.id().at(address));
    }

    public List<RefusedPath> refusedPaths() {
        return refused.stream().map(Refusal::view).toList();
    }

    public List<PathIo> controllers() {
        return List.copyOf(controllers);
    }

    /** A snapshot for the API. */
    public MultipathView.Subsystem view() {
        return new MultipathView.Subsystem(nqn, ioPolicy.label(), preferredPath, writeFailover.label(),
                heads().stream().map(NamespaceHead::view).toList(), refusedPaths());
    }

    /** An ANA error status came back through {@code p}: the manager re-reads that controller's ANA log. */
    void anaErrorSeen(Path p) {
        if (manager != null) {
            manager.anaErrorSeen(p.io);
        }
    }
}
