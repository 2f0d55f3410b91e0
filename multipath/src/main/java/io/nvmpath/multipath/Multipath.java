package io.nvmpath.multipath;

import io.netty.channel.EventLoopGroup;
import io.nvmpath.fabric.host.AuthenticationException;
import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AsyncEvent;
import io.nvmpath.fabric.nvme.DiscoveryLog;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.NamespaceIds;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The path layer: links controllers by subsystem NQN, keeps their namespaces' heads and every path's
 * state, and exposes the heads. Its parts: {@link Portals} (connecting, discovery, retries),
 * {@link NamespaceScan} (joining namespaces to heads), {@link AnaTracker} (ANA state); this class
 * wires them, follows controller state and removes heads.
 *
 * <p>All topology and state work runs on one management executor; the I/O path only reads the
 * heads' copy-on-write path arrays, their cached choice and the paths' volatile fields.
 */
public final class Multipath implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Multipath.class);
    private static final long TICK_MILLIS = 100;

    private final MultipathOptions options;
    private final ScheduledExecutorService exec;
    private final LongSupplier clock;
    private final Map<String, MultipathSubsystem> subsystems = new ConcurrentHashMap<>();
    private final Map<PathIo, MultipathSubsystem> owner = new ConcurrentHashMap<>();
    private final List<HeadListener> headListeners = new CopyOnWriteArrayList<>();
    private final Portals portals;
    private final NamespaceScan scan = new NamespaceScan(this);
    private final AnaTracker ana;
    private final AtomicLong ticks = new AtomicLong();
    private final FailoverLog failoverLog;
    private volatile boolean closed;

    public Multipath(MultipathOptions options, EventLoopGroup group) {
        this(options, group, System::nanoTime);
    }

    Multipath(MultipathOptions options, EventLoopGroup group, LongSupplier clock) {
        this.options = options;
        this.clock = clock;
        this.exec = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "nvmpath-multipath");
            t.setDaemon(true);
            return t;
        });
        this.portals = new Portals(this, group);
        this.failoverLog = new FailoverLog(clock);
        this.ana = new AnaTracker(this, clock);
        exec.scheduleAtFixedRate(this::tick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
    }

    public MultipathOptions options() {
        return options;
    }

    public Collection<MultipathSubsystem> subsystems() {
        return List.copyOf(subsystems.values());
    }

    public MultipathSubsystem subsystem(String nqn) {
        return subsystems.get(nqn);
    }

    /** Snapshots of every subsystem, head and path. */
    public List<MultipathView.Subsystem> view() {
        return subsystems.values().stream().map(MultipathSubsystem::view)
                .sorted(Comparator.comparing(MultipathView.Subsystem::nqn)).toList();
    }

    /** The failovers recorded (the last {@value FailoverLog#CAPACITY}), newest first. */
    public List<FailoverRecord> failovers() {
        return failoverLog.records();
    }

    /** Per subsystem and cause: how many failovers, and their stalls. */
    public List<FailoverLog.Stats> failoverStats() {
        return failoverLog.stats();
    }

    /** Sets the iopolicy of a subsystem at run time. */
    public void ioPolicy(String nqn, IoPolicy policy) {
        MultipathSubsystem s = require(nqn);
        s.ioPolicy(policy);
        exec.execute(() -> s.heads().forEach(NamespaceHead::pathsChanged));
    }

    /** Sets the write failover of a subsystem at run time; it applies to writes lost from then on. */
    public void writeFailover(String nqn, WriteFailover w) {
        require(nqn).writeFailover(w);
    }

    /**
     * Prefers the paths through the portal at {@code address} ({@code traddr:trsvcid}, e.g.
     * "10.0.0.1:4420"); null clears.
     */
    public void preferredPath(String nqn, String address) {
        MultipathSubsystem s = require(nqn);
        s.preferredPath(address);
        exec.execute(() -> s.heads().forEach(NamespaceHead::pathsChanged));
    }

    /** Manual failback: every path of the subsystem that is waiting to be used again is eligible now. */
    public void failback(String nqn) {
        exec.execute(() -> {
            for (NamespaceHead h : require(nqn).heads()) {
                for (Path p : h.paths()) {
                    p.failbackNow();
                }
                h.pathsChanged();
            }
        });
    }

    private MultipathSubsystem require(String nqn) {
        MultipathSubsystem s = subsystems.get(nqn);
        if (s == null) {
            throw new IllegalArgumentException("no subsystem " + nqn);
        }
        return s;
    }

    /** The head of {@code nsid} in {@code nqn}, or null. */
    public NamespaceHead head(String nqn, int nsid) {
        MultipathSubsystem s = subsystems.get(nqn);
        return s == null ? null : s.head(nsid);
    }

    // ---- head listeners ---------------------------------------------------------------------------

    /** Hears of heads as they appear and go, on the management executor (do not block it). */
    public interface HeadListener {
        /** A namespace head has its first path. */
        void headAdded(NamespaceHead head);

        /** A head lost its last path (after any delayed removal): it takes no more I/O. */
        void headRemoved(NamespaceHead head);
    }

    /** Adds a listener, and tells it at once of the heads that exist now. */
    public void addHeadListener(HeadListener l) {
        exec.execute(() -> {
            headListeners.add(l);
            for (MultipathSubsystem s : subsystems.values()) {
                s.heads().forEach(l::headAdded);
            }
        });
    }

    void headAdded(NamespaceHead h) {
        for (HeadListener l : headListeners) {
            try {
                l.headAdded(h);
            } catch (RuntimeException e) {
                log.error("head listener failed on {}", h, e);
            }
        }
    }

    private void headRemoved(NamespaceHead h) {
        h.gone = true;
        for (HeadListener l : headListeners) {
            try {
                l.headRemoved(h);
            } catch (RuntimeException e) {
                log.error("head listener failed on {}", h, e);
            }
        }
    }

    // ---- portals ----------------------------------------------------------------------------------

    /**
     * A portal as configured or discovered: what the operator sees of it.
     *
     * @param kind "direct", "discovered" or "discovery"
     * @param nqn the subsystem, null for a discovery controller
     * @param state "connecting", "connected" or "retrying"
     * @param lastError the last connect failure, or null
     * @param failures connects that failed (each followed by a backoff), and controllers of the portal
     *                 that were deleted
     * @param authenticationFailures of those, the ones DH-HMAC-CHAP refused (host or controller side)
     */
    public record PortalView(String kind, TransportAddress address, String nqn, String state, String lastError,
                             long failures, long authenticationFailures) {
    }

    /** Every portal: configured, discovered and discovery controllers, sorted by address. */
    public List<PortalView> portals() {
        return portals.views();
    }

    /**
     * Connects a controller of {@code nqn} at {@code address} and adds its namespaces as paths. The
     * future completes when its paths are attached, or fails with the first connect error; either way
     * a portal that is lost later is connected again in the background.
     */
    public CompletableFuture<Void> addPortal(TransportAddress address, String nqn) {
        return portals.addDirect(address, nqn);
    }

    /**
     * Connects a persistent discovery controller (KATO on, discovery-change events enabled), adds a
     * portal for every NVMe/TCP subsystem entry of its log, and again whenever the log changes.
     */
    public CompletableFuture<DiscoveryLog> addDiscovery(TransportAddress address) {
        return portals.addDiscovery(address);
    }

    /**
     * Forgets a portal (direct or discovery; {@code nqn} null for discovery) and disconnects its
     * controllers: their paths leave their heads, I/O moves to the other paths. False if unknown.
     */
    public boolean removePortal(TransportAddress address, String nqn) {
        if (!portals.remove(address, nqn)) {
            return false;
        }
        MultipathSubsystem s = nqn == null ? null : subsystems.get(nqn);
        if (s != null) {
            for (PathIo io : s.controllers()) {
                if (io instanceof ControllerPathIo cio && cio.controller().address().equals(address)) {
                    cio.controller().shutdown();
                }
            }
        }
        return true;
    }

    /**
     * Gives every connected controller whose portal options now hold other DH-HMAC-CHAP secrets (a
     * reload's new secret files) those secrets: it re-authenticates at once, without a reconnect.
     * Returns one line per controller rotated.
     */
    public List<String> rotateSecrets() {
        return SecretRotation.apply(subsystems.values(), options);
    }

    // ---- controllers (management executor) --------------------------------------------------------

    /** A controller of {@code nqn} is connected: link it to its subsystem and join its namespaces. */
    CompletableFuture<Void> controllerConnected(ControllerPathIo cio, String nqn) {
        MultipathSubsystem s = subsystems.computeIfAbsent(nqn, k -> new MultipathSubsystem(k, options, this, exec, clock, failoverLog));
        s.controllers.add(cio);
        owner.put(cio, s);
        return scan.scan(cio);
    }

    void controllerStateChanged(ControllerPathIo cio, ControllerState to, TransportAddress address, String nqn,
                                String reason) {
        MultipathSubsystem s = cio == null ? null : owner.get(cio);
        if (s == null) {
            return;
        }
        if (to == ControllerState.LIVE) {
            scan.scan(cio); // identity, namespaces and ANA may have changed while it was away
        }
        if (to == ControllerState.DEAD) {
            owner.remove(cio);
            s.controllers.remove(cio);
            s.forgetRefusals(cio.id().address());
            for (NamespaceHead h : s.heads()) {
                for (Path p : h.paths()) {
                    if (p.io == cio) {
                        h.removePath(p);
                    }
                }
                headMayGo(s, h);
            }
            if (!closed && portals.known(address, nqn)) {
                portals.retry(address, nqn, new IllegalStateException("controller deleted: " + reason));
            }
        }
        for (NamespaceHead h : s.heads()) {
            h.pathsChanged();
        }
    }

    void asyncEvent(ControllerPathIo cio, AsyncEvent e) {
        if (cio == null) {
            return;
        }
        if (e.isAnaChange()) {
            ana.read(cio);
        } else if (e.isCrossControllerResetCompleted()) {
            MultipathSubsystem s = owner.get(cio);
            if (s != null) {
                s.fences().resetCompleted(cio.controller());
            }
        } else if (e.isNamespaceChange()) {
            cio.controller().changedNamespaces().whenCompleteAsync((l, err) -> scan.scan(cio), exec);
        }
    }

    /**
     * Whether a connect failed, or a controller was deleted, because DH-HMAC-CHAP refused it: an
     * {@link AuthenticationException} in the chain, or a deletion whose reason is one.
     */
    static boolean isAuthenticationFailure(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof AuthenticationException
                    || String.valueOf(c.getMessage()).startsWith("controller deleted: authentication failed")) {
                return true;
            }
        }
        return false;
    }

    /** An ANA error status came back through {@code io}: its ANA log is read again. */
    void anaErrorSeen(PathIo io) {
        onManagement(() -> ana.read(io));
    }

    NamespaceHead newHead(MultipathSubsystem s, int nsid, NamespaceIds ids, IdentifyNamespace ns) {
        NamespaceHead head = new NamespaceHead(s, nsid, ids, ns, ns.nsze(), ns.lbaSize(), options, exec, clock);
        s.heads.put(nsid, head);
        return head;
    }

    void headMayGo(MultipathSubsystem s, NamespaceHead h) {
        if (!h.paths().isEmpty()) {
            return;
        }
        long delay = options.delayedRemoval().toNanos();
        if (delay > 0 && h.removeAtNanos == 0) {
            h.removeAtNanos = (clock.getAsLong() + delay) | 1;
            log.info("{} nsid {}: last path gone; head kept {} s (delayed_removal)", s.nqn(), h.nsid,
                    options.delayedRemoval().toSeconds());
        } else if (delay <= 0) {
            s.heads.remove(h.nsid);
            log.info("{} nsid {}: last path gone; head removed", s.nqn(), h.nsid);
            h.expire();
            headRemoved(h);
        }
    }

    /** Every 100 ms: delayed removals, no-path timeouts, holds that ran out, the ANA transition timeout. */
    private void tick() {
        long now = clock.getAsLong();
        for (MultipathSubsystem s : subsystems.values()) {
            for (NamespaceHead h : s.heads()) {
                if (h.removeAtNanos != 0 && h.paths().isEmpty() && now - h.removeAtNanos >= 0) {
                    s.heads.remove(h.nsid);
                    log.info("{} nsid {}: delayed removal expired; head removed", s.nqn(), h.nsid);
                    headRemoved(h);
                }
                h.tick();
                for (Path p : h.paths()) {
                    ana.checkTransition(h, p, now);
                }
            }
        }
        ticks.incrementAndGet();
    }

    /** Management ticks run so far: a test waits for some to pass instead of sleeping. */
    long ticks() {
        return ticks.get();
    }

    // ---- for the parts ----------------------------------------------------------------------------

    ScheduledExecutorService executor() {
        return exec;
    }

    LongSupplier clock() {
        return clock;
    }

    boolean closed() {
        return closed;
    }

    MultipathSubsystem owner(PathIo io) {
        return owner.get(io);
    }

    AnaTracker ana() {
        return ana;
    }

    /** Runs {@code task} on the management executor; after close, events of closing controllers are dropped. */
    void onManagement(Runnable task) {
        try {
            exec.execute(task);
        } catch (RejectedExecutionException e) {
            if (!closed) {
                throw e;
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (MultipathSubsystem s : subsystems.values()) {
            for (PathIo io : s.controllers()) {
                if (io instanceof ControllerPathIo cio) {
                    all.add(cio.controller().shutdown());
                }
            }
        }
        all.addAll(portals.shutdownDiscovery());
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).orTimeout(10, TimeUnit.SECONDS)
                .exceptionally(e -> null).join();
        // let the state changes and failovers already queued run, then fail whatever still waits
        CompletableFuture<Void> drained = new CompletableFuture<>();
        try {
            exec.execute(() -> {
                for (MultipathSubsystem s : subsystems.values()) {
                    for (NamespaceHead h : s.heads()) {
                        h.removeAtNanos = 0;
                        h.expireAll("the path layer is shutting down");
                    }
                }
                drained.complete(null);
            });
            drained.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.warn("path layer shutdown: {}", rootMessage(e));
        }
        exec.shutdown();
        try {
            exec.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        return c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
    }
}
