package io.nvmpath.target;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.tcp.ConnectionParams;
import io.nvmpath.fabric.tcp.PduDecoder;
import io.nvmpath.fabric.tcp.PduEncoder;
import io.nvmpath.fabric.tcp.PduType;
import io.nvmpath.fabric.tls.PskCredentials;
import io.nvmpath.fabric.tls.TlsPskHandler;
import io.nvmpath.transport.SocketErrors;
import io.nvmpath.transport.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP port of the target: its listener, the subsystems reachable through it, the ANA state of
 * each group through it (as nvmet keeps ANA per port and group), and the fault in force.
 */
final class TargetPort {
    private static final Logger log = LoggerFactory.getLogger(TargetPort.class);

    final int id;
    final String address;
    final String advertise;
    /** Linked subsystems; changes at run time through the target's link/unlink. */
    final List<Subsystem> subsystems;
    /** A port that serves only the discovery subsystem (the well-known discovery port). */
    final boolean discoveryOnly;
    private final NvmeTarget target;
    private final ConcurrentHashMap<Integer, AnaState> ana = new ConcurrentHashMap<>();
    private final Set<TargetQueue> queues = ConcurrentHashMap.newKeySet();
    private final AtomicInteger failRemaining = new AtomicInteger();
    private volatile Fault fault = Fault.NONE;
    /** The bucket of the {@link Fault.Throttle} in force, null without one; what the I/O path reads. */
    private volatile IoThrottle throttle;
    private volatile Channel listener;
    private volatile int boundPort;
    /** NVMe/TCP TLS on this port (TSAS TLS 1.3, required), or null for plain TCP; set before the first bind. */
    volatile io.nvmpath.fabric.auth.TlsPsk tlsPsk;

    TargetPort(NvmeTarget target, int id, String address, int port, String advertise, List<Subsystem> subsystems,
               Map<Integer, AnaState> anaStates, boolean discoveryOnly) {
        this.target = target;
        this.id = id;
        this.address = address;
        this.boundPort = port;
        this.advertise = advertise != null ? advertise : address;
        this.subsystems = new java.util.concurrent.CopyOnWriteArrayList<>(subsystems);
        this.ana.putAll(anaStates);
        this.discoveryOnly = discoveryOnly;
    }

    /** This port listened before (a bind now re-binds after {@link Fault.Down}); a first bind fails at once. */
    private boolean boundBefore;

