package io.nvmpath.server.gateway;

import io.netty.channel.EventLoopGroup;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.multipath.FailbackMode;
import io.nvmpath.multipath.IoPolicy;
import io.nvmpath.multipath.Multipath;
import io.nvmpath.multipath.MultipathOptions;
import io.nvmpath.multipath.MultipathView;
import io.nvmpath.multipath.NamespaceHead;
import io.nvmpath.server.block.HeadBlockDevice;
import io.nvmpath.server.http.GatewayMetrics;
import io.nvmpath.server.http.HttpAccess;
import io.nvmpath.server.http.HttpAdminServer;
import io.nvmpath.server.nbd.ClientNetwork;
import io.nvmpath.server.nbd.ExportStats;
import io.nvmpath.server.nbd.NbdExport;
import io.nvmpath.server.nbd.NbdExports;
import io.nvmpath.server.nbd.NbdServer;
import io.nvmpath.server.tls.ReloadingTlsContext;
import io.nvmpath.server.tls.TlsMaterial;
import io.nvmpath.server.tls.TlsMaterialException;
import io.nvmpath.fabric.transport.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The gateway: the path layer, one NBD export per namespace head, and the HTTP side.
 *
 * <p>Exports follow the heads: a head that appears (a portal connected, a namespace attached) is
 * exported as {@code <subnqn>/<nsid>} (and its configured aliases); a head that goes (its last path
 * gone for good) takes its export and that export's connections with it.
 */
