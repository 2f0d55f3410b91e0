package io.nvmpath.server.http;

import io.nvmpath.fabric.host.PathStats;
import io.nvmpath.multipath.FailoverLog;
import io.nvmpath.multipath.FailoverRecord;
import io.nvmpath.multipath.IoPolicy;
import io.nvmpath.multipath.MultipathSubsystem;
import io.nvmpath.multipath.MultipathView;
import io.nvmpath.multipath.WriteFailover;
import io.nvmpath.server.gateway.GatewayControl;
import io.nvmpath.server.gateway.GatewayView;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;

/**
 * A gateway for the HTTP tests: the snapshots are real {@link MultipathView} and {@link GatewayView}
 * records the test sets and changes, and the controls change them as the gateway would (an unknown
 * subsystem or iopolicy is an {@link IllegalArgumentException}; an added portal shows up in the
 * view). What it was asked to do is in {@link #calls()}.
 *
 * <p>The demo: subsystem {@link #NQN} (iopolicy numa), namespace 1 of 1 GiB in 4096-byte blocks,
 * two paths, {@code 127.0.0.1:4420 cntlid 1} optimized and {@code 127.0.0.1:4421 cntlid 2}
 * non-optimized, exported as {@code NQN/1}; portals for both ports and a discovery portal on 8009.
 */
public final class GatewayFixture implements GatewayView, GatewayControl {
    public static final String NQN = "nqn.2026-11.io.nvmpath:demo";
    public static final String EXPORT = NQN + "/1";
    public static final String OPTIMIZED = "127.0.0.1:4420";
    public static final String NON_OPTIMIZED = "127.0.0.1:4421";
    public static final long GIB = 1L << 30;

    private volatile List<MultipathView.Subsystem> subsystems;
    private volatile List<Export> exports;
    private final List<Portal> portals = new CopyOnWriteArrayList<>();
    private volatile boolean serving = true;
    private volatile Readiness readiness = new Readiness(true, List.of());
    /** What the next {@link #addPortal} returns; null: connected at once. */
    private volatile CompletableFuture<Void> nextConnection;
    private final List<String> calls = new CopyOnWriteArrayList<>();

    public GatewayFixture() {
        subsystems = List.of(new MultipathView.Subsystem(NQN, "numa", null, "safe", List.of(head(1,
                path(OPTIMIZED, 1, "live", "optimized", true),
                path(NON_OPTIMIZED, 2, "live", "non-optimized", true))), List.of()));
        exports = List.of(export(EXPORT, NQN, 1));
        portals.add(new Portal("direct", "127.0.0.1", 4420, NQN, "connected", null));
        portals.add(new Portal("direct", "127.0.0.1", 4421, NQN, "connected", null));
        portals.add(new Portal("discovery", "127.0.0.1", 8009, null, "connected", null));
    }

    // ---- records -----------------------------------------------------------------------------

    /** Namespace {@code nsid} of 1 GiB, 4096-byte blocks, with fixed identifiers. */
    public static MultipathView.Head head(int nsid, MultipathView.PathEntry... paths) {
        return new MultipathView.Head(nsid, String.format("%032x", 0xabcdef00L + nsid), null,
                "5f0c2a9e-0000-4000-8000-" + String.format("%012d", nsid), GIB, 4096, 0, 0, 0, 0, 0, 0, 0, 0,
                List.of(paths));
    }

    /** A path named as the multipath layer names it ({@code <address> cntlid <n>}), with no I/O yet. */
    public static MultipathView.PathEntry path(String address, int cntlid, String controllerState, String anaState,
                                               boolean usable) {
        Map<String, Long> ops = new LinkedHashMap<>();
        Map<String, Long> bytes = new LinkedHashMap<>();
        for (PathStats.Kind k : PathStats.Kind.values()) {
            ops.put(k.name().toLowerCase(), 0L);
            bytes.put(k.name().toLowerCase(), 0L);
        }
        return new MultipathView.PathEntry(address + " cntlid " + cntlid, address, cntlid, controllerState, anaState, 1, usable,
                false, false, 0, 0, 0, 0, ops, bytes, Map.of(), new long[PathStats.BUCKET_MICROS.length], 0, 250);
    }

    /** The path with I/O: {@code reads} of 4 KiB, {@code writes} of 8 KiB, a latency histogram, errors. */
    public static MultipathView.PathEntry withIo(MultipathView.PathEntry p, long reads, long writes, long[] buckets,
                                                 long sumMicros, Map<Integer, Long> errors) {
        Map<String, Long> ops = new LinkedHashMap<>(p.ops());
        Map<String, Long> bytes = new LinkedHashMap<>(p.bytes());
        ops.put("read", reads);
        ops.put("write", writes);
        bytes.put("read", reads * 4096);
        bytes.put("write", writes * 8192);
        return new MultipathView.PathEntry(p.name(), p.address(), p.cntlid(), p.controllerState(), p.anaState(), p.anaGroup(), p.usable(),
                p.heldBack(), p.marginal(), 3, 2, 1, 7, ops, bytes, errors, buckets.clone(), sumMicros, p.keepAliveRttMicros());
    }

