package io.nvmpath.target;

import io.netty.channel.EventLoopGroup;
import io.nvmpath.config.ConfigException;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.time.Scheduler;
import io.nvmpath.target.backend.Backend;
import io.nvmpath.target.backend.FileBackend;
import io.nvmpath.target.backend.MemoryBackend;
import io.nvmpath.target.config.TargetConfig.NamespaceConfig;
import io.nvmpath.target.config.TargetConfig.PortConfig;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;
import io.nvmpath.target.config.TargetConfig;
import io.nvmpath.transport.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.random.RandomGenerator;

/**
 * An NVMe/TCP target: subsystems, namespaces, ports, ANA groups and faults, as configured by a
 * {@link TargetConfig}. The Java API here is what tests and the HTTP admin endpoint use to flip ANA
 * states and inject faults while hosts are connected; every change is logged.
 *
 * <p>Ports are named by their port ID or by their TCP port number (what an operator types:
 * {@code --port 4420}); IDs are small, TCP ports are not, so the two do not collide in practice,
 * and an ID wins when they do.
 */
public final class NvmeTarget implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NvmeTarget.class);

    /** NVMe version reported in VS and Identify Controller: 1.4.0. */
    static final int VERSION = 0x00010400;
    /**
     * CCRL: Cross-Controller Resets a controller may have in progress at once, the value Linux nvmet
     * reports (TP8028 recommends it).
     */
    static final int CCR_LIMIT = 4;
    /** Largest transfer accepted when MDTS is 0 (unlimited). */
    private static final int UNLIMITED_TRANSFER = 32 << 20;

    /** One entry of the discovery log. */
    /** @param tls the port takes NVMe/TCP TLS 1.3 only: TREQ required, TSAS TLS 1.3 */
    record DiscoveryEntry(int portId, String traddr, int trsvcid, String subnqn, boolean tls) {
    }

    private final TargetConfig config;
    private final Scheduler scheduler;
    private final EventLoopGroup group;
    private final boolean ownGroup;
    private final ExecutorService blocking;
    private final Map<String, Subsystem> subsystems = new LinkedHashMap<>();
    private final Subsystem discovery = Subsystem.discoverySubsystem();
    private final Map<Integer, TargetPort> ports = new LinkedHashMap<>();
    private TargetPort discoveryPort;
    private final Set<TargetController> controllers = ConcurrentHashMap.newKeySet();
    private final AtomicLong anaChangeCount = new AtomicLong(1);
    private final AtomicLong discoveryGeneration = new AtomicLong(1);
    /** Where controllers draw their CIU and CIRN (thread-safe). */
    private final RandomGenerator random = new SecureRandom();

    private NvmeTarget(TargetConfig config, Scheduler scheduler, EventLoopGroup group, boolean ownGroup) {
        this.config = config;
        this.scheduler = scheduler;
        this.group = group;
        this.ownGroup = ownGroup;
        this.blocking = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "nvmpath-target-io");
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts a target on its own event loops (two threads). */
    public static NvmeTarget start(TargetConfig config) throws IOException, InterruptedException {
        return start(config, Scheduler.SYSTEM);
    }

    /**
     * Starts a target on its own event loops whose timers (keep-alive timeout, completion delay
     * faults) follow {@code scheduler}: a test's manual clock makes them fire when it says.
     */
    public static NvmeTarget start(TargetConfig config, Scheduler scheduler) throws IOException, InterruptedException {
        return start(config, scheduler, Transport.process().newGroup(2, "nvmpath-target"), true);
    }

    /** Starts a target on the caller's event loops (the caller shuts them down). */
    public static NvmeTarget start(TargetConfig config, EventLoopGroup group) throws IOException, InterruptedException {
        return start(config, Scheduler.SYSTEM, group, false);
    }

    private static NvmeTarget start(TargetConfig config, Scheduler scheduler, EventLoopGroup group, boolean own)
            throws IOException, InterruptedException {
        config.validate();
        NvmeTarget t = new NvmeTarget(config, scheduler, group, own);
        try {
            t.build();
        } catch (IOException | InterruptedException | RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    private void build() throws IOException, InterruptedException {
        for (int i = 0; i < config.subsystems().size(); i++) {
            SubsystemConfig sc = config.subsystems().get(i);
            Subsystem s = new Subsystem(sc);
            for (int n = 0; n < sc.namespaces().size(); n++) {
                NamespaceConfig nc = sc.namespaces().get(n);
                Backend backend;
                if (nc.path() == null) {
                    backend = new MemoryBackend(nc.sizeBytes());
                } else {
                    try {
                        backend = new FileBackend(Path.of(nc.path()), nc.sizeBytes(), blocking);
                    } catch (IOException e) {
                        throw new ConfigException("subsystems[" + i + "].namespaces[" + n + "].path",
                                "cannot open " + nc.path() + ": " + (e instanceof java.nio.file.NoSuchFileException
                                        ? "no such file or directory" : e.getMessage()));
                    }
                }
                s.namespaces.put(nc.nsid(), new Namespace(sc.nqn(), nc, backend));
            }
            subsystems.put(s.nqn, s);
        }
        for (PortConfig pc : config.ports()) {
            List<Subsystem> linked = pc.subsystems().stream().map(subsystems::get).toList();
            TargetPort p = new TargetPort(this, pc.id(), pc.address(), pc.port(), pc.advertise(), linked,
                    pc.anaStates(), false);
            p.tlsPsk = pc.tlsPsk();
            ports.put(pc.id(), p);
            p.bind(group);
        }
        if (config.discovery() != null) {
            discoveryPort = new TargetPort(this, 0, config.discovery().address(), config.discovery().port(), null,
                    List.of(), Map.of(), true);
            discoveryPort.bind(group);
        }
        StringBuilder sb = new StringBuilder();
        for (TargetPort p : ports.values()) {
            sb.append(' ').append(p.address).append(':').append(p.boundPort()).append(" (port ").append(p.id)
                    .append(", ANA ").append(labels(p.anaStates())).append(')');
        }
        log.info("NVMe/TCP target up: {} subsystem(s) {}; ports{}{}", subsystems.size(), subsystems.keySet(), sb,
                discoveryPort == null ? "" : "; discovery " + discoveryPort.address + ":" + discoveryPort.boundPort());
    }

    private static Map<Integer, String> labels(Map<Integer, AnaState> states) {
        Map<Integer, String> out = new java.util.TreeMap<>();
        states.forEach((g, st) -> out.put(g, st.label()));
        return out;
    }

    public TargetConfig config() {
        return config;
    }

    /** Where controller instance numbers come from. */
    RandomGenerator random() {
        return random;
    }

    /** Where the target's time comes from. */
    Scheduler scheduler() {
        return scheduler;
    }

    /** The bound TCP port of a port (by ID or configured TCP port). */
    public int port(int portRef) {
        return resolve(portRef).boundPort();
    }

    /** The bound TCP port of the discovery port; -1 when there is none. */
    public int discoveryPort() {
        return discoveryPort == null ? -1 : discoveryPort.boundPort();
    }

    /** Sets the ANA state of {@code group} through one port; controllers on that port get the event. */
    /**
     * Replaces host {@code hostNqn}'s DH-HMAC-CHAP keys on subsystem {@code nqn} ({@code null}: the host
     * no longer authenticates), as a write of nvmet's {@code hosts/<nqn>/dhchap_key}: associations
     * already authenticated stay; the next Connect of that host, and the next re-authentication of a
     * queue it has, authenticate with these.
     *
     * @throws IllegalArgumentException for an unknown subsystem
     */
    public void setDhchap(String nqn, String hostNqn, TargetConfig.DhchapHost keys) {
        subsystem(nqn).dhchap(hostNqn, keys);
        log.info("subsystem {}: DH-HMAC-CHAP keys of host {} {}", nqn, hostNqn, keys == null ? "removed" : "replaced");
    }

    /**
     * Withdraws the authentication of every queue host {@code hostNqn} has on subsystem {@code nqn} (a
     * fault): their commands answer Authentication Required (SCT 1h SC 91h) until the host
     * authenticates the queue again — the controller asking the host to re-authenticate.
     *
     * @throws IllegalArgumentException for an unknown subsystem
     */
    public void withdrawAuthentication(String nqn, String hostNqn) {
        Subsystem s = subsystem(nqn);
        int n = 0;
        for (TargetController c : s.controllers) {
            if (c.hostNqn.equals(hostNqn)) {
                c.withdrawAuthentication();
                n++;
            }
        }
        log.info("subsystem {}: authentication of host {} withdrawn on {} controller(s)", nqn, hostNqn, n);
    }

    /** Re-authentications completed on queues of subsystem {@code nqn} since the target started. */
    public long reauthentications(String nqn) {
        return subsystem(nqn).reauthentications();
    }

    public void setAnaState(int portRef, int group, AnaState state) {
        TargetPort p = resolve(portRef);
        if (group < 1 || group > IdentifyData.ANA_GROUP_MAX) {
            throw new IllegalArgumentException("ANA group must be 1.." + IdentifyData.ANA_GROUP_MAX + ", not " + group);
        }
        AnaState prev = p.anaState(group);
        if (prev == state) {
            return;
        }
        p.setAnaState(group, state);
        long change = anaChangeCount.incrementAndGet();
        log.info("{}: ANA group {} {} -> {}", p, group, prev.label(), state.label());
        for (TargetController c : controllers) {
            if (c.port == p && !c.subsystem.discovery) {
                c.anaChanged(change);
            }
        }
    }

    /**
     * Makes a subsystem reachable through a port (like linking it under an nvmet port). The discovery
     * log changes, so discovery controllers that asked for it get the discovery-change event.
     */
    public void linkSubsystem(int portRef, String nqn) {
        TargetPort p = resolve(portRef);
        Subsystem s = subsystem(nqn);
        if (!p.subsystems.contains(s)) {
            p.subsystems.add(s);
            log.info("{}: subsystem {} linked", p, nqn);
            discoveryChanged();
        }
    }

    /**
     * Takes a subsystem off a port: its controllers through that port are deleted (their connections
     * close, as nvmet does) and new Connects to it through the port fail.
     */
    public void unlinkSubsystem(int portRef, String nqn) {
        TargetPort p = resolve(portRef);
        Subsystem s = subsystem(nqn);
        if (p.subsystems.remove(s)) {
            log.info("{}: subsystem {} unlinked", p, nqn);
            for (TargetController c : List.copyOf(s.controllers)) {
                if (c.port == p) {
                    c.delete("subsystem unlinked from " + p);
                }
            }
            discoveryChanged();
        }
    }

    /** Adds a namespace at run time; every controller of the subsystem gets the namespace-changed event. */
    public void addNamespace(String nqn, TargetConfig.NamespaceConfig nc) throws IOException {
        addNamespace(nqn, nc, nc.path() == null ? new MemoryBackend(nc.sizeBytes())
                : new FileBackend(Path.of(nc.path()), nc.sizeBytes(), blocking));
    }

    /**
     * Adds a namespace at run time over a backend of the caller's (e.g. one that models a volatile
     * write cache and its loss); {@code nc.sizeBytes()} and {@code nc.path()} are not used.
     */
    public void addNamespace(String nqn, TargetConfig.NamespaceConfig nc, Backend backend) {
        Subsystem s = subsystem(nqn);
        if (s.namespaces.containsKey(nc.nsid())) {
            throw new IllegalArgumentException("namespace " + nc.nsid() + " exists in " + nqn);
        }
        s.namespaces.put(nc.nsid(), new Namespace(nqn, nc, backend));
        log.info("subsystem {}: namespace {} added ({}, {} bytes)", nqn, nc.nsid(), backend.describe(),
                backend.sizeBytes());
        for (TargetController c : s.controllers) {
            c.namespaceChanged(nc.nsid());
        }
    }

    /** Removes a namespace at run time; its commands fail with Invalid Namespace from then on. */
    public void removeNamespace(String nqn, int nsid) {
        Subsystem s = subsystem(nqn);
        Namespace ns = s.namespaces.remove(nsid);
        if (ns == null) {
            throw new IllegalArgumentException("no namespace " + nsid + " in " + nqn);
        }
        log.info("subsystem {}: namespace {} removed", nqn, nsid);
        for (TargetController c : s.controllers) {
            c.namespaceChanged(nsid);
        }
        ns.backend.close();
    }

    private Subsystem subsystem(String nqn) {
        Subsystem s = subsystems.get(nqn);
        if (s == null) {
            throw new IllegalArgumentException("no subsystem " + nqn);
        }
        return s;
    }

    private void discoveryChanged() {
        discoveryGeneration.incrementAndGet();
        for (TargetController c : discovery.controllers) {
            c.discoveryChanged();
        }
    }

    public AnaState anaState(int portRef, int group) {
        return resolve(portRef).anaState(group);
    }

    /**
     * Applies a fault to a port ({@link Fault#NONE} clears it). Blocks while the listener closes or
     * binds again, so never call it from one of the target's event loops.
     *
     * @throws IllegalStateException when clearing {@link Fault.Down} cannot bind the port again; the
     *                               port then stays down
     */
    public void setFault(int portRef, Fault fault) {
        try {
            resolve(portRef).setFault(fault, group);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while re-binding", e);
        } catch (IOException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /**
     * Writes the port's {@link Fault.GhostWrites} fault holds now for the associations still connected
     * through it (not those of controllers already lost): what a cut of the port now would turn into
     * ghost writes.
     */
    public int heldWrites(int portRef) {
        TargetPort p = resolve(portRef);
        int n = 0;
        for (TargetController c : controllers) {
            if (c.port == p && c.connected()) {
                n += c.pendingWrites().heldCount();
            }
        }
        return n;
    }

    /**
     * Closes every connection open on a port now, without refusing new ones: a network blip. Hosts
     * see their connections drop and may reconnect at once; controllers lose their association as
     * when a host goes away (writes a {@link Fault.GhostWrites} holds are still applied). Returns the
     * number of connections cut, once they are closed. Never call it from one of the target's event loops.
     */
    public int cutConnections(int portRef) {
        TargetPort p = resolve(portRef);
        List<CompletableFuture<Void>> cuts = new ArrayList<>();
        // the connections open now: a host that reconnects while these close must not be cut too (the
        // set's iterator could show its new connection)
        for (TargetQueue q : List.copyOf(p.queues())) {
            cuts.add(q.cut(p + ": connections cut"));
        }
        try {
            CompletableFuture.allOf(cuts.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while cutting the connections of " + p, e);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("cutting the connections of " + p + ": " + e, e);
        }
        log.info("{}: {} connection(s) cut", p, cuts.size());
        return cuts.size();
    }

    public Fault fault(int portRef) {
        return resolve(portRef).fault();
    }

    /**
     * Whether no controller holds or executes a write any more: every write a {@link Fault.GhostWrites}
     * held has been applied or dropped (a test waits for this before it checks what landed).
     */
    public boolean writesSettled() {
        for (TargetController c : controllers) {
            if (!c.pendingWrites().idle()) {
                return false;
            }
        }
        return true;
    }

    /** The token bucket of the port's {@link Fault.Throttle}, null without one (tests). */
    IoThrottle throttle(int portRef) {
        return resolve(portRef).throttle();
    }

    public List<TargetView.Port> ports() {
        List<TargetView.Port> out = new ArrayList<>();
        for (TargetPort p : ports.values()) {
            out.add(view(p));
        }
        return out;
    }

    /** The view of one port, by ID or TCP port. */
    public TargetView.Port portView(int portRef) {
        return view(resolve(portRef));
    }

    private static TargetView.Port view(TargetPort p) {
        return new TargetView.Port(p.id, p.address, p.boundPort(), p.subsystems.stream().map(s -> s.nqn).toList(),
                p.anaStates(), p.fault().label(), p.connections());
    }

    public List<TargetView.Controller> controllers() {
        List<TargetView.Controller> out = new ArrayList<>();
        for (TargetController c : controllers) {
            out.add(new TargetView.Controller(c.cntlid, c.subsystem.nqn, c.hostNqn, c.port.id, c.connectedIoQueues(),
                    c.katoMillis(), c.enabled()));
        }
        out.sort((a, b) -> a.subsystem().equals(b.subsystem()) ? Integer.compare(a.cntlid(), b.cntlid())
                : a.subsystem().compareTo(b.subsystem()));
        return out;
    }

    /**
     * Completes once controller {@code cntlid} of subsystem {@code nqn} is gone: deleted, dropped for
     * keep-alive, or its host's admin connection closed. Already complete when there is no such
     * controller. Tests and drills wait on it instead of polling {@link #controllers()}.
     */
    public CompletableFuture<Void> whenControllerGone(String nqn, int cntlid) {
        Subsystem s = nqn.equals(discovery.nqn) ? discovery : subsystem(nqn);
        for (TargetController c : s.controllers) {
            if (c.cntlid == cntlid) {
                return c.gone();
            }
        }
        return CompletableFuture.completedFuture(null);
    }

    private TargetPort resolve(int portRef) {
        TargetPort p = ports.get(portRef);
        if (p != null) {
            return p;
        }
        for (TargetPort q : ports.values()) {
            if (q.boundPort() == portRef) {
                return q;
            }
        }
        throw new IllegalArgumentException("no port with ID or TCP port " + portRef + " (ports: "
                + ports.values().stream().map(q -> q.id + "=" + q.boundPort()).toList() + ")");
    }

    // ---- for the protocol engine ---------------------------------------------------------------

    long anaChangeCount() {
        return anaChangeCount.get();
    }

    long discoveryGeneration() {
        return discoveryGeneration.get();
    }

    Subsystem discovery() {
        return discovery;
    }

    int maxTransferBytes() {
        int mdts = config.limits().mdts();
        return mdts == 0 ? UNLIMITED_TRANSFER : (int) Math.min(UNLIMITED_TRANSFER, (1L << mdts) * 4096);
    }

    TargetController createController(Subsystem sub, TargetPort port, TargetQueue admin, String hostNqn, UUID hostId,
                                      long kato) {
        TargetController c = new TargetController(this, sub, port, admin, sub.allocateCntlid(), hostNqn, hostId, kato);
        sub.controllers.add(c);
        controllers.add(c);
        log.info("{}: controller {} of {} created for {} (KATO {} ms)", port, c.cntlid, sub.nqn, hostNqn, kato);
        return c;
    }

    TargetController findController(Subsystem sub, int cntlid, String hostNqn) {
        for (TargetController c : sub.controllers) {
            if (c.cntlid == cntlid && c.hostNqn.equals(hostNqn)) {
                return c;
            }
        }
        return null;
    }

    void controllerGone(TargetController c) {
        c.subsystem.controllers.remove(c);
        controllers.remove(c);
    }

    List<DiscoveryEntry> discoveryEntries(String hostNqn) {
        List<DiscoveryEntry> out = new ArrayList<>();
        for (TargetPort p : ports.values()) {
            for (Subsystem s : p.subsystems) {
                if (s.allows(hostNqn)) {
                    out.add(new DiscoveryEntry(p.id, p.advertise, p.boundPort(), s.nqn, p.tlsPsk != null));
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        for (TargetController c : controllers) {
            c.pendingWrites().stop(); // held writes release their data; none is applied by a stopping target
        }
        for (TargetPort p : ports.values()) {
            p.unbind();
            for (TargetQueue q : p.queues()) {
                q.close("target shutting down");
            }
        }
        if (discoveryPort != null) {
            discoveryPort.unbind();
            for (TargetQueue q : discoveryPort.queues()) {
                q.close("target shutting down");
            }
        }
        if (ownGroup) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
        blocking.shutdown();
        for (Subsystem s : subsystems.values()) {
            for (Namespace ns : s.namespaces.values()) {
                ns.backend.close();
            }
        }
        log.info("NVMe/TCP target stopped");
    }

    static String discoveryNqn() {
        return Opcodes.DISCOVERY_NQN;
    }
}