public final class Gateway implements GatewayView, GatewayControl, NbdExports, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Gateway.class);

    /** One export and what it serves. */
    private record Entry(NamespaceHead head, NbdExport export, List<String> aliases) {
    }

    /** The configuration in force: replaced by {@link #reload}; what cannot change at run time is the start's. */
    private volatile GatewayConfig config;
    /** Where {@link #reload()} reads the configuration again (set by {@code serve --config}); null: none. */
    private volatile java.util.function.Supplier<GatewayConfig> configSource;
    /** Applies a reloaded log level (set by {@code serve} unless its command line fixed one); null: ignored. */
    private volatile java.util.function.Consumer<String> logLevel;
    private final HostIdentity identity;
    private final EventLoopGroup loops;
    private final Multipath multipath;
    private final Map<String, Entry> exports = new ConcurrentHashMap<>();
    private final Map<String, String> aliases = new ConcurrentHashMap<>();
    private final Set<String> configuredSubsystems = ConcurrentHashMap.newKeySet();
    private final ReloadingTlsContext nbdTls;
    private final ReloadingTlsContext httpTls;
    private final NbdServer nbd;
    private final GatewayMetrics metrics;
    private final HttpAdminServer http;
    /** Who waits for an export to appear ({@link #awaitExport}), by export name. */
    private final Map<String, CompletableFuture<Void>> exportWaiters = new ConcurrentHashMap<>();
    private volatile boolean serving;
    private volatile InetSocketAddress nbdAddress;
    private volatile InetSocketAddress httpAddress;
    private final CompletableFuture<Void> closed = new CompletableFuture<>();

    private Gateway(GatewayConfig config, HostIdentity identity, int threads) throws IOException {
        this.config = config;
        this.identity = identity;
        // first: a bad file leaves nothing to close
        this.nbdTls = tls("nbd.tls", config.nbd().tls(), io.netty.handler.ssl.ClientAuth.REQUIRE);
        try {
            this.httpTls = config.http() == null ? null
                    : tls("http.tls", config.http().tls(), io.netty.handler.ssl.ClientAuth.OPTIONAL);
        } catch (IOException e) {
            if (nbdTls != null) {
                nbdTls.close();
            }
            throw e;
        }
        this.loops = Transport.process().newGroup(threads, "nvmpath-io");
        this.multipath = new Multipath(multipathOptions(config, identity), loops);
        this.nbd = new NbdServer(nbdConfig(config.nbd(), nbdTls), loops, this);
        this.metrics = new GatewayMetrics(this);
        this.http = config.http() == null ? null
                : new HttpAdminServer(config.http().address(), config.http().port(), loops, this, this, metrics,
                        HttpAdminServer.DEFAULT_PORTAL_WAIT, new HttpAccess(httpTls, config.http().token(),
                        config.http().tls() != null && config.http().tls().clientCa() != null));
    }

    /**
     * Starts the gateway: binds NBD and HTTP (failing if they cannot be bound), then connects the
     * portals in the background — an unreachable portal is retried and reported, it does not stop the
     * gateway.
     */
    public static Gateway start(GatewayConfig config) throws Exception {
        return start(config, true);
    }

    /**
     * As {@link #start(GatewayConfig)}; with {@code openNbd} false the NBD listener stays closed until
     * {@link #openNbd()} (for a caller that opens it once an export exists, so that the first client's
     * export is there).
     */
    public static Gateway start(GatewayConfig config, boolean openNbd) throws Exception {
        GatewayConfig.Host h = config.host();
        HostIdentity id = HostIdentity.resolve(h.nqn(), h.id(),
                h.stateFile() == null ? HostIdentity.defaultStateFile() : h.stateFile());
        Gateway g = new Gateway(config, id, Math.max(2, Runtime.getRuntime().availableProcessors()));
        try {
            g.multipath.addHeadListener(g.new HeadEvents());
            if (openNbd) {
                g.openNbd();
            }
            if (g.http != null) {
                g.httpAddress = g.http.start();
            }
            g.serving = true;
            for (GatewayConfig.Portal p : config.portals()) {
                g.connect(p.traddr(), p.trsvcid(), p.subnqn());
            }
            return g;
        } catch (Exception e) {
            g.close();
            throw e;
        }
    }

    /** Binds the NBD listener (once; a second call returns where it listens). */
    public synchronized InetSocketAddress openNbd() throws IOException {
        if (nbdAddress == null) {
            nbdAddress = nbd.start();
        }
        return nbdAddress;
    }

    /** Completes when export {@code name} (its canonical name) is served; at once when it already is. */
    public CompletableFuture<Void> awaitExport(String name) {
        CompletableFuture<Void> f = exportWaiters.computeIfAbsent(name, k -> new CompletableFuture<>());
        if (exports.containsKey(name)) {
            f.complete(null);
        }
        return f;
    }

    private CompletableFuture<Void> connect(String traddr, int trsvcid, String subnqn) {
        TransportAddress a = new TransportAddress(traddr, trsvcid);
        CompletableFuture<?> f = subnqn == null ? multipath.addDiscovery(a) : multipath.addPortal(a, subnqn);
        return f.thenApply(x -> (Void) null);
    }

    private static MultipathOptions multipathOptions(GatewayConfig c, HostIdentity id) {
        GatewayConfig.Controller k = c.controller();
        ControllerOptions co = new ControllerOptions().hostNqn(id.nqn()).hostId(id.id())
                .keepAliveTimeout(k.keepAliveTimeout()).reconnectDelay(k.reconnectDelay())
                .ctrlLossTimeout(k.ctrlLossTimeout()).ioTimeout(k.ioTimeout()).connectTimeout(k.connectTimeout())
                .ioQueueSize(k.ioQueueSize()).headerDigest(k.headerDigest()).dataDigest(k.dataDigest());
        if (k.ioQueues() > 0) {
            co.ioQueues(k.ioQueues());
        }
        GatewayConfig.Multipath m = c.multipath();
        Duration noPath = m.noPathTimeout().isNegative() ? null : m.noPathTimeout();
        return MultipathOptions.defaults().withIoPolicy(IoPolicy.fromLabel(m.iopolicy())).withNoPathTimeout(noPath)
                .withFailback(FailbackMode.valueOf(m.failback().toUpperCase(Locale.ROOT)), m.failbackDelay())
                .withDelayedRemoval(m.delayedRemoval()).withController(co);
    }

    /** How often the TLS files are compared with what was loaded (certificate rotation). */
    static final Duration TLS_WATCH_PERIOD = Duration.ofSeconds(2);

    private static NbdServer.Config nbdConfig(GatewayConfig.Nbd n, ReloadingTlsContext tls) {
        NbdServer.TlsMode mode = NbdServer.TlsMode.valueOf(n.tls().mode().toUpperCase(Locale.ROOT));
        return NbdServer.Config.defaults().bind(n.listen().address(), n.listen().port())
                .tls(mode, mode == NbdServer.TlsMode.OFF ? null : tls).maxPayload(n.maxPayload());
    }

    /**
     * A TLS context from {@code t}'s files, followed as they change; null without TLS (absent or mode
     * off). NBD requires client certificates when a client CA is set; HTTP asks for them (scrapers need none).
     */
    private static ReloadingTlsContext tls(String field, GatewayConfig.Tls t, io.netty.handler.ssl.ClientAuth clientAuth)
            throws IOException {
        if (t == null || t.mode().equals("off")) {
            return null;
        }
        try {
            return new ReloadingTlsContext(field.substring(0, field.indexOf('.')).toUpperCase(Locale.ROOT),
                    java.util.Arrays.asList(t.certificate(), t.key(), t.keyPassphrase(), t.clientCa()),
                    () -> TlsMaterial.load(t.certificate(), t.key(), t.keyPassphrase(), t.clientCa()),
                    TLS_WATCH_PERIOD, clientAuth);
        } catch (TlsMaterialException e) {
            throw new IOException(field + ": " + e.getMessage(), e);
        }
    }

    // ---- exports follow heads ----------------------------------------------------------------

    private final class HeadEvents implements Multipath.HeadListener {
        @Override
        public void headAdded(NamespaceHead head) {
            String nqn = head.subsystem().nqn();
            if (configuredSubsystems.add(nqn)) {
                GatewayConfig.Subsystem s = config.subsystems().get(nqn);
                if (s != null && s.iopolicy() != null) {
                    multipath.ioPolicy(nqn, IoPolicy.fromLabel(s.iopolicy()));
                }
                if (s != null && s.preferredPath() != null) {
                    multipath.preferredPath(nqn, s.preferredPath());
                }
            }
            String name = exportName(nqn, head.nsid());
            GatewayConfig c = config;
            GatewayConfig.Export ec = c.exports().getOrDefault(name, GatewayConfig.Export.DEFAULT);
            NbdExport e = new NbdExport(name, "namespace " + head.nsid() + " of " + nqn + " (" + head.ids() + ")",
                    new HeadBlockDevice(head), ec.readOnly(), allowed(c, ec), new ExportStats());
            exports.put(name, new Entry(head, e, ec.aliases()));
            for (String a : ec.aliases()) {
                aliases.put(a, name);
            }
            log.info("export {}{}: {} MiB, {} B blocks{}", name, ec.aliases().isEmpty() ? "" : " " + ec.aliases(),
                    head.sizeBytes() >> 20, head.lbaSize(), ec.readOnly() ? ", read-only" : "");
            CompletableFuture<Void> waiter = exportWaiters.get(name);
            if (waiter != null) {
                waiter.complete(null);
            }
        }

        @Override
        public void headRemoved(NamespaceHead head) {
            String name = exportName(head.subsystem().nqn(), head.nsid());
            Entry e = exports.get(name);
            if (e != null && e.head() == head) {
                exports.remove(name);
                e.aliases().forEach(aliases::remove);
                log.info("export {} removed: namespace head gone", name);
                nbd.disconnectExport(name);
            }
        }
    }

    /** The client networks of an export: its own list, else the NBD listener's. */
    private static List<ClientNetwork> allowed(GatewayConfig c, GatewayConfig.Export ec) {
        return (ec.allow().isEmpty() ? c.nbd().allow() : ec.allow()).stream().map(ClientNetwork::parse).toList();
    }

    /** The export name of namespace {@code nsid} of {@code nqn}: {@code <subnqn>/<nsid>}. */
    public static String exportName(String nqn, int nsid) {
        return nqn + "/" + nsid;
    }

    @Override
    public NbdExport find(String name) {
        Entry e = exports.get(name);
        if (e == null) {
            String target = aliases.get(name);
            e = target == null ? null : exports.get(target);
        }
        return e == null ? null : e.export();
    }

    @Override
    public List<NbdExport> list() {
        return exports.values().stream().map(Entry::export).sorted(Comparator.comparing(NbdExport::name)).toList();
    }

    // ---- GatewayView ----------------------------------------------------------------------------

    @Override
    public List<MultipathView.Subsystem> subsystems() {
        return multipath.view();
    }

    @Override
    public List<Export> exports() {
        List<Export> out = new ArrayList<>();
        for (Entry e : exports.values()) {
            ExportStats s = e.export().stats();
            Map<String, Long> requests = new java.util.TreeMap<>();
            Map<String, Long> bytes = new java.util.TreeMap<>();
            for (ExportStats.Op op : ExportStats.Op.values()) {
                String k = op.name().toLowerCase(Locale.ROOT);
                requests.put(k, s.requests(op));
                bytes.put(k, s.bytes(op));
            }
            NamespaceHead h = e.head();
            boolean available = h.paths().stream().anyMatch(p -> p.usable());
            out.add(new Export(e.export().name(), e.aliases(), h.subsystem().nqn(), h.nsid(), h.sizeBytes(),
                    h.lbaSize(), e.export().readOnly(), available, s.connections(), s.connectionsTotal(),
                    s.inFlight(), requests, bytes, s.errors()));
        }
        out.sort(Comparator.comparing(Export::name));
        return out;
    }

    @Override
    public List<Portal> portals() {
        return multipath.portals().stream().map(p -> new Portal(p.kind(), p.address().traddr(), p.address().trsvcid(),
                p.nqn(), p.state(), p.lastError())).toList();
    }

    @Override
    public boolean serving() {
        return serving;
    }

    /**
     * Ready once serving with the NBD listener open, every configured portal tried once (connected or
     * failed: an unreachable portal is retried in the background and does not hold readiness), and at
     * least one export served.
     */
    @Override
    public Readiness readiness() {
        List<String> waiting = new ArrayList<>();
        if (!serving) {
            waiting.add("the gateway to serve (it is starting or stopping)");
        } else if (nbdAddress == null) {
            waiting.add("the NBD listener (opens once the first export is served)");
        }
        List<Multipath.PortalView> known = multipath.portals();
        for (GatewayConfig.Portal p : config.portals()) {
            TransportAddress a = new TransportAddress(p.traddr(), p.trsvcid());
            boolean tried = known.stream().anyMatch(v -> v.address().equals(a)
                    && java.util.Objects.equals(v.nqn(), p.subnqn()) && !"connecting".equals(v.state()));
            if (!tried) {
                waiting.add("portal " + a + " " + (p.subnqn() == null ? "(discovery)" : p.subnqn())
                        + ": first connect not finished");
            }
        }
        if (exports.isEmpty()) {
            waiting.add("an export: no namespace head has a path yet");
        }
        return new Readiness(waiting.isEmpty(), waiting);
    }

    // ---- GatewayControl -------------------------------------------------------------------------

    @Override
    public void ioPolicy(String nqn, String policy) {
        multipath.ioPolicy(nqn, IoPolicy.fromLabel(policy));
        log.info("{}: iopolicy set to {}", nqn, IoPolicy.fromLabel(policy).label());
    }

    @Override
    public void preferredPath(String nqn, String path) {
        multipath.preferredPath(nqn, path);
        log.info("{}: preferred path {}", nqn, path == null ? "cleared" : path);
    }

    @Override
    public CompletableFuture<Void> addPortal(String traddr, int trsvcid, String subnqn) {
        if (traddr == null || traddr.isBlank()) {
            throw new IllegalArgumentException("traddr is missing");
        }
        if (trsvcid < 1 || trsvcid > 65535) {
            throw new IllegalArgumentException("trsvcid " + trsvcid + " is not a port");
        }
        log.info("portal {}:{} {} added", traddr, trsvcid, subnqn == null ? "(discovery)" : subnqn);
        return connect(traddr, trsvcid, subnqn);
    }

    @Override
    public boolean removePortal(String traddr, int trsvcid, String subnqn) {
        return multipath.removePortal(new TransportAddress(traddr, trsvcid), subnqn);
    }

    // ---- reload -------------------------------------------------------------------------------

    /** Where {@link #reload()} reads the configuration from (the file {@code serve} was given, with its overrides). */
    public void configSource(java.util.function.Supplier<GatewayConfig> source) {
        this.configSource = source;
    }

    /** Where a reloaded {@code log.level} goes. */
    public void onLogLevel(java.util.function.Consumer<String> apply) {
        this.logLevel = apply;
    }

    @Override
    public ReloadResult reload() {
        java.util.function.Supplier<GatewayConfig> source = configSource;
        if (source == null) {
            throw new IllegalStateException("there is no configuration file to reload (serve --demo)");
        }
        return reload(source.get()); // a ConfigException here: nothing applied
    }

    /**
     * Applies a new configuration without a restart: portals added and removed, export aliases,
     * read-only and allow-lists (the NBD listener's and each export's), iopolicy and preferred path
     * per subsystem. Connections that are still allowed stay; one whose export became read-only, or
     * whose client the export no longer allows, is closed (its requests answered first) with the
     * reason logged. What can change only at a start (listeners, TLS settings, host identity,
     * controller options, multipath timers) is reported in {@link ReloadResult#needsRestart()} and
     * left as it is.
     */
    public synchronized ReloadResult reload(GatewayConfig next) {
        GatewayConfig old = config;
        List<String> applied = new ArrayList<>();
        ConfigDiff diff = ConfigDiff.between(old, next);
        List<String> restart = new ArrayList<>(diff.needsRestart());
        GatewayConfig effective = diff.effective();
        GatewayConfig.Multipath om = old.multipath();
        GatewayConfig.Multipath nm = next.multipath();
        config = effective;
        if (!old.log().equals(next.log())) {
            java.util.function.Consumer<String> apply = logLevel;
            if (apply != null) {
                apply.accept(next.log().level());
                applied.add("log level " + next.log().level());
            } else {
                restart.add("log.level (the command line set the level)");
            }
        }

        // portals
        for (GatewayConfig.Portal p : diff.portalsRemoved()) {
            removePortal(p.traddr(), p.trsvcid(), p.subnqn());
            applied.add("portal " + p.traddr() + ":" + p.trsvcid() + " " + portalName(p) + " removed");
        }
        for (GatewayConfig.Portal p : diff.portalsAdded()) {
            connect(p.traddr(), p.trsvcid(), p.subnqn());
            applied.add("portal " + p.traddr() + ":" + p.trsvcid() + " " + portalName(p) + " added");
            log.info("portal {}:{} {} added", p.traddr(), p.trsvcid(), portalName(p));
        }
        // iopolicy and preferred path of the subsystems there are
        for (MultipathView.Subsystem sub : multipath.view()) {
            GatewayConfig.Subsystem was = old.subsystems().get(sub.nqn());
            GatewayConfig.Subsystem is = next.subsystems().get(sub.nqn());
            String policy = is != null && is.iopolicy() != null ? is.iopolicy() : nm.iopolicy();
            String before = was != null && was.iopolicy() != null ? was.iopolicy() : om.iopolicy();
            if (!IoPolicy.fromLabel(policy).equals(IoPolicy.fromLabel(before))) {
                ioPolicy(sub.nqn(), policy);
                applied.add(sub.nqn() + ": iopolicy " + IoPolicy.fromLabel(policy).label());
            }
            String prefer = is == null ? null : is.preferredPath();
            String preferred = was == null ? null : was.preferredPath();
            if (!java.util.Objects.equals(prefer, preferred)) {
                preferredPath(sub.nqn(), prefer);
                applied.add(sub.nqn() + ": preferred path " + (prefer == null ? "cleared" : prefer));
            }
        }
        // exports: aliases, read-only, allow-lists
        for (Map.Entry<String, Entry> x : exports.entrySet()) {
            String name = x.getKey();
            Entry e = x.getValue();
            GatewayConfig.Export ec = next.exports().getOrDefault(name, GatewayConfig.Export.DEFAULT);
            List<ClientNetwork> allow = allowed(effective, ec);
            NbdExport was = e.export();
            if (was.readOnly() != ec.readOnly() || !was.allow().equals(allow) || !e.aliases().equals(ec.aliases())) {
                NbdExport now = was.with(ec.readOnly(), allow);
                exports.put(name, new Entry(e.head(), now, ec.aliases()));
                e.aliases().stream().filter(a -> !ec.aliases().contains(a)).forEach(aliases::remove);
                ec.aliases().forEach(a -> aliases.put(a, name));
                if (!e.aliases().equals(ec.aliases())) {
                    applied.add("export " + name + ": aliases " + ec.aliases());
                }
                if (ec.readOnly() && !was.readOnly()) {
                    applied.add("export " + name + ": read-only");
                    nbd.disconnectExport(name, remote -> true, "the export became read-only");
                } else if (!ec.readOnly() && was.readOnly()) {
                    applied.add("export " + name + ": writable");
                }
                if (!was.allow().equals(allow)) {
                    applied.add("export " + name + ": clients from " + (allow.isEmpty() ? "anywhere"
                            : allow.stream().map(ClientNetwork::text).toList()));
                    nbd.disconnectExport(name, remote -> !now.allows(remote),
                            "the export's allow-list no longer has this client");
                }
            }
        }
        log.info("configuration reloaded: {}{}", applied.isEmpty() ? "nothing changed" : String.join("; ", applied),
                restart.isEmpty() ? "" : "; needs a restart to change: " + String.join(", ", restart));
        return new ReloadResult(applied, restart);
    }

    private static String portalName(GatewayConfig.Portal p) {
        return p.subnqn() == null ? "(discovery)" : p.subnqn();
    }

    // ---- life cycle -----------------------------------------------------------------------------

    public HostIdentity identity() {
        return identity;
    }

    public Multipath multipath() {
        return multipath;
    }

    /** Where NBD clients connect. */
    public InetSocketAddress nbdAddress() {
        return nbdAddress;
    }

    /** Where the HTTP side listens, or null. */
    public InetSocketAddress httpAddress() {
        return httpAddress;
    }

    /**
     * Stops gracefully: /health turns 503, the NBD listener closes, in-flight NBD requests finish and
     * are answered (for at most {@code drain}), connections close, then the controllers disconnect.
     */
    public void shutdown(Duration drain) {
        if (!serving && closed.isDone()) {
            return;
        }
        serving = false;
        log.info("shutting down: draining NBD requests for at most {} s", drain.toSeconds());
        try {
            nbd.closeGracefully(drain).get(drain.toMillis() + 5000, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            log.warn("NBD drain: {}", e.toString());
        }
        close();
    }

    @Override
    public void close() {
        if (closed.isDone()) {
            return;
        }
        serving = false;
        nbd.close();
        multipath.close();
        if (http != null) {
            http.close();
        }
        metrics.close();
        if (nbdTls != null) {
            nbdTls.close();
        }
        if (httpTls != null) {
            httpTls.close();
        }
        loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        closed.complete(null);
        exportWaiters.values().forEach(f -> f.completeExceptionally(new IllegalStateException("gateway stopped")));
        log.info("stopped");
    }

    /** Completes once the gateway has stopped. */
    public CompletableFuture<Void> closedFuture() {
        return closed;
    }
}