    /** The path in another controller and ANA state. */
    public static MultipathView.PathEntry withState(MultipathView.PathEntry p, String controllerState, String anaState,
                                                    boolean usable, boolean held, boolean marginal) {
        return new MultipathView.PathEntry(p.name(), p.address(), p.cntlid(), controllerState, anaState, p.anaGroup(), usable, held, marginal,
                p.inFlight(), p.failures(), p.marginalHolds(), p.failoversFrom(), p.ops(), p.bytes(), p.errors(),
                p.latencyBuckets(), p.latencySumMicros(), p.keepAliveRttMicros());
    }

    /** An export of namespace {@code nsid} with some traffic: 10 reads, 5 writes, one EIO. */
    public static Export export(String name, String subnqn, int nsid) {
        Map<String, Long> requests = new LinkedHashMap<>();
        requests.put("read", 10L);
        requests.put("write", 5L);
        Map<String, Long> bytes = new LinkedHashMap<>();
        bytes.put("read", 40960L);
        bytes.put("write", 20480L);
        return new Export(name, List.of("demo"), subnqn, nsid, GIB, 4096, false, true, 2, 3, 1, requests, bytes,
                Map.of("EIO", 1L));
    }

    // ---- changing the snapshot ---------------------------------------------------------------

    public void subsystems(List<MultipathView.Subsystem> s) {
        subsystems = List.copyOf(s);
    }

    public void exports(List<Export> e) {
        exports = List.copyOf(e);
    }

    public void readiness(Readiness r) {
        readiness = r;
    }

    public void serving(boolean s) {
        serving = s;
    }

    /** Replaces the path named {@code address cntlid n} in every head of every subsystem. */
    public void changePath(String address, UnaryOperator<MultipathView.PathEntry> change) {
        changeHeads(h -> {
            List<MultipathView.PathEntry> ps = new ArrayList<>();
            for (MultipathView.PathEntry p : h.paths()) {
                ps.add(p.address().equals(address) ? change.apply(p) : p);
            }
            return withPaths(h, ps);
        });
    }

    /** Takes the path away from every head, as when its controller is deleted. */
    public void removePath(String address) {
        changeHeads(h -> withPaths(h, h.paths().stream()
                .filter(p -> !p.address().equals(address)).toList()));
    }

    public void changeHeads(UnaryOperator<MultipathView.Head> change) {
        List<MultipathView.Subsystem> out = new ArrayList<>();
        for (MultipathView.Subsystem s : subsystems) {
            out.add(new MultipathView.Subsystem(s.nqn(), s.ioPolicy(), s.preferredPath(), s.writeFailover(),
                    s.heads().stream().map(change).toList(), s.refused()));
        }
        subsystems = out;
    }

    public static MultipathView.Head withPaths(MultipathView.Head h, List<MultipathView.PathEntry> paths) {
        return new MultipathView.Head(h.nsid(), h.nguid(), h.eui64(), h.uuid(), h.sizeBytes(), h.lbaSize(),
                h.queuedIos(), h.queuedBytes(), h.noPathWaits(), h.noPathFailures(), h.failovers(), h.retries(),
                h.fencedIos(), h.fencedWrites(), List.copyOf(paths));
    }

    /** The head with requests queued for want of a path and the counters of the dispositions. */
    public static MultipathView.Head withQueue(MultipathView.Head h, int queued, long queuedBytes) {
        return new MultipathView.Head(h.nsid(), h.nguid(), h.eui64(), h.uuid(), h.sizeBytes(), h.lbaSize(), queued,
                queuedBytes, 11, 1, 4, 6, h.fencedIos(), h.fencedWrites(), h.paths());
    }

    /** The future the next {@link #addPortal} returns, instead of connecting at once. */
    public void nextConnection(CompletableFuture<Void> f) {
        nextConnection = f;
    }

    /** The control calls made, in order: {@code "iopolicy <nqn> <policy>"}, {@code "add-portal ..."}... */
    public List<String> calls() {
        return calls;
    }

    // ---- GatewayView -------------------------------------------------------------------------

    @Override
    public List<MultipathView.Subsystem> subsystems() {
        return subsystems;
    }

    private volatile List<FailoverRecord> failovers = List.of();
    private volatile List<FailoverLog.Stats> failoverStats = List.of();

    @Override
    public List<FailoverRecord> failovers() {
        return failovers;
    }

