package io.nvmpath.server.gateway;

import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.ClientAuth;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.multipath.FailbackMode;
import io.nvmpath.multipath.IoPolicy;
import io.nvmpath.multipath.Multipath;
import io.nvmpath.multipath.MultipathOptions;
import io.nvmpath.multipath.WriteFailover;
import io.nvmpath.server.nbd.NbdExports;
import io.nvmpath.server.nbd.NbdServer;
import io.nvmpath.server.tls.ReloadingTlsContext;
import io.nvmpath.transport.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

/**
 * The gateway's life cycle: the path layer ({@link Multipath}) on its event loops, the NBD server,
 * and the parts that follow and change them — the exports ({@link ExportTable}, one per namespace
 * head), what the gateway shows ({@link #view()}), what an operator may change ({@link #control()})
 * and a reload of the configuration ({@link #reloader()}). It knows nothing of HTTP: the HTTP API and
 * {@code /metrics} are built over {@link #view()} and {@link #control()} by the composition root, one
 * layer up, which also runs {@code serve}.
 *
 * <p>Started in steps, so that a caller can bind more listeners between them: {@link #create}
 * (nothing listening, nothing connected), {@link #openNbd()}, then {@link #serve()} (serving,
 * the configured portals connecting in the background); {@link #start} does all three.
 */
