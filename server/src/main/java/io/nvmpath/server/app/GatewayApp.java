package io.nvmpath.server.app;

import io.netty.handler.ssl.ClientAuth;
import io.nvmpath.server.gateway.Gateway;
import io.nvmpath.server.gateway.GatewayConfig;
import io.nvmpath.server.http.GatewayMetrics;
import io.nvmpath.server.http.HttpAccess;
import io.nvmpath.server.http.HttpAdminServer;
import io.nvmpath.server.tls.ReloadingTlsContext;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The composition root: the gateway as {@code nvmpath serve} runs it, one {@link Gateway} (paths,
 * exports, NBD) with its HTTP side — the API and {@code /metrics} ({@link HttpAdminServer},
 * {@link GatewayMetrics}) over the gateway's view and control, on the gateway's event loops, with
 * HTTPS and the access rules of {@code http} in the configuration. The layers below know nothing of
 * each other's wiring; this is the one class that knows all of them.
 *
 * <p>Start order: NBD binds (unless deferred), then HTTP, then the gateway serves and connects its
 * portals; stop order: NBD drains while HTTP still answers ({@code /health} 503), then HTTP closes,
 * then the gateway.
 */
public final class GatewayApp implements AutoCloseable {
    private final Gateway gateway;
    private final ReloadingTlsContext httpTls;
    private final GatewayMetrics metrics;
    private final HttpAdminServer http;
    private volatile InetSocketAddress httpAddress;
    private final AtomicBoolean closed = new AtomicBoolean();

    private GatewayApp(Gateway gateway, GatewayConfig.Http h) throws IOException {
        this.gateway = gateway;
        if (h == null) {
            this.httpTls = null;
            this.metrics = null;
            this.http = null;
            return;
        }
        // HTTPS asks for client certificates without requiring them: scrapers need none
        this.httpTls = h.tls() == null ? null : ReloadingTlsContext.watch("http.tls", h.tls().certificate(),
                h.tls().key(), h.tls().keyPassphrase(), h.tls().clientCa(), ClientAuth.OPTIONAL);
        GatewayMetrics m = null;
        try {
            m = new GatewayMetrics(gateway.view());
            this.http = new HttpAdminServer(h.address(), h.port(), gateway.eventLoops(), gateway.view(),
                    gateway.control(), m, HttpAdminServer.DEFAULT_PORTAL_WAIT,
                    new HttpAccess(httpTls, h.token(), h.tls() != null && h.tls().clientCa() != null));
        } catch (RuntimeException e) {
            if (m != null) {
                m.close();
            }
            if (httpTls != null) {
                httpTls.close();
            }
            throw e;
        }
        this.metrics = m;
    }

    /**
     * Starts the gateway with its HTTP side: binds NBD and HTTP (failing if they cannot be bound), then
     * connects the portals in the background — an unreachable portal is retried and reported, it does
     * not stop the gateway.
     */
    public static GatewayApp start(GatewayConfig config) throws Exception {
        return start(config, true);
    }

    /**
     * As {@link #start(GatewayConfig)}; with {@code openNbd} false the NBD listener stays closed until
     * the gateway's {@link Gateway#openNbd()} (the demo opens it once its export exists).
     */
    public static GatewayApp start(GatewayConfig config, boolean openNbd) throws Exception {
        Gateway g = Gateway.create(config);
        GatewayApp app;
        try {
            app = new GatewayApp(g, config.http());
        } catch (IOException | RuntimeException e) {
            g.close();
            throw e;
        }
        try {
            if (openNbd) {
                g.openNbd();
            }
            if (app.http != null) {
                app.httpAddress = app.http.start();
            }
            g.serve();
            return app;
        } catch (Exception e) {
            app.close();
            throw e;
        }
    }

    /** The gateway: its view, control, reloads, exports, NBD address. */
    public Gateway gateway() {
        return gateway;
    }

    /** Where the HTTP side listens, or null without one ({@code http: off}). */
    public InetSocketAddress httpAddress() {
        return httpAddress;
    }

    /**
     * Stops gracefully: /health turns 503, the NBD listener closes, in-flight NBD requests finish and
     * are answered (for at most {@code drain}), connections close, then HTTP and the controllers.
     */
    public void shutdown(Duration drain) {
        if (gateway.closedFuture().isDone()) {
            return;
        }
        gateway.drain(drain);
        close();
    }

    /** Closes HTTP, the meters and the gateway, without draining. Once only. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (http != null) {
            http.close();
        }
        if (metrics != null) {
            metrics.close();
        }
        if (httpTls != null) {
            httpTls.close();
        }
        gateway.close();
    }
}