    public void failovers(List<FailoverRecord> records, List<FailoverLog.Stats> stats) {
        this.failovers = records;
        this.failoverStats = stats;
    }

    @Override
    public List<FailoverLog.Stats> failoverStats() {
        return failoverStats;
    }

    @Override
    public List<Export> exports() {
        return exports;
    }

    @Override
    public List<Portal> portals() {
        return List.copyOf(portals);
    }

    @Override
    public boolean serving() {
        return serving;
    }

    @Override
    public Readiness readiness() {
        return readiness;
    }

    // ---- GatewayControl ----------------------------------------------------------------------

    /** What {@link #reload()} does next: a result, or a thrown exception. */
    private volatile java.util.function.Supplier<io.nvmpath.server.gateway.ReloadResult> reload =
            () -> new io.nvmpath.server.gateway.ReloadResult(List.of(), List.of());

    public void onReload(java.util.function.Supplier<io.nvmpath.server.gateway.ReloadResult> r) {
        reload = r;
    }

    @Override
    public io.nvmpath.server.gateway.ReloadResult reload() {
        calls.add("reload");
        return reload.get();
    }

    @Override
    public void ioPolicy(String nqn, String policy) {
        calls.add("iopolicy " + nqn + " " + policy);
        String label = IoPolicy.fromLabel(policy).label();
        replace(nqn, s -> new MultipathView.Subsystem(s.nqn(), label, s.preferredPath(), s.writeFailover(), s.heads(), s.refused()));
    }

    @Override
    public void writeFailover(String nqn, String mode) {
        calls.add("write-failover " + nqn + " " + mode);
        String label = WriteFailover.fromLabel(mode).label();
        replace(nqn, s -> new MultipathView.Subsystem(s.nqn(), s.ioPolicy(), s.preferredPath(), label, s.heads(), s.refused()));
    }

    @Override
    public void preferredPath(String nqn, String path) {
        calls.add("preferred-path " + nqn + " " + path);
        replace(nqn, s -> new MultipathView.Subsystem(s.nqn(), s.ioPolicy(), path, s.writeFailover(), s.heads(), s.refused()));
    }

    private void replace(String nqn, UnaryOperator<MultipathView.Subsystem> change) {
        List<MultipathView.Subsystem> out = new ArrayList<>();
        boolean found = false;
        for (MultipathView.Subsystem s : subsystems) {
            found |= s.nqn().equals(nqn);
            out.add(s.nqn().equals(nqn) ? change.apply(s) : s);
        }
        if (!found) {
            throw new IllegalArgumentException("no subsystem " + nqn);
        }
        subsystems = out;
    }

    @Override
    public CompletableFuture<Void> addPortal(String traddr, int trsvcid, String subnqn) {
        calls.add("add-portal " + traddr + " " + trsvcid + " " + subnqn);
        if (find(traddr, trsvcid, subnqn) != null) {
            throw new IllegalArgumentException("portal " + traddr + ":" + trsvcid + " is there already");
        }
        String kind = subnqn == null ? "discovery" : "direct";
        CompletableFuture<Void> f = nextConnection;
        nextConnection = null;
        if (f == null) {
            portals.add(new Portal(kind, traddr, trsvcid, subnqn, "connected", null));
            return CompletableFuture.completedFuture(null);
        }
        Portal connecting = new Portal(kind, traddr, trsvcid, subnqn, "connecting", null);
        portals.add(connecting);
        // what the caller gets completes once the view shows the outcome, as the gateway's does
        return f.whenComplete((v, t) -> {
            portals.remove(connecting);
            portals.add(new Portal(kind, traddr, trsvcid, subnqn, t == null ? "connected" : "retrying",
                    t == null ? null : messageOf(t)));
        });
    }

    /** The message of a failure, under the wrapper a dependent future may put around it. */
    private static String messageOf(Throwable t) {
        return (t instanceof CompletionException && t.getCause() != null ? t.getCause() : t).getMessage();
    }

    @Override
    public boolean removePortal(String traddr, int trsvcid, String subnqn) {
        calls.add("remove-portal " + traddr + " " + trsvcid + " " + subnqn);
        Portal p = find(traddr, trsvcid, subnqn);
        return p != null && portals.remove(p);
    }

    private Portal find(String traddr, int trsvcid, String subnqn) {
        return portals.stream().filter(p -> p.traddr().equals(traddr) && p.trsvcid() == trsvcid
                && Objects.equals(p.subnqn(), subnqn)).findFirst().orElse(null);
    }

    /** A refused path, for {@link MultipathView.Subsystem#refused()}. */
    public static MultipathSubsystem.RefusedPath refused(String path, int nsid, String reason) {
        return new MultipathSubsystem.RefusedPath(path, nsid, reason);
    }
}
