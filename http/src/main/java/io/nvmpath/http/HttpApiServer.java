package io.nvmpath.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.nvmpath.transport.SocketErrors;
import org.slf4j.Logger;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * A small HTTP/1.1 server for a JSON API, the one the target's admin endpoint and the gateway's HTTP
 * side both run: Netty's codec, a bounded aggregator (413 beyond it), TLS when given, and one
 * {@link ApiHandler} answering every request on one executor thread (so the API never runs on an
 * event loop, and changes are made one at a time). See {@link HttpApiHandler} for the framing and
 * the one place where failures become replies.
 *
 * <p>It runs on the caller's event loops, given with their server channel class (the caller's
 * transport chooses both; closing this leaves the loops running), and owns its executor from the
 * constructor on.
 */
public final class HttpApiServer implements AutoCloseable {

    /**
     * How the server listens and speaks.
     *
     * @param bindAddress the address to listen on (a literal or a host name)
     * @param port the TCP port; 0 picks a free one
     * @param maxRequestBytes the largest request body accepted; larger ones get 413
     * @param tls the HTTPS context, asked at each connection (certificates may rotate); null for plain HTTP
     * @param logPrefix what the server's log lines start with ({@code http: GET /health from ... -> 200 OK})
     * @param listenerName how a bind failure names the listener ({@code cannot listen on 127.0.0.1:9810 (HTTP): ...}); null for none
     * @param unavailable the error of a 503 answered while the server shuts down
     */
    public record Config(String bindAddress, int port, int maxRequestBytes, Supplier<SslContext> tls, String logPrefix,
                         String listenerName, String unavailable) {
        /** Request bodies of the APIs are a few dozen bytes. */
        public static final int DEFAULT_MAX_REQUEST_BYTES = 64 * 1024;

        public Config {
            Objects.requireNonNull(bindAddress, "bindAddress");
            Objects.requireNonNull(logPrefix, "logPrefix");
            Objects.requireNonNull(unavailable, "unavailable");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("HTTP port must be 0..65535, not " + port);
            }
            if (maxRequestBytes < 1) {
                throw new IllegalArgumentException("maxRequestBytes must be positive, not " + maxRequestBytes);
            }
        }

        /** {@code address:port}, plain HTTP, 64 KiB bodies, log lines starting {@code http:}. */
        public static Config of(String address, int port) {
            return new Config(address, port, DEFAULT_MAX_REQUEST_BYTES, null, "http", null,
                    "the server is shutting down");
        }

        public Config maxRequestBytes(int bytes) {
            return new Config(bindAddress, port, bytes, tls, logPrefix, listenerName, unavailable);
        }

        public Config tls(Supplier<SslContext> contexts) {
            return new Config(bindAddress, port, maxRequestBytes, contexts, logPrefix, listenerName, unavailable);
        }

        /** How log lines start, and how a bind failure names the listener (null: not at all). */
        public Config named(String logPrefix, String listenerName) {
            return new Config(bindAddress, port, maxRequestBytes, tls, logPrefix, listenerName, unavailable);
        }

        public Config unavailable(String message) {
            return new Config(bindAddress, port, maxRequestBytes, tls, logPrefix, listenerName, message);
        }
    }

    private final Config config;
    private final EventLoopGroup group;
    private final Class<? extends ServerChannel> channelClass;
    private final ExecutorService executor;
    private final ApiHandler api;
    private final Logger log;
    /** Every open connection, closed by {@link #close()} (the event loops outlive this server). */
    private final ChannelGroup connections;
    private final AtomicBoolean closed = new AtomicBoolean();
    private Channel listener;
    private InetSocketAddress bound;

    /**
     * A server, not yet listening ({@link #start()}).
     *
     * @param group the event loops to serve on, left running by {@link #close()}
     * @param channelClass the server channel class of {@code group}'s transport
     * @param executor where {@code api} answers; this server's from now on: {@link #close()} drains and stops it.
     *                 One thread keeps the changes of an API in the order they came ({@link #newExecutor})
     * @param log where the server's lines go: the API's own logger, so that they read as the API's
     */
    public HttpApiServer(Config config, EventLoopGroup group, Class<? extends ServerChannel> channelClass,
                         ExecutorService executor, ApiHandler api, Logger log) {
        this.config = Objects.requireNonNull(config, "config");
        this.group = Objects.requireNonNull(group, "group");
        this.channelClass = Objects.requireNonNull(channelClass, "channelClass");
        this.executor = Objects.requireNonNull(executor, "executor");
        this.api = Objects.requireNonNull(api, "api");
        this.log = Objects.requireNonNull(log, "log");
        this.connections = new DefaultChannelGroup(config.logPrefix(), GlobalEventExecutor.INSTANCE);
    }

    /** One daemon thread named {@code name}: the executor an API answers on. */
    public static ExecutorService newExecutor(String name) {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
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
        Supplier<SslContext> tls = config.tls();
        ServerBootstrap b = new ServerBootstrap()
                .group(group)
                .channel(channelClass)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        connections.add(ch);
                        if (tls != null) {
                            ch.pipeline().addLast("tls", tls.get().newHandler(ch.alloc()));
                        }
                        ch.pipeline().addLast("http", new HttpServerCodec());
                        ch.pipeline().addLast("aggregator", new BoundedAggregator(config.maxRequestBytes(),
                                config.logPrefix(), log));
                        ch.pipeline().addLast("api", new HttpApiHandler(api, executor, config.logPrefix(),
                                config.unavailable(), log));
                    }
                });
        try {
            listener = b.bind(config.bindAddress(), config.port()).sync().channel();
        } catch (Exception e) {
            // sync() rethrows the bind failure as it is, checked or not
            if (e instanceof InterruptedException ie) {
                throw ie;
            }
            BindException be = new BindException("cannot listen on " + hostPort(config.bindAddress(), config.port())
                    + (config.listenerName() == null ? "" : " (" + config.listenerName() + ")") + ": "
                    + SocketErrors.rootMessage(e));
            be.initCause(e);
            throw be;
        }
        bound = (InetSocketAddress) listener.localAddress();
        return bound;
    }

    /** The bound address and port; null before {@link #start()}. */
    public InetSocketAddress localAddress() {
        return bound;
    }

    /** Whether {@link #start()} bound the listener. */
    public boolean started() {
        return listener != null;
    }

    private static String hostPort(String address, int port) {
        return (address.indexOf(':') >= 0 ? "[" + address + "]" : address) + ":" + port;
    }

    /**
     * Stops listening, ends what the API still awaits ({@link ApiHandler#stop()}), answers the
     * requests already taken, then closes every connection. Once only.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
        api.stop();
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
    }
}
