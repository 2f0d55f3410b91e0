package io.nvmpath.target.admin;

import io.netty.channel.EventLoopGroup;
import io.nvmpath.http.HttpApiServer;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig.ListenConfig;
import io.nvmpath.transport.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.BindException;
import java.net.URI;
import java.util.concurrent.TimeUnit;

/**
 * The target's HTTP admin endpoint: a small HTTP/1.1 server over a running {@link NvmeTarget}, for
 * flipping ANA states and injecting faults from scripts and the {@code nvmpath target} commands.
 * See {@link AdminApi} for the resources. It has an event loop of its own, and one admin executor on
 * which every change to the target is made, one at a time (the HTTP side is the shared
 * {@link HttpApiServer}).
 *
 * <p>It binds to loopback unless configured otherwise: anyone who can reach it can take paths down.
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

    /** Largest request accepted (the bodies are a few dozen bytes); larger ones get 413. */
    static final int MAX_REQUEST_BYTES = 64 * 1024;

    private final EventLoopGroup group;
    private final String address;
    private final HttpApiServer server;
    private int port;

    private AdminServer(NvmeTarget target, ListenConfig at) {
        this.address = at.address();
        HttpApiServer.Config config = HttpApiServer.Config.of(at.address(), at.port())
                .maxRequestBytes(MAX_REQUEST_BYTES).named("admin", null).unavailable("the target is shutting down");
        this.group = Transport.process().newGroup(1, "nvmpath-target-admin");
        this.server = new HttpApiServer(config, group, Transport.of(group).serverSocketChannel(),
                HttpApiServer.newExecutor("nvmpath-target-admin"), new AdminApi(target),
                LoggerFactory.getLogger(AdminApi.class));
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
        AdminServer s = new AdminServer(target, at);
        try {
            s.port = s.server.start().getPort();
        } catch (IOException | InterruptedException | RuntimeException e) {
            s.close();
            throw e;
        }
        log.info("admin endpoint at {}", s.uri());
        return s;
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
        server.close();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        if (server.started()) {
            log.info("admin endpoint {} stopped", uri());
        }
    }
}