public final class Gateway implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Gateway.class);

    /** The configuration in force: the start's, replaced by each reload ({@link Reloader}). */
    private final AtomicReference<GatewayConfig> config;
    private final HostIdentity identity;
    private final EventLoopGroup loops;
    private final Multipath multipath;
    private final ReloadingTlsContext nbdTls;
    private final ExportTable exports;
    private final NbdServer nbd;
    private final RunningControl control;
    private final RunningView view;
    private final Reloader reloader;
    private volatile boolean serving;
    private volatile InetSocketAddress nbdAddress;
    private final CompletableFuture<Void> closed = new CompletableFuture<>();

    private Gateway(GatewayConfig config, HostIdentity identity, int threads) throws IOException {
        this.config = new AtomicReference<>(config);
        this.identity = identity;
        // first: a bad file leaves nothing to close
        this.nbdTls = tls("nbd.tls", config.nbd().tls());
        this.loops = Transport.process().newGroup(threads, "nvmpath-io");
        this.multipath = new Multipath(multipathOptions(config, identity).withPortalOptions(this::portalOptions), loops);
        this.exports = new ExportTable(this.config::get, this::closeConnections);
        this.nbd = new NbdServer(nbdConfig(config.nbd(), nbdTls), loops, exports);
        this.control = new RunningControl(multipath, this.config::get, this::reloader);
        this.view = new RunningView(multipath, exports, this.config::get, () -> serving, () -> nbdAddress != null);
        this.reloader = new Reloader(this.config, multipath, control, exports);
        // in this order: a subsystem's configured iopolicy is set before its first export appears
        multipath.addHeadListener(control);
        multipath.addHeadListener(exports);
    }

    /**
     * The gateway of {@code config}, not yet serving: nothing listens and nothing is connected. Then
     * {@link #openNbd()} and {@link #serve()}.
     *
     * @throws IOException when the NBD TLS files cannot be used (naming the field)
     */
    public static Gateway create(GatewayConfig config) throws IOException {
        GatewayConfig.Host h = config.host();
        HostIdentity id = HostIdentity.resolve(h.nqn(), h.id(),
                h.stateFile() == null ? HostIdentity.defaultStateFile() : h.stateFile());
        return new Gateway(config, id, Math.max(2, Runtime.getRuntime().availableProcessors()));
    }

    /**
     * Starts the gateway: binds NBD (failing if it cannot be bound), then connects the portals in the
     * background — an unreachable portal is retried and reported, it does not stop the gateway.
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
        Gateway g = create(config);
        try {
            if (openNbd) {
                g.openNbd();
            }
            g.serve();
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

    /** Serves: {@code /health} is 200 from now on, and the configured portals connect in the background. */
    public void serve() {
        serving = true;
        for (GatewayConfig.Portal p : config.get().portals()) {
            control.connect(p.traddr(), p.trsvcid(), p.subnqn());
        }
    }

    /** Completes when export {@code name} (its canonical name) is served; at once when it already is. */
    public CompletableFuture<Void> awaitExport(String name) {
        return exports.awaitExport(name);
    }

    /** The export name of namespace {@code nsid} of {@code nqn}: {@code <subnqn>/<nsid>}. */
    public static String exportName(String nqn, int nsid) {
        return nqn + "/" + nsid;
    }

    private void closeConnections(String export, Predicate<SocketAddress> which, String reason) {
        nbd.disconnectExport(export, which, reason);
    }

    /**
     * The controller options of one connect: the configured ones with the DH-HMAC-CHAP secrets and the
     * TLS PSK of the portal or its subsystem, from the configuration in force (so a reload's new secrets apply from the
     * next connect).
     */
    private ControllerOptions portalOptions(TransportAddress address, String nqn, ControllerOptions base) {
        GatewayConfig c = config.get();
        GatewayConfig.Dhchap d = c.dhchapFor(address.traddr(), address.trsvcid(), nqn);
        GatewayConfig.NvmeTls t = c.tlsFor(address.traddr(), address.trsvcid(), nqn);
        if (d == null && t == null) {
            return base;
        }
        ControllerOptions o = base.copy();
        if (d != null) {
            o.dhchapSecret(d.secret()).dhchapCtrlSecret(d.ctrlSecret());
        }
        if (t != null) {
            o.tlsPsk(t.psk());
        }
        return o;
    }

    private static MultipathOptions multipathOptions(GatewayConfig c, HostIdentity id) {
        GatewayConfig.Controller k = c.controller();
        ControllerOptions co = new ControllerOptions().hostNqn(id.nqn()).hostId(id.id())
                .keepAliveTimeout(k.keepAliveTimeout()).reconnectDelay(k.reconnectDelay())
                .ctrlLossTimeout(k.ctrlLossTimeout()).ioTimeout(k.ioTimeout()).connectTimeout(k.connectTimeout())
                .ioQueueSize(k.ioQueueSize()).headerDigest(k.headerDigest()).dataDigest(k.dataDigest())
                .dhchapReauthPeriod(k.dhchapReauthPeriod());
        if (k.ioQueues() > 0) {
            co.ioQueues(k.ioQueues());
        }
        GatewayConfig.Multipath m = c.multipath();
        Duration noPath = m.noPathTimeout().isNegative() ? null : m.noPathTimeout();
        return MultipathOptions.defaults().withIoPolicy(IoPolicy.fromLabel(m.iopolicy())).withNoPathTimeout(noPath)
                .withWriteFailover(WriteFailover.fromLabel(m.writeFailover()))
                .withUnreportedQuiesceTime(m.unreportedQuiesceTime())
                .withMarginal(m.marginal().failures(), m.marginal().window(), m.marginal().hold())
                .withFailback(FailbackMode.valueOf(m.failback().toUpperCase(Locale.ROOT)), m.failbackDelay())
                .withDelayedRemoval(m.delayedRemoval()).withController(co);
    }

    private static NbdServer.Config nbdConfig(GatewayConfig.Nbd n, ReloadingTlsContext tls) {
        NbdServer.TlsMode mode = NbdServer.TlsMode.valueOf(n.tls().mode().toUpperCase(Locale.ROOT));
        return NbdServer.Config.defaults().bind(n.listen().address(), n.listen().port())
                .tls(mode, mode == NbdServer.TlsMode.OFF ? null : tls).maxPayload(n.maxPayload());
    }

    /**
     * The NBD TLS context from {@code t}'s files, followed as they change; null without TLS (absent or
     * mode off). Client certificates are required when a client CA is set.
     */
    private static ReloadingTlsContext tls(String field, GatewayConfig.Tls t) throws IOException {
        if (t == null || t.mode().equals("off")) {
            return null;
        }
        return ReloadingTlsContext.watch(field, t.certificate(), t.key(), t.keyPassphrase(), t.clientCa(),
                ClientAuth.REQUIRE);
    }

    // ---- the parts -----------------------------------------------------------------------------

    /** What the gateway shows: for the HTTP API, {@code /metrics} and list-subsys. */
    public GatewayView view() {
        return view;
    }

    /** What an operator may change at run time. */
    public GatewayControl control() {
        return control;
    }

    /** The exports, as the NBD server looks them up. */
    public NbdExports nbdExports() {
        return exports;
    }

    /** Reloads of the configuration: where it is read from, where a new log level goes. */
    public Reloader reloader() {
        return reloader;
    }

    public HostIdentity identity() {
        return identity;
    }

    public Multipath multipath() {
        return multipath;
    }

    /** The event loops of the controllers and the NBD connections (left for others to share, shut down by {@link #close()}). */
    public EventLoopGroup eventLoops() {
        return loops;
    }

    /** Where NBD clients connect; null until {@link #openNbd()}. */
    public InetSocketAddress nbdAddress() {
        return nbdAddress;
    }

    // ---- life cycle -----------------------------------------------------------------------------

    /**
     * Stops gracefully: /health turns 503, the NBD listener closes, in-flight NBD requests finish and
     * are answered (for at most {@code drain}), connections close, then the controllers disconnect.
     */
    public void shutdown(Duration drain) {
        if (closed.isDone()) {
            return;
        }
        drain(drain);
        close();
    }

    /**
     * The first half of {@link #shutdown}: stops serving ({@code /health} turns 503), closes the NBD
     * listener and lets the requests in flight finish and be answered, for at most {@code drain}.
     */
    public void drain(Duration drain) {
        if (closed.isDone()) {
            return;
        }
        serving = false;
        log.info("shutting down: draining NBD requests for at most {} s", drain.toSeconds());
        try {
            nbd.closeGracefully(drain).get(drain.toMillis() + 5000, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            log.warn("NBD drain: {}", e.toString());
        }
    }

    @Override
    public void close() {
        if (closed.isDone()) {
            return;
        }
        serving = false;
        nbd.close();
        multipath.close();
        if (nbdTls != null) {
            nbdTls.close();
        }
        loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        closed.complete(null);
        exports.stopWaiting();
        log.info("stopped");
    }

    /** Completes once the gateway has stopped. */
    public CompletableFuture<Void> closedFuture() {
        return closed;
    }
}
