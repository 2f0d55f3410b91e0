package io.nvmpath.multipath;

import io.netty.channel.EventLoopGroup;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerListener;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.host.Discovery;
import io.nvmpath.fabric.host.TransportAddress;
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
    private final Set<String> knownPortals = ConcurrentHashMap.newKeySet();
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

    // ---- portals --------------------------------------------------------------------------------

    /**
     * Connects a controller of {@code nqn} at {@code address} and adds its namespaces as paths. The
     * future completes when its paths are attached, or fails with the first connect error; either way
     * a portal that is lost later is connected again in the background.
     */
    public CompletableFuture<Void> addPortal(TransportAddress address, String nqn) {
        knownPortals.add(address + "|" + nqn);
        return connect(address, nqn);
    }

    private CompletableFuture<Void> connect(TransportAddress address, String nqn) {
        CompletableFuture<Void> attached = new CompletableFuture<>();
        ControllerPathIo[] holder = new ControllerPathIo[1];
        ControllerListener l = new ControllerListener() {
            @Override
            public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                exec.execute(() -> controllerStateChanged(holder[0], to, address, nqn));
            }

            @Override
            public void asyncEvent(Controller c, AsyncEvent e) {
                exec.execute(() -> event(holder[0], e));
            }
        };
        Controller.connect(address, nqn, options.controller(), group, l).whenCompleteAsync((c, err) -> {
            if (err != null) {
                attached.completeExceptionally(err);
                retryPortal(address, nqn, err);
                return;
            }
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

    private void retryPortal(TransportAddress address, String nqn, Throwable why) {
        if (closed || !knownPortals.contains(address + "|" + nqn)) {
            return;
        }
        Duration d = options.controller().reconnectDelay();
        log.warn("portal {} {}: {}; retrying every {} s", address, nqn, rootMessage(why), d.toSeconds());
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
        ControllerOptions o = options.controller();
        Controller[] holder = new Controller[1];
        ControllerListener l = new ControllerListener() {
            @Override
            public void asyncEvent(Controller c, AsyncEvent e) {
                if (e.isDiscoveryChange()) {
                    exec.execute(() -> readDiscovery(holder[0]));
                }
            }
        };
        return Controller.connect(address, Opcodes.DISCOVERY_NQN, o, group, l).thenCompose(c -> {
            holder[0] = c;
            synchronized (discoveryControllers) {
                discoveryControllers.add(c);
            }
            return readDiscovery(c);
        });
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
                if (knownPortals.add(a + "|" + e.subnqn())) {
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
            if (head == null) {
                head = new NamespaceHead(s, nsid, ids, ns.nsze(), ns.lbaSize(), options, exec, clock);
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
            applyAna(p, ana);
            head.addPath(p);
            log.info("{} nsid {}: path {} added ({})", s.nqn(), nsid, cio.name(), p.anaState().label());
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
        if (prev != st) {
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
        exec.execute(() -> readAna(io));
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
            if (!closed && knownPortals.contains(address + "|" + nqn)) {
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