    /** Binds the listener (again, after {@link Fault.Down}, on the same port). */
    synchronized void bind(EventLoopGroup group) throws InterruptedException, java.io.IOException {
        ServerBootstrap b = Transport.configureChildren(new ServerBootstrap(), group)
                .group(group)
                .channel(Transport.of(group).serverSocketChannel())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ConnectionParams params = new ConnectionParams()
                                .maxRxData(target.maxTransferBytes() + 4096);
                        TargetQueue q = new TargetQueue(target, TargetPort.this, params);
                        io.nvmpath.fabric.auth.TlsPsk psk = tlsPsk;
                        if (psk != null) {
                            // below the PDU codec; a connection without TLS fails its handshake and closes
                            ch.pipeline().addLast("tls", TlsPskHandler.server(identity -> PskCredentials.accepting(psk,
                                    identity, nqn -> subsystem(nqn) != null)));
                        }
                        ch.pipeline().addLast("pdu-decoder", new PduDecoder(PduType.Direction.H2C, params));
                        ch.pipeline().addLast("pdu-encoder", new PduEncoder(params));
                        ch.pipeline().addLast("queue", q);
                    }
                });
        io.netty.channel.ChannelFuture f = b.bind(address, boundPort).await();
        // Re-binding the port a `down` fault released: while it was down, any connection on this machine
        // may have been given it as its source port (the host's own reconnect to it, for one). Such a
        // connection is short-lived; wait for it, a bounded while, instead of failing the `clear`.
        for (int attempt = 1; !f.isSuccess() && boundBefore && SocketErrors.isAddressInUse(f.cause())
                && attempt <= 30; attempt++) {
            Thread.sleep(Math.min(500, 20L * attempt));
            f = b.bind(address, boundPort).await();
        }
        if (!f.isSuccess()) {
            throw new java.io.IOException("cannot listen on " + address + ":" + boundPort + ": "
                    + SocketErrors.rootMessage(f.cause()), f.cause());
        }
        Channel ch = f.channel();
        boundPort = ((InetSocketAddress) ch.localAddress()).getPort();
        boundBefore = true;
        listener = ch;
    }

    synchronized void unbind() {
        Channel ch = listener;
        listener = null;
        if (ch != null) {
            ch.close().syncUninterruptibly();
        }
    }

    int boundPort() {
        return boundPort;
    }

    boolean listening() {
        return listener != null;
    }

    AnaState anaState(int group) {
        return ana.getOrDefault(group, AnaState.OPTIMIZED);
    }

    Map<Integer, AnaState> anaStates() {
        return new TreeMap<>(ana);
    }

    void setAnaState(int group, AnaState state) {
        ana.put(group, state);
    }

    Fault fault() {
        return fault;
    }

    boolean blackholed() {
        return fault instanceof Fault.Blackhole;
    }

    /** The {@link Fault.Delay} in force, whose time each I/O completion waits, or null. */
    Fault.Delay delay() {
        return fault instanceof Fault.Delay d ? d : null;
    }

    /** The {@link Fault.GhostWrites} in force, whose time each media command is held, or null. */
    Fault.GhostWrites ghostWrites() {
        return fault instanceof Fault.GhostWrites g ? g : null;
    }

    /** The token bucket of the {@link Fault.Throttle} in force, or null. */
    IoThrottle throttle() {
        return throttle;
    }

    /**
     * With a {@link Fault.Fail} in force, takes one of its commands and returns the status to fail
     * it with; else 0. When the count runs out the fault clears itself.
     */
    int takeInjectedFailure() {
        if (!(fault instanceof Fault.Fail f)) {
            return 0;
        }
        int left = failRemaining.decrementAndGet();
        if (left < 0) {
            return 0;
        }
        if (left == 0) {
            synchronized (this) {
                if (fault == f) {
                    fault = Fault.NONE;
                    log.info("port {} ({}:{}): fault '{}' used up, cleared", id, address, boundPort, f.label());
                }
            }
        }
        return f.status();
    }

    /**
     * Applies a fault; {@link Fault.Down} closes the listener and every connection, clearing rebinds.
     * Replacing a {@link Fault.Delay} or a {@link Fault.Throttle} (by anything but {@link Fault.Down},
     * another delay or cap included, or clearing it) sends the completions it holds at once.
     */
    synchronized void setFault(Fault next, EventLoopGroup group) throws InterruptedException, java.io.IOException {
        Fault prev = fault;
        if (prev instanceof Fault.Down && !(next instanceof Fault.Down) && listener == null) {
            bind(group); // before the fault changes: if this fails the port is still, truthfully, down
        }
        if (next instanceof Fault.Fail f) {
            failRemaining.set(f.count());
        }
        // what holds completions back under the fault in force: the throttle's bucket, the delay itself
        Object releasing = throttle != null ? throttle : prev instanceof Fault.Delay ? prev : null;
        throttle = next instanceof Fault.Throttle t ? new IoThrottle(t, target.scheduler()::nanoTime) : null;
        fault = next;
        log.info("port {} ({}:{}): fault {} -> {}", id, address, boundPort, prev.label(), next.label());
        if (prev instanceof Fault.Blackhole && !(next instanceof Fault.Blackhole)) {
            silentlyClosed.forEach(io.netty.channel.Channel::close);
            silentlyClosed.clear();
        }
        if (releasing != null && !(next instanceof Fault.Down)) {
            // completions the old fault holds go now, not at the old cap's pace or after the old
            // delay; a port going down drops them with its connections instead, as it drops
            // everything in flight
            for (TargetQueue q : queues) {
                q.releaseHeld(releasing);
            }
        }
        if (next instanceof Fault.Down) {
            unbind();
            for (TargetQueue q : queues) {
                q.close("port " + id + " down");
            }
        }
    }

    /**
     * Connections the target closed while the port was blackholed: closed for the target (nothing is
     * read or sent), closed on the wire when the blackhole ends.
     */
    private final List<io.netty.channel.Channel> silentlyClosed = new ArrayList<>();

    /** Closes {@code ch} on the wire once the port is heard again (at once if it is). */
    void closeWhenHeard(io.netty.channel.Channel ch) {
        synchronized (this) {
            if (fault instanceof Fault.Blackhole) {
                silentlyClosed.add(ch);
                return;
            }
        }
        ch.close();
    }

    /**
     * A connection of this port set up its queue. One the listener accepted just before the port went
     * down registers after {@link Fault.Down} closed the others: it is closed too, or it would outlive
     * the fault.
     */
    void register(TargetQueue q) {
        // no lock: setFault holds this port's monitor while it waits for the listener to close, on the
        // event loop that runs this. It writes the (volatile) fault before it closes the queues it finds:
        // a queue added here is either found there, or sees Down here
        queues.add(q);
        if (fault instanceof Fault.Down) {
            q.close("port " + id + " down");
        }
    }

    void unregister(TargetQueue q) {
        queues.remove(q);
    }

    int connections() {
        return queues.size();
    }

    Set<TargetQueue> queues() {
        return queues;
    }

    /** Whether {@code subnqn} is reachable through this port (the discovery NQN always is). */
    Subsystem subsystem(String subnqn) {
        if (subnqn.equals(target.discovery().nqn)) {
            return target.discovery();
        }
        if (discoveryOnly) {
            return null;
        }
        for (Subsystem s : subsystems) {
            if (s.nqn.equals(subnqn)) {
                return s;
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return "port " + id + " (" + address + ":" + boundPort + ")";
    }
}
