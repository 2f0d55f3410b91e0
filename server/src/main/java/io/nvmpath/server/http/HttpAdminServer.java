package io.nvmpath.server.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.nvmpath.server.gateway.GatewayControl;
import io.nvmpath.server.gateway.GatewayView;
import io.nvmpath.fabric.transport.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The gateway's HTTP endpoint: Prometheus {@code /metrics}, {@code /health}, and the admin API over a
 * {@link GatewayView} and {@link GatewayControl} (resources and errors in {@link HttpApi}; in short,
 * {@code GET /api/v1/subsystems}, {@code /exports}, {@code /portals}; {@code POST
 * /api/v1/subsystems/{nqn}/iopolicy} and {@code /preferred-path}; {@code POST /api/v1/portals} to add a
 * portal, {@code DELETE /api/v1/portals?traddr=..&trsvcid=..&subnqn=..} to remove one).
 *
 * <p>HTTP/1.1 on the given event loops (or one of its own); every request is answered on one HTTP executor thread
 * (scrapes, view snapshots and control calls never run on the event loop), and a portal's
 * connection is awaited by callback, at most {@code portalWait}. Request bodies are bounded by
 * {@link #MAX_REQUEST_BYTES}.
 *
 * <p>It binds to loopback by default ({@link #DEFAULT_ADDRESS}:{@link #DEFAULT_PORT}): anyone who can
 * reach it can add and remove portals.
 */
public final class HttpAdminServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HttpAdminServer.class);

    /** The gateway's default HTTP port (what {@code nvmpath list-subsys} connects to without {@code --url}). */
    public static final int DEFAULT_PORT = 9810;
    /** The default bind address: loopback only. */
    public static final String DEFAULT_ADDRESS = "127.0.0.1";
    /** How long {@code POST /api/v1/portals} waits for the connection before answering 202 Accepted. */
    public static final Duration DEFAULT_PORTAL_WAIT = Duration.ofSeconds(5);
    /** Largest request body accepted (the API's bodies are a few dozen bytes); larger ones get 413. */
    public static final int MAX_REQUEST_BYTES = 64 * 1024;

    private final String address;
    private final int requestedPort;
    private final EventLoopGroup group;
    private final boolean ownsGroup;
    private final ExecutorService executor;
    private final HttpApi api;
    private final HttpAccess access;
    /** The listener is on a loopback address (state changes need no credentials there unless configured). */
    private final boolean loopback;
    /** Every open connection, closed by {@link #close()} (the event loops may outlive this server). */
    private final ChannelGroup connections;
    private final AtomicBoolean closed = new AtomicBoolean();
    private Channel listener;
    private InetSocketAddress bound;

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
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("HTTP port must be 0..65535, not " + port);
        }
        this.address = address;
        this.requestedPort = port;
        this.access = access;
        this.loopback = HttpAccess.isLoopback(address);
        this.ownsGroup = group == null;
        this.group = ownsGroup ? Transport.process().newGroup(1, "nvmpath-http") : group;
        this.executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "nvmpath-http");
            t.setDaemon(true);
            return t;
        });
        this.api = new HttpApi(view, control, metrics, executor, portalWait);
        this.connections = new DefaultChannelGroup("nvmpath-http", GlobalEventExecutor.INSTANCE);
    }

    /**
     * Listens; returns the bound address (its port is the chosen one when 0 was asked for).
     *
     * @throws BindException naming the address when it cannot be bound
     */
    public InetSocketAddress start() throws IOException, InterruptedException {
        if (listener != null) {
            throw new IllegalStateException("already started on " + bound);
        }
        ServerBootstrap b = new ServerBootstrap()
                .group(group)
                .channel(Transport.of(group).serverSocketChannel())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        connections.add(ch);
                        if (access.tls() != null) {
                            ch.pipeline().addLast("tls", access.tls().get().newHandler(ch.alloc()));
                        }
                        ch.pipeline().addLast("http", new HttpServerCodec());
                        ch.pipeline().addLast("aggregator", new HttpAdminHandler.Aggregator(MAX_REQUEST_BYTES));
                        ch.pipeline().addLast("api", new HttpAdminHandler(api, executor, access, loopback));
                    }
                });
        try {
            listener = b.bind(address, requestedPort).sync().channel();
        } catch (Exception e) {
            // sync() rethrows the bind failure as it is, checked or not
            if (e instanceof InterruptedException ie) {
                throw ie;
            }
            BindException be = new BindException("cannot listen on " + GatewayCollector.hostPort(address,
                    requestedPort) + " (HTTP): " + e.getMessage());
            be.initCause(e);
            throw be;
        }
        bound = (InetSocketAddress) listener.localAddress();
        log.info("HTTP endpoint at {}", uri());
        return bound;
    }

    /** The bound address and port. */
    public InetSocketAddress localAddress() {
        return bound;
    }

    /** The bound TCP port. */
    public int port() {
        return bound.getPort();
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
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
        api.close();
        executor.shutdown();
        try {
            if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
        connections.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        if (ownsGroup) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (listener != null) {
            log.info("HTTP endpoint {} stopped", uri());
        }
    }
}
