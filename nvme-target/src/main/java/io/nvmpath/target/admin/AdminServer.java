package io.nvmpath.target.admin;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig.ListenConfig;
import io.nvmpath.fabric.transport.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The target's HTTP admin endpoint: a small HTTP/1.1 server over a running {@link NvmeTarget}, for
 * flipping ANA states and injecting faults from scripts and the {@code nvmpath target} commands.
 * See {@link AdminApi} for the resources. It has an event loop of its own, and one admin executor on
 * which every change to the target is made, one at a time.
 *
 * <p>It binds to loopback unless configured otherwise: anyone who can reach it can take paths down.
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

    /** Largest request accepted (the bodies are a few dozen bytes); larger ones get 413. */
    static final int MAX_REQUEST_BYTES = 64 * 1024;

    private final EventLoopGroup group;
    private final ExecutorService admin;
    private final String address;
    private Channel listener;
    private int port;

    private AdminServer(String address) {
        this.address = address;
        this.group = Transport.process().newGroup(1, "nvmpath-target-admin");
        this.admin = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "nvmpath-target-admin");
            t.setDaemon(true);
            return t;
        });
    }

    /** Serves {@code target} on its configuration's {@code admin} address. */
    public static AdminServer start(NvmeTarget target) throws IOException, InterruptedException {
        ListenConfig at = target.config().admin();
        if (at == null) {
            throw new IllegalArgumentException("the target's configuration has no admin endpoint");
        }
        return start(target, at);
    }

    /**
     * Serves {@code target} on {@code at} (port 0 picks a free one; see {@link #port()}).
     *
     * @throws BindException naming the address when it cannot be bound
     */
    public static AdminServer start(NvmeTarget target, ListenConfig at) throws IOException, InterruptedException {
        AdminServer s = new AdminServer(at.address());
        try {
            s.bind(new AdminApi(target), at.port());
        } catch (IOException | InterruptedException | RuntimeException e) {
            s.close();
            throw e;
        }
        log.info("admin endpoint at {}", s.uri());
        return s;
    }

    private void bind(AdminApi api, int requestedPort) throws IOException, InterruptedException {
        ServerBootstrap b = new ServerBootstrap()
                .group(group)
                .channel(Transport.of(group).serverSocketChannel())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast("http", new HttpServerCodec());
                        ch.pipeline().addLast("aggregator", new HttpObjectAggregator(MAX_REQUEST_BYTES));
                        ch.pipeline().addLast("admin", new AdminHandler(api, admin));
                    }
                });
        try {
            listener = b.bind(address, requestedPort).sync().channel();
        } catch (Exception e) {
            // sync() rethrows the bind failure as it is, checked or not
            if (e instanceof InterruptedException ie) {
                throw ie;
            }
            BindException be = new BindException("cannot listen on " + hostPort(address, requestedPort) + ": "
                    + e.getMessage());
            be.initCause(e);
            throw be;
        }
        port = ((InetSocketAddress) listener.localAddress()).getPort();
    }

    /** The bound TCP port. */
    public int port() {
        return port;
    }

    /** The bound address, as configured. */
    public String address() {
        return address;
    }

    /** Where to reach it: {@code http://127.0.0.1:8091}. */
    public URI uri() {
        return URI.create("http://" + hostPort(address, port));
    }

    private static String hostPort(String address, int port) {
        return (address.indexOf(':') >= 0 ? "[" + address + "]" : address) + ":" + port;
    }

    /** Stops listening, finishes the changes already accepted, closes every connection. */
    @Override
    public void close() {
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
        admin.shutdown();
        try {
            if (!admin.awaitTermination(10, TimeUnit.SECONDS)) {
                admin.shutdownNow();
            }
        } catch (InterruptedException e) {
            admin.shutdownNow();
            Thread.currentThread().interrupt();
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        if (listener != null) {
            log.info("admin endpoint {} stopped", uri());
        }
    }
}
