package io.nvmpath.server.nbd;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.ScheduledFuture;
import io.nvmpath.transport.SocketErrors;
import io.nvmpath.transport.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The NBD server: listens for clients, negotiates (fixed newstyle, optional TLS) and serves the
 * exports an {@link NbdExports} offers.
 *
 * <p>Each connection's pipeline separates the phases: {@link NbdHandshakeHandler} negotiates and,
 * on NBD_OPT_GO or NBD_OPT_EXPORT_NAME, replaces itself with {@link NbdRequestDecoder} (framing)
 * and {@link NbdCommandHandler} (where a request becomes a block operation). STARTTLS puts an
 * {@link io.netty.handler.ssl.SslHandler} in front of them.
 *
 * <p>What clients see: the empty export name opens {@link NbdExports#defaultExport()}; an export
 * whose allow-list leaves the client out does not exist for it (absent from NBD_OPT_LIST,
 * NBD_REP_ERR_UNKNOWN, exactly like an unknown name); read-only exports advertise READ_ONLY and
 * answer writes EPERM; {@code base:allocation} is the one metadata context, and reports every range
 * as allocated; NBD_CMD_CACHE succeeds without I/O. See the handlers for the details.
 *
 * <p>Runs on the caller's {@link EventLoopGroup}, which must be an NIO one; closing the server does
 * not shut the group down.
 */
public final class NbdServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NbdServer.class);

    /** The IANA port of NBD. */
    public static final int DEFAULT_PORT = 10809;
    /** A WRITE payload beyond this (or the maximum payload if larger) closes the connection rather than being drained. */
    static final long MAX_DRAINED_PAYLOAD = 64L << 20;
    /** The export a connection entered transmission with. */
    static final AttributeKey<String> EXPORT_NAME = AttributeKey.valueOf(NbdServer.class, "export");

    /** The user event that asks a connection to finish what it has and close. */
    enum DrainEvent {
        /** The only instance. */
        INSTANCE
    }

    /** How the server treats TLS (the protocol's NOTLS, SELECTIVETLS with no TLS-only export, FORCEDTLS). */
    public enum TlsMode {
        /** No TLS: NBD_OPT_STARTTLS is answered NBD_REP_ERR_POLICY. */
        OFF,
        /** STARTTLS is offered; clients may also go on in clear text. */
        ALLOW,
        /** Every option but STARTTLS and ABORT is answered NBD_REP_ERR_TLS_REQD until TLS is on. */
        REQUIRE
    }

    /**
     * How the server listens and what it allows a connection.
     *
     * @param bindAddress address to listen on (a literal or a host name)
     * @param port port to listen on, 0 for an ephemeral one
     * @param tlsMode whether TLS is offered or required
     * @param sslContext the server-side context for a STARTTLS, asked at each one (certificates may be
     *                   rotated while the server runs); required unless {@code tlsMode} is OFF
     * @param maxPayload the largest READ or WRITE served (advertised in NBD_INFO_BLOCK_SIZE)
     * @param maxInFlight requests of one connection on the device at once; reading stops beyond
     * @param handshakeTimeout how long a client may take to reach transmission (a client that connects
     *                         and says nothing must not hold a connection forever)
     */
    public record Config(String bindAddress, int port, TlsMode tlsMode, Supplier<SslContext> sslContext, int maxPayload,
                         int maxInFlight, Duration handshakeTimeout) {
        public static final int DEFAULT_MAX_PAYLOAD = 32 << 20;
        public static final int DEFAULT_MAX_IN_FLIGHT = 128;
        public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(30);

        public Config {
            Objects.requireNonNull(bindAddress, "bindAddress");
            Objects.requireNonNull(tlsMode, "tlsMode");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port " + port + " out of 0..65535");
            }
            if (tlsMode != TlsMode.OFF && sslContext == null) {
                throw new IllegalArgumentException("TLS mode " + tlsMode + " needs a server SslContext");
            }
            if (maxPayload < 4096) {
                throw new IllegalArgumentException("maxPayload " + maxPayload + " below 4096");
            }
            if (maxInFlight < 1) {
                throw new IllegalArgumentException("maxInFlight " + maxInFlight + " below 1");
            }
            if (handshakeTimeout == null || handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
                throw new IllegalArgumentException("handshakeTimeout must be positive");
            }
        }

        /** 127.0.0.1:10809, no TLS, 32 MiB payloads, 128 requests in flight per connection. */
        public static Config defaults() {
            return new Config("127.0.0.1", DEFAULT_PORT, TlsMode.OFF, null, DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_IN_FLIGHT,
                    DEFAULT_HANDSHAKE_TIMEOUT);
        }

        /** This config listening on {@code address}:{@code port} (0: an ephemeral port). */
        public Config bind(String address, int port) {
            return new Config(address, port, tlsMode, sslContext, maxPayload, maxInFlight, handshakeTimeout);
        }

        /** TLS with one fixed context. */
        public Config tls(TlsMode mode, SslContext context) {
            if (context != null && !context.isServer()) {
                throw new IllegalArgumentException("TLS mode " + mode + " needs a server SslContext");
            }
            return tls(mode, context == null ? null : () -> context);
        }

        /** TLS with the context {@code contexts} gives at each STARTTLS. */
        public Config tls(TlsMode mode, Supplier<SslContext> contexts) {
            return new Config(bindAddress, port, mode, contexts, maxPayload, maxInFlight, handshakeTimeout);
        }

        public Config maxPayload(int bytes) {
            return new Config(bindAddress, port, tlsMode, sslContext, bytes, maxInFlight, handshakeTimeout);
        }

        public Config maxInFlight(int requests) {
            return new Config(bindAddress, port, tlsMode, sslContext, maxPayload, requests, handshakeTimeout);
        }

        public Config handshakeTimeout(Duration timeout) {
            return new Config(bindAddress, port, tlsMode, sslContext, maxPayload, maxInFlight, timeout);
        }
    }

    private final Config config;
    private final EventLoopGroup group;
    private final NbdExports exports;
    private final Set<Channel> connections = ConcurrentHashMap.newKeySet();
    private volatile Channel listener;
    private volatile boolean closing;

    public NbdServer(Config config, EventLoopGroup group, NbdExports exports) {
        this.config = Objects.requireNonNull(config, "config");
        this.group = Objects.requireNonNull(group, "group");
        this.exports = Objects.requireNonNull(exports, "exports");
    }

    /** Binds the listener; returns the address it is bound to (with the actual port when 0 was asked). */
    public synchronized InetSocketAddress start() throws IOException {
        if (listener != null || closing) {
            throw new IllegalStateException(closing ? "closed" : "already started");
        }
        ServerBootstrap b = Transport.configureChildren(new ServerBootstrap(), group)
                .group(group)
                .channel(Transport.of(group).serverSocketChannel())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accept(ch);
                    }
                });
        ChannelFuture f = b.bind(config.bindAddress(), config.port()).awaitUninterruptibly();
        if (!f.isSuccess()) {
            throw new IOException("cannot listen for NBD on " + config.bindAddress() + ":" + config.port() + ": "
                    + SocketErrors.rootMessage(f.cause()), f.cause());
        }
        listener = f.channel();
        InetSocketAddress bound = (InetSocketAddress) listener.localAddress();
        log.info("NBD server listening on {}:{} (TLS {})", bound.getHostString(), bound.getPort(), config.tlsMode());
        return bound;
    }

    private void accept(Channel ch) {
        connections.add(ch);
        ch.closeFuture().addListener(f -> connections.remove(ch));
        if (closing) {
            ch.close();
            return;
        }
        ch.pipeline().addLast("nbd-handshake", new NbdHandshakeHandler(config, exports));
    }

    public Config config() {
        return config;
    }

    /** Open client connections, negotiating or transmitting. */
    public int connections() {
        return connections.size();
    }

    /**
     * Closes every connection to export {@code name} once the requests it already received are
     * answered (the device fails them with ESHUTDOWN if it is going away; requests arriving meanwhile
     * are answered ESHUTDOWN). Remove the export from {@link NbdExports} first: a client negotiating
     * meanwhile then cannot open it.
     *
     * @return completes when those connections are closed
     */
    public CompletableFuture<Void> disconnectExport(String name) {
        return disconnectExport(name, remote -> true, null);
    }

    /**
     * Closes the connections of export {@code name} whose client {@code which} selects, as {@link
     * #disconnectExport(String)} does (requests already received are answered first), logging {@code
     * reason} for each when given.
     */
    public CompletableFuture<Void> disconnectExport(String name, java.util.function.Predicate<java.net.SocketAddress> which,
                                                    String reason) {
        List<CompletableFuture<Void>> closed = new ArrayList<>();
        for (Channel ch : connections) {
            CompletableFuture<Void> done = new CompletableFuture<>();
            closed.add(done);
            try {
                // on the channel's loop, ordered with its negotiation: it either entered the export
                // before (drained here) or looks it up after (and no longer finds it)
                ch.eventLoop().execute(() -> {
                    if (name.equals(ch.attr(EXPORT_NAME).get()) && ch.isOpen() && which.test(ch.remoteAddress())) {
                        if (reason != null) {
                            log.info("NBD client {} on export {}: closing: {}", ch.remoteAddress(), name, reason);
                        }
                        ch.pipeline().fireUserEventTriggered(DrainEvent.INSTANCE);
                        ch.closeFuture().addListener(f -> done.complete(null));
                    } else {
                        done.complete(null);
                    }
                });
            } catch (RejectedExecutionException e) {
                done.complete(null);
            }
        }
        return CompletableFuture.allOf(closed.toArray(CompletableFuture[]::new));
    }

    /**
     * Stops accepting, lets every connection answer what it already received, and closes it;
     * connections still busy after {@code drain} are closed anyway.
     *
     * @return completes when the listener and every connection are closed
     */
    public CompletableFuture<Void> closeGracefully(Duration drain) {
        closing = true;
        List<CompletableFuture<Void>> closed = new ArrayList<>();
        Channel l = listener;
        if (l != null) {
            closed.add(toFuture(closeListener(l)));
        }
        for (Channel ch : connections) {
            closed.add(toFuture(ch.closeFuture()));
            ch.pipeline().fireUserEventTriggered(DrainEvent.INSTANCE);
        }
        CompletableFuture<Void> all = CompletableFuture.allOf(closed.toArray(CompletableFuture[]::new));
        if (!all.isDone()) {
            Runnable deadline = () -> {
                if (!connections.isEmpty()) {
                    log.warn("NBD server: {} connection(s) still busy after {}; closing them", connections.size(), drain);
                }
                connections.forEach(Channel::close);
            };
            try {
                ScheduledFuture<?> timer = group.next().schedule(deadline, drain.toNanos(), TimeUnit.NANOSECONDS);
                all.whenComplete((v, e) -> timer.cancel(false));
            } catch (RejectedExecutionException e) {
                deadline.run(); // the group is going down: no time left to drain
            }
        }
        return all;
    }

    /**
     * Stops accepting (the listener is closed on return) and closes every connection now; requests
     * in flight get no reply.
     */
    @Override
    public void close() {
        closing = true;
        Channel l = listener;
        if (l != null) {
            closeListener(l);
        }
        connections.forEach(Channel::close);
    }

    /** Closes the listener, waiting for it unless called on its own event loop: no accept after return. */
    private static ChannelFuture closeListener(Channel l) {
        ChannelFuture f = l.close();
        if (!l.eventLoop().inEventLoop()) {
            f.awaitUninterruptibly();
        }
        return f;
    }

    private static CompletableFuture<Void> toFuture(ChannelFuture f) {
        CompletableFuture<Void> cf = new CompletableFuture<>();
        f.addListener(x -> cf.complete(null));
        return cf;
    }
}
