package io.nvmpath.server.http;

import io.netty.channel.EventLoopGroup;
import io.nvmpath.http.HttpApiServer;
import io.nvmpath.server.gateway.GatewayConfig;
import io.nvmpath.server.gateway.GatewayControl;
import io.nvmpath.server.gateway.GatewayView;
import io.nvmpath.transport.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The gateway's HTTP endpoint: Prometheus {@code /metrics}, {@code /health}, and the admin API over a
 * {@link GatewayView} and {@link GatewayControl} (resources and errors in {@link HttpApi}; in short,
 * {@code GET /api/v1/subsystems}, {@code /exports}, {@code /portals}; {@code POST
 * /api/v1/subsystems/{nqn}/iopolicy} and {@code /preferred-path}; {@code POST /api/v1/portals} to add a
 * portal, {@code DELETE /api/v1/portals?traddr=..&trsvcid=..&subnqn=..} to remove one).
 *
 * <p>HTTP/1.1 on the given event loops (or one of its own), served by the shared
 * {@link HttpApiServer}: every request is answered on one HTTP executor thread (scrapes, view
 * snapshots and control calls never run on the event loop), after {@link HttpAccess} allowed it;
 * a portal's connection is awaited by callback, at most {@code portalWait}. Request bodies are
 * bounded by {@link #MAX_REQUEST_BYTES}.
 *
 * <p>It binds to loopback by default ({@link #DEFAULT_ADDRESS}:{@link #DEFAULT_PORT}): anyone who can
 * reach it can add and remove portals, unless {@link HttpAccess} asks for a token or a certificate.
 */
public final class HttpAdminServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HttpAdminServer.class);

    /** The gateway's default HTTP port (what {@code nvmpath list-subsys} connects to without {@code --url}). */
    public static final int DEFAULT_PORT = GatewayConfig.DEFAULT_HTTP_PORT;
    /** The default bind address: loopback only. */
    public static final String DEFAULT_ADDRESS = "127.0.0.1";
    /** How long {@code POST /api/v1/portals} waits for the connection before answering 202 Accepted. */
    public static final Duration DEFAULT_PORTAL_WAIT = Duration.ofSeconds(5);
    /** Largest request body accepted (the API's bodies are a few dozen bytes); larger ones get 413. */
    public static final int MAX_REQUEST_BYTES = HttpApiServer.Config.DEFAULT_MAX_REQUEST_BYTES;

    private final String address;
    private final EventLoopGroup group;
    private final boolean ownsGroup;
    private final HttpAccess access;
    private final HttpApiServer server;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** As the full constructor, with {@link #DEFAULT_PORTAL_WAIT}. */
    public HttpAdminServer(String address, int port, EventLoopGroup group, GatewayView view, GatewayControl control,
                           GatewayMetrics metrics) {
        this(address, port, group, view, control, metrics, DEFAULT_PORTAL_WAIT);
    }

    /**
     * A server for {@code address:port}, not yet listening ({@link #start()}).
     *
     * @param port the TCP port; 0 picks a free one
     * @param group the event loops to serve on, left running by {@link #close()}; null for one of its own
     * @param metrics what {@code /metrics} scrapes; the caller keeps and closes it
     * @param portalWait how long {@code POST /api/v1/portals} waits for the connection before it answers 202
     */
    public HttpAdminServer(String address, int port, EventLoopGroup group, GatewayView view, GatewayControl control,
                           GatewayMetrics metrics, Duration portalWait) {
        this(address, port, group, view, control, metrics, portalWait, HttpAccess.PLAIN);
    }

    /**
     * As the other constructor, with HTTPS and the access rules of {@code access}.
     */
    public HttpAdminServer(String address, int port, EventLoopGroup group, GatewayView view, GatewayControl control,
                           GatewayMetrics metrics, Duration portalWait, HttpAccess access) {
        HttpApiServer.Config config = HttpApiServer.Config.of(address, port).maxRequestBytes(MAX_REQUEST_BYTES)
                .tls(access.tls()).named("http", "HTTP").unavailable("the gateway's HTTP server is shutting down");
        this.address = address;
        this.access = access;
        this.ownsGroup = group == null;
        this.group = ownsGroup ? Transport.process().newGroup(1, "nvmpath-http") : group;
        ExecutorService executor = HttpApiServer.newExecutor("nvmpath-http");
        HttpApi api = new HttpApi(view, control, metrics, executor, portalWait);
        this.server = new HttpApiServer(config, this.group, Transport.of(this.group).serverSocketChannel(), executor,
                new HttpAdminHandler(api, access, HttpAccess.isLoopback(address)),
                LoggerFactory.getLogger(HttpAdminHandler.class));
    }

    /**
     * Listens; returns the bound address (its port is the chosen one when 0 was asked for).
     *
     * @throws BindException naming the address when it cannot be bound
     */
    public InetSocketAddress start() throws IOException, InterruptedException {
        InetSocketAddress bound = server.start();
        log.info("HTTP endpoint at {}", uri());
        return bound;
    }

    /** The bound address and port. */
    public InetSocketAddress localAddress() {
        return server.localAddress();
    }

    /** The bound TCP port. */
    public int port() {
        return server.localAddress().getPort();
    }

    /** Where to reach it: {@code http://127.0.0.1:9810} ({@code https://} with TLS). */
    public URI uri() {
        return URI.create((access.tls() == null ? "http://" : "https://") + GatewayCollector.hostPort(address, port()));
    }

    /**
     * Stops listening, answers the requests already taken (a portal still awaited gets 503), then
     * closes every connection; shuts the event loop down only if it is this server's own. Once only.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        server.close();
        if (ownsGroup) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (server.started()) {
            log.info("HTTP endpoint {} stopped", uri());
        }
    }
}
