package io.nvmpath.multipath;

import io.netty.channel.EventLoopGroup;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerListener;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.host.Discovery;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.log.WarnLimiter;
import io.nvmpath.fabric.nvme.AnaLog;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.AsyncEvent;
import io.nvmpath.fabric.nvme.DiscoveryLog;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.NamespaceIds;
import io.nvmpath.fabric.nvme.Opcodes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The path layer: connects controllers, links them by subsystem NQN, joins each namespace to its
 * head (refusing a path whose identifiers differ), keeps every path's state from controller state
 * and the ANA log, and exposes the heads.
 *
 * <p>All topology and state work runs on one management executor; the I/O path only reads the
 * heads' copy-on-write path arrays and the paths' volatile fields.
 */
public final class Multipath implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Multipath.class);
    private static final long TICK_MILLIS = 100;

    private final MultipathOptions options;
    private final EventLoopGroup group;
    private final ScheduledExecutorService exec;
    private final LongSupplier clock;
    private final Map<String, MultipathSubsystem> subsystems = new ConcurrentHashMap<>();
    private final Map<PathIo, MultipathSubsystem> owner = new ConcurrentHashMap<>();
    private final Set<PathIo> anaReading = new HashSet<>();
    private final Set<PathIo> anaAgain = new HashSet<>();
    private final List<Controller> discoveryControllers = new ArrayList<>();
    private final Map<String, Portal> portals = new ConcurrentHashMap<>();
    private final List<HeadListener> headListeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean closed;

    public Multipath(MultipathOptions options, EventLoopGroup group) {
        this(options, group, System::nanoTime);
    }

    Multipath(MultipathOptions options, EventLoopGroup group, LongSupplier clock) {
        this.options = options;
        this.group = group;
        this.clock = clock;
        this.exec = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "nvmpath-multipath");
            t.setDaemon(true);
            return t;
        });
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
                .sorted(java.util.Comparator.comparing(MultipathView.Subsystem::nqn)).toList();
    }

    /** Sets the iopolicy of a subsystem at run time. */
    public void ioPolicy(String nqn, IoPolicy policy) {
        MultipathSubsystem s = require(nqn);
        s.ioPolicy(policy);
        exec.execute(() -> s.heads().forEach(NamespaceHead::pathsChanged));
    }

    /** Prefers paths whose name starts with {@code pathPrefix} (e.g. "10.0.0.1:4420"); null clears. */
    public void preferredPath(String nqn, String pathPrefix) {
        require(nqn).preferredPath(pathPrefix);
        exec.execute(() -> require(nqn).heads().forEach(NamespaceHead::pathsChanged));
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

    private void headAdded(NamespaceHead h) {
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

    // ---- portals --------------------------------------------------------------------------------

    /**
     * A portal as configured or discovered: what the operator sees of it.
     *
     * @param kind "direct", "discovered" or "discovery"
     * @param nqn the subsystem, null for a discovery controller
     * @param state "connecting", "connected" or "retrying"
     * @param lastError the last connect failure, or null
     */
    public record PortalView(String kind, TransportAddress address, String nqn, String state, String lastError) {
    }

    private static final class Portal {
        final String kind;
        final TransportAddress address;
        final String nqn;
        volatile String state = "connecting";
        volatile String lastError;
        /** A portal that keeps failing is warned about once, then at most once a minute. */
        final WarnLimiter warnings = new WarnLimiter(log, TimeUnit.MINUTES.toNanos(1));

        Portal(String kind, TransportAddress address, String nqn) {
            this.kind = kind;
            this.address = address;
            this.nqn = nqn;
        }

        PortalView view() {
            return new PortalView(kind, address, nqn, state, lastError);
        }
    }

    private static String key(TransportAddress address, String nqn) {
        return address + "|" + nqn;
    }

    private boolean known(TransportAddress address, String nqn) {
        return portals.containsKey(key(address, nqn));
    }

    /** Warns (rate-limited per portal) that connecting to a portal failed and will be retried. */
    private void warnRetry(TransportAddress address, String nqn, String message) {
        Portal p = portals.get(key(address, nqn));
        if (p != null) {
            p.warnings.warn(message, null);
        }
    }

    private void portalState(TransportAddress address, String nqn, String state, Throwable error) {
        Portal p = portals.get(key(address, nqn));
        if (p != null) {
            p.state = state;
            if ("connected".equals(state)) {
                p.warnings.reset();
            }
            if (error != null) {
                p.lastError = rootMessage(error);
            }
        }
    }

    /** Every portal: configured, discovered and discovery controllers, sorted by address. */
    public List<PortalView> portals() {
        return portals.values().stream().map(Portal::view)
                .sorted(java.util.Comparator.comparing((PortalView v) -> v.address().toString())
                        .thenComparing(v -> String.valueOf(v.nqn())))
                .toList();
    }

    /**
     * Forgets a portal (direct or discovery; {@code nqn} null for discovery) and disconnects its
     * controllers: their paths leave their heads, I/O moves to the other paths. False if unknown.
     */
    public boolean removePortal(TransportAddress address, String nqn) {
        Portal p = portals.remove(key(address, nqn));
        if (p == null) {
            return false;
        }
        log.info("portal {} {} removed", address, nqn == null ? "(discovery)" : nqn);
        if (nqn == null) {
            synchronized (discoveryControllers) {
                for (Controller c : List.copyOf(discoveryControllers)) {
                    if (c.address().equals(address)) {
                        discoveryControllers.remove(c);
                        c.shutdown();
                    }
                }
            }
            return true;
        }
        MultipathSubsystem s = subsystems.get(nqn);
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
     * Connects a controller of {@code nqn} at {@code address} and adds its namespaces as paths. The
     * future completes when its paths are attached, or fails with the first connect error; either way
     * a portal that is lost later is connected again in the background.
     */
    public CompletableFuture<Void> addPortal(TransportAddress address, String nqn) {
        portals.putIfAbsent(key(address, nqn), new Portal("direct", address, nqn));
        return connect(address, nqn);
    }

    private CompletableFuture<Void> connect(TransportAddress address, String nqn) {
        CompletableFuture<Void> attached = new CompletableFuture<>();
        ControllerPathIo[] holder = new ControllerPathIo[1];
        ControllerListener l = new ControllerListener() {
            @Override
            public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                onManagement(() -> controllerStateChanged(holder[0], to, address, nqn));
            }

            @Override
            public void asyncEvent(Controller c, AsyncEvent e) {
                onManagement(() -> event(holder[0], e));
            }
        };
        Controller.connect(address, nqn, options.controller(), group, l).whenCompleteAsync((c, err) -> {
            if (err != null) {
                attached.completeExceptionally(err);
                retryPortal(address, nqn, err);
                return;
            }
            if (closed || !known(address, nqn)) {
                c.shutdown(); // removed (or closing) while connecting
                attached.completeExceptionally(new IllegalStateException("portal removed"));
                return;
            }
            portalState(address, nqn, "connected", null);
            ControllerPathIo cio = new ControllerPathIo(c);
            holder[0] = cio;
            MultipathSubsystem s = subsystems.computeIfAbsent(nqn, k -> new MultipathSubsystem(k, options.ioPolicy(), this));
            s.controllers.add(cio);
            owner.put(cio, s);
            scan(cio).whenComplete((v, e) -> {
                if (e != null) {
                    attached.completeExceptionally(e);
                } else {
                    attached.complete(null);
                }
            });
        }, exec);
        return attached;
    }

    /** Runs {@code task} on the management executor; after close, events of closing controllers are dropped. */
    private void onManagement(Runnable task) {
        try {
            exec.execute(task);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            if (!closed) {
                throw e;
            }
        }
    }

    private void retryPortal(TransportAddress address, String nqn, Throwable why) {
        if (closed || !known(address, nqn)) {
            return;
        }
        portalState(address, nqn, "retrying", why);
        Duration d = options.controller().reconnectDelay();
        warnRetry(address, nqn, "portal " + address + " " + nqn + ": " + rootMessage(why) + "; retrying every "
                + d.toSeconds() + " s");
        exec.schedule(() -> {
            if (!closed) {
                connect(address, nqn);
            }
        }, Math.max(100, d.toMillis()), TimeUnit.MILLISECONDS);
    }

    /**
     * Connects a persistent discovery controller (KATO on, discovery-change events enabled), adds a
     * portal for every NVMe/TCP subsystem entry of its log, and again whenever the log changes.
     */
    public CompletableFuture<DiscoveryLog> addDiscovery(TransportAddress address) {
        portals.putIfAbsent(key(address, null), new Portal("discovery", address, null));
        return connectDiscovery(address);
    }

    private CompletableFuture<DiscoveryLog> connectDiscovery(TransportAddress address) {
        ControllerOptions o = options.controller();
        Controller[] holder = new Controller[1];
        ControllerListener l = new ControllerListener() {
            @Override
            public void asyncEvent(Controller c, AsyncEvent e) {
                if (e.isDiscoveryChange()) {
                    onManagement(() -> readDiscovery(holder[0]));
                }
            }

            @Override
            public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                if (to == ControllerState.LIVE && holder[0] != null) {
                    portalState(address, null, "connected", null);
                    onManagement(() -> readDiscovery(c)); // entries may have changed while it was away
                } else if (to == ControllerState.RESETTING || to == ControllerState.CONNECTING) {
                    portalState(address, null, "retrying", null);
                } else if (to == ControllerState.DEAD) {
                    synchronized (discoveryControllers) {
                        discoveryControllers.remove(c);
                    }
                    onManagement(() -> retryDiscovery(address, new IllegalStateException("controller deleted")));
                }
            }
        };
        return Controller.connect(address, Opcodes.DISCOVERY_NQN, o, group, l).whenComplete((c, err) -> {
            if (err != null) {
                retryDiscovery(address, err);
            }
        }).thenCompose(c -> {
            if (closed || !known(address, null)) {
                c.shutdown();
                throw new IllegalStateException("discovery portal removed");
            }
            holder[0] = c;
            portalState(address, null, "connected", null);
            synchronized (discoveryControllers) {
                discoveryControllers.add(c);
            }
            return readDiscovery(c);
        });
    }

    private void retryDiscovery(TransportAddress address, Throwable why) {
        if (closed || !known(address, null)) {
            return;
        }
        portalState(address, null, "retrying", why);
        Duration d = options.controller().reconnectDelay();
        warnRetry(address, null, "discovery portal " + address + ": " + rootMessage(why) + "; retrying every "
                + d.toSeconds() + " s");
        exec.schedule(() -> {
            if (!closed && known(address, null)) {
                connectDiscovery(address);
            }
        }, Math.max(100, d.toMillis()), TimeUnit.MILLISECONDS);
    }

    private CompletableFuture<DiscoveryLog> readDiscovery(Controller c) {
        return Discovery.readLog(c).whenCompleteAsync((logPage, err) -> {
            if (err != null) {
                log.warn("discovery {}: {}", c.address(), rootMessage(err));
                return;
            }
            for (DiscoveryLog.Entry e : logPage.entries()) {
                if (e.trtype() != DiscoveryLog.TRTYPE_TCP || e.subtype() != 2) {
                    continue;
                }
                TransportAddress a = new TransportAddress(e.traddr(), Integer.parseInt(e.trsvcid().trim()));
                if (portals.putIfAbsent(key(a, e.subnqn()), new Portal("discovered", a, e.subnqn())) == null) {
                    log.info("discovery {}: new portal {} {}", c.address(), a, e.subnqn());
                    connect(a, e.subnqn());
                }
            }
        }, exec);
    }

    // ---- namespaces and paths -------------------------------------------------------------------

    /** Reads the controller's namespaces and ANA log and joins each namespace to its head. */
    private CompletableFuture<Void> scan(ControllerPathIo cio) {
        Controller c = cio.controller();
        return c.activeNamespaces().thenCompose(nsids -> {
            List<CompletableFuture<Object[]>> all = new ArrayList<>();
            for (int nsid : nsids) {
                all.add(c.identifyNamespace(nsid).thenCombine(c.namespaceIds(nsid),
                        (ns, ids) -> new Object[] {nsid, ns, ids}));
            }
            return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new))
                    .thenApply(v -> all.stream().map(CompletableFuture::join).toList());
        }).thenCombine(c.anaLog(false), (found, ana) -> new Object[] {found, ana}).thenAcceptAsync(r -> {
            @SuppressWarnings("unchecked")
            List<Object[]> found = (List<Object[]>) r[0];
            attach(cio, found, (AnaLog) r[1]);
        }, exec);
    }

    private void attach(ControllerPathIo cio, List<Object[]> found, AnaLog ana) {
        MultipathSubsystem s = owner.get(cio);
        if (s == null) {
            return;
        }
        IdentifyController id = cio.controller().identity();
        Set<Integer> present = new HashSet<>();
        for (Object[] f : found) {
            int nsid = (Integer) f[0];
            IdentifyNamespace ns = (IdentifyNamespace) f[1];
            NamespaceIds ids = (NamespaceIds) f[2];
            present.add(nsid);
            NamespaceHead head = s.heads.get(nsid);
            Path existing = head == null ? null
                    : head.paths().stream().filter(p -> p.io == cio).findFirst().orElse(null);
            if (existing != null) {
                applyAna(existing, ana); // reconnect or rescan: the ANA state may have moved meanwhile
                head.pathsChanged();
                continue;
            }
            boolean created = head == null;
            if (created) {
                head = new NamespaceHead(s, nsid, ids, ns, ns.nsze(), ns.lbaSize(), options, exec, clock);
                s.heads.put(nsid, head);
                log.info("{}: namespace head {} ({} MiB, {} B blocks, {})", s.nqn(), nsid, ns.sizeBytes() >> 20,
                        ns.lbaSize(), ids);
            } else {
                String refusal = null;
                if (!head.ids.equals(ids)) {
                    refusal = "identifiers differ: head has " + head.ids + ", this path reports " + ids;
                } else if (head.lbaSize != ns.lbaSize() || head.blocks != ns.nsze()) {
                    refusal = "format differs: head " + head.blocks + " x " + head.lbaSize + " B, path "
                            + ns.nsze() + " x " + ns.lbaSize() + " B";
                } else if (!ns.shared() || (id != null && !id.multiController())) {
                    refusal = "not shared (NMIC " + ns.nmic() + ", CMIC " + (id == null ? "?" : id.cmic())
                            + ") but seen through several controllers";
                }
                if (refusal != null) {
                    log.error("{} nsid {}: path {} refused: {}", s.nqn(), nsid, cio.name(), refusal);
                    s.refuse(new MultipathSubsystem.RefusedPath(cio.name(), nsid, refusal));
                    continue;
                }
            }
            Path p = new Path(cio, nsid, (int) ns.anagrpid(), options.marginalFailures(), clock);
            applyAna(p, ana, false); // the "added" line below states it
            head.addPath(p);
            log.info("{} nsid {}: path {} added ({})", s.nqn(), nsid, cio.name(), p.anaState().label());
            if (created) {
                headAdded(head);
            }
        }
        // namespaces that left this controller
        for (NamespaceHead h : s.heads()) {
            if (!present.contains(h.nsid)) {
                for (Path p : h.paths()) {
                    if (p.io == cio) {
                        h.removePath(p);
                        log.info("{} nsid {}: path {} removed (namespace gone)", s.nqn(), h.nsid, cio.name());
                    }
                }
                headMayGo(s, h);
            }
        }
    }

    private void applyAna(Path p, AnaLog ana) {
        applyAna(p, ana, true);
    }

    private void applyAna(Path p, AnaLog ana, boolean announce) {
        AnaLog.Group g = ana.group(p.anaGroup);
        AnaState st = g == null || g.state() == null ? AnaState.INACCESSIBLE : g.state();
        AnaState prev = p.anaState;
        p.anaState = st;
        p.anaPending = false;
        if (st == AnaState.CHANGE) {
            if (p.changeSinceNanos == 0) {
                p.changeSinceNanos = clock.getAsLong() | 1;
            }
        } else {
            p.changeSinceNanos = 0;
        }
        if (prev != st && announce) {
            log.info("{} nsid {}: path {} ANA {} -> {}", owner.get(p.io) == null ? "?" : owner.get(p.io).nqn(),
                    p.nsid, p.io.name(), prev.label(), st.label());
        }
    }

    /** Re-reads a controller's ANA log (one read at a time per controller) and updates its paths. */
    private void readAna(PathIo io) {
        if (!(io instanceof ControllerPathIo cio) || cio.controller().state() != ControllerState.LIVE) {
            return;
        }
        if (!anaReading.add(io)) {
            anaAgain.add(io);
            return;
        }
        cio.controller().anaLog(false).whenCompleteAsync((ana, err) -> {
            anaReading.remove(io);
            if (err == null) {
                MultipathSubsystem s = owner.get(io);
                if (s != null) {
                    for (NamespaceHead h : s.heads()) {
                        for (Path p : h.paths()) {
                            if (p.io == io) {
                                applyAna(p, ana);
                            }
                        }
                        h.pathsChanged();
                    }
                }
            } else {
                log.debug("ANA log of {}: {}", io.name(), rootMessage(err));
            }
            if (anaAgain.remove(io)) {
                readAna(io);
            }
        }, exec);
    }

    void anaErrorSeen(PathIo io) {
        onManagement(() -> readAna(io));
    }

    private void event(ControllerPathIo cio, AsyncEvent e) {
        if (cio == null) {
            return;
        }
        if (e.isAnaChange()) {
            readAna(cio);
        } else if (e.isNamespaceChange()) {
            cio.controller().changedNamespaces().whenCompleteAsync((l, err) -> scan(cio), exec);
        }
    }

    private void controllerStateChanged(ControllerPathIo cio, ControllerState to, TransportAddress address,
                                        String nqn) {
        if (cio == null) {
            return;
        }
        MultipathSubsystem s = owner.get(cio);
        if (s == null) {
            return;
        }
        if (to == ControllerState.LIVE) {
            scan(cio); // identity, namespaces and ANA may have changed while it was away
        }
        if (to == ControllerState.DEAD) {
            owner.remove(cio);
            s.controllers.remove(cio);
            s.forgetRefusals(cio.name());
            for (NamespaceHead h : s.heads()) {
                for (Path p : h.paths()) {
                    if (p.io == cio) {
                        h.removePath(p);
                    }
                }
                headMayGo(s, h);
            }
            if (!closed && known(address, nqn)) {
                retryPortal(address, nqn, new IllegalStateException("controller deleted"));
            }
        }
        for (NamespaceHead h : s.heads()) {
            h.pathsChanged();
        }
    }

    private void headMayGo(MultipathSubsystem s, NamespaceHead h) {
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

    /** Every 100 ms: no-path timeouts, the ANA transition timeout, delayed removals. */
    private void tick() {
        long now = clock.getAsLong();
        for (MultipathSubsystem s : subsystems.values()) {
            for (NamespaceHead h : s.heads()) {
                if (h.removeAtNanos != 0 && h.paths().isEmpty() && now - h.removeAtNanos >= 0) {
                    s.heads.remove(h.nsid);
                    log.info("{} nsid {}: delayed removal expired; head removed", s.nqn(), h.nsid);
                    headRemoved(h);
                }
                h.expire();
                h.kick();
                for (Path p : h.paths()) {
                    p.refreshHold();
                    long since = p.changeSinceNanos;
                    if (since != 0 && p.io instanceof ControllerPathIo cio) {
                        IdentifyController id = cio.controller().identity();
                        long anatt = TimeUnit.SECONDS.toNanos(id == null || id.anatt() == 0 ? 10 : id.anatt());
                        if (now - since > anatt) {
                            p.changeSinceNanos = now | 1;
                            log.warn("{} nsid {}: ANA group {} of {} in change for more than ANATT; resetting",
                                    s.nqn(), h.nsid, p.anaGroup, cio.name());
                            cio.controller().reset("ANA transition longer than ANATT");
                        }
                    }
                }
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
        synchronized (discoveryControllers) {
            for (Controller c : discoveryControllers) {
                all.add(c.shutdown());
            }
        }
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
