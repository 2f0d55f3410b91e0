package io.nvmpath.multipath;

import io.netty.channel.EventLoopGroup;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerListener;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.host.Discovery;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.log.WarnLimiter;
import io.nvmpath.fabric.nvme.AsyncEvent;
import io.nvmpath.fabric.nvme.DiscoveryLog;
import io.nvmpath.fabric.nvme.Opcodes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The portals the path layer reaches subsystems through: configured ones ("direct"), those a
 * discovery controller lists ("discovered"), and the persistent discovery controllers themselves.
 * Connects each, hands a connected I/O controller to the {@link Multipath}, and connects again after
 * a failure or a deleted controller, waiting a {@link Backoff} between attempts, until the portal is
 * removed or the path layer closes.
 */
final class Portals {
    private static final Logger log = LoggerFactory.getLogger(Portals.class);

    private static final class Portal {
        final String kind;
        final TransportAddress address;
        final String nqn;
        final Backoff backoff;
        volatile String state = "connecting";
        volatile String lastError;
        /** Connects that failed, and of those the ones refused by DH-HMAC-CHAP (either side). */
        final AtomicLong failures = new AtomicLong();
        final AtomicLong authenticationFailures = new AtomicLong();
        /**
         * What a discovery log said of this port: TRUE takes only TLS (TREQ secure channel required, or
         * TSAS TLS 1.3), FALSE plain TCP only; null not listed by one (a configured portal).
         */
        volatile Boolean tls;
        /** A portal that keeps failing is warned about once, then at most once a minute. */
        final WarnLimiter warnings = new WarnLimiter(log, TimeUnit.MINUTES.toNanos(1));

        Portal(String kind, TransportAddress address, String nqn, Backoff backoff) {
            this.kind = kind;
            this.address = address;
            this.nqn = nqn;
            this.backoff = backoff;
        }
    }

    private final Multipath manager;
    private final EventLoopGroup group;
    private final Map<String, Portal> portals = new ConcurrentHashMap<>();
    private final List<Controller> discoveryControllers = new ArrayList<>();

    Portals(Multipath manager, EventLoopGroup group) {
        this.manager = manager;
        this.group = group;
    }

    private static String key(TransportAddress address, String nqn) {
        return address + "|" + nqn;
    }

    boolean known(TransportAddress address, String nqn) {
        return portals.containsKey(key(address, nqn));
    }

    private Portal add(String kind, TransportAddress address, String nqn) {
        Portal p = new Portal(kind, address, nqn, new Backoff(manager.options().controller().reconnectDelay()));
        Portal was = portals.putIfAbsent(key(address, nqn), p);
        return was == null ? p : null;
    }

    private void state(TransportAddress address, String nqn, String state, Throwable error) {
        Portal p = portals.get(key(address, nqn));
        if (p != null) {
            p.state = state;
            if ("connected".equals(state)) {
                p.warnings.reset();
                p.backoff.reset();
            }
            if (error != null) {
                p.lastError = Multipath.rootMessage(error);
            }
        }
    }

    /** Every portal, sorted by address then NQN. */
    List<Multipath.PortalView> views() {
        return portals.values().stream().map(p -> new Multipath.PortalView(p.kind, p.address, p.nqn, p.state, p.lastError,
                        p.failures.get(), p.authenticationFailures.get()))
                .sorted(Comparator.comparing((Multipath.PortalView v) -> v.address().toString())
                        .thenComparing(v -> String.valueOf(v.nqn())))
                .toList();
    }

    // ---- I/O controllers --------------------------------------------------------------------------

    /** Adds a configured portal (once) and connects it. */
    CompletableFuture<Void> addDirect(TransportAddress address, String nqn) {
        add("direct", address, nqn);
        return connect(address, nqn);
    }

    private CompletableFuture<Void> connect(TransportAddress address, String nqn) {
        CompletableFuture<Void> attached = new CompletableFuture<>();
        ControllerPathIo[] holder = new ControllerPathIo[1];
        ControllerListener l = new ControllerListener() {
            @Override
            public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                manager.onManagement(() -> manager.controllerStateChanged(holder[0], to, address, nqn, reason));
            }

            @Override
            public void asyncEvent(Controller c, AsyncEvent e) {
                manager.onManagement(() -> manager.asyncEvent(holder[0], e));
            }
        };
        ControllerOptions options = options(address, nqn);
        Portal portal = portals.get(key(address, nqn));
        Boolean listedTls = portal == null ? null : portal.tls;
        if (Boolean.FALSE.equals(listedTls) && options.tlsPsk() != null) {
            // the discovery log lists a plain port of a subsystem configured with TLS: TSAS/TREQ decide
            options = options.copy().tlsPsk(null);
        }
        if (Boolean.TRUE.equals(listedTls) && options.tlsPsk() == null) {
            // fail at once and clearly, not with the connection the port closes on a plain ICReq
            IllegalStateException why = new IllegalStateException("the discovery log says " + address
                    + " takes only NVMe/TCP TLS, and no TLS PSK is configured for " + nqn);
            attached.completeExceptionally(why);
            manager.executor().execute(() -> retry(address, nqn, why));
            return attached;
        }
        Controller.connect(address, nqn, options, group, l).whenCompleteAsync((c, err) -> {
            if (err != null) {
                attached.completeExceptionally(err);
                retry(address, nqn, err);
                return;
            }
            if (manager.closed() || !known(address, nqn)) {
                c.shutdown(); // removed (or closing) while connecting
                attached.completeExceptionally(new IllegalStateException("portal removed"));
                return;
            }
            state(address, nqn, "connected", null);
            holder[0] = new ControllerPathIo(c);
            manager.controllerConnected(holder[0], nqn).whenComplete((v, e) -> {
                if (e != null) {
                    attached.completeExceptionally(e);
                } else {
                    attached.complete(null);
                }
            });
        }, manager.executor());
        return attached;
    }

    /** The options of this connect of the portal: the path layer's, as {@link PortalOptions} adjusts them. */
    private ControllerOptions options(TransportAddress address, String nqn) {
        return manager.options().portalOptions().forPortal(address, nqn, manager.options().controller());
    }

    /**
     * Connects the portal again after the backoff delay, unless it was removed meanwhile. An
     * authentication failure waits its backoff like any failed connect: a refused secret is not
     * tried again at once, and a secret rotated meanwhile is used by the next attempt.
     */
    void retry(TransportAddress address, String nqn, Throwable why) {
        Portal p = portals.get(key(address, nqn));
        if (manager.closed() || p == null) {
            return;
        }
        p.failures.incrementAndGet();
        if (Multipath.isAuthenticationFailure(why)) {
            p.authenticationFailures.incrementAndGet();
        }
        state(address, nqn, "retrying", why);
        long delay = p.backoff.nextMillis();
        String what = nqn == null ? "discovery portal " + address : "portal " + address + " " + nqn;
        p.warnings.warn(what + ": " + Multipath.rootMessage(why) + "; retrying in " + delay + " ms (backing off to "
                + TimeUnit.MILLISECONDS.toSeconds(delayCap()) + " s)", null);
        manager.executor().schedule(() -> {
            if (!manager.closed() && known(address, nqn)) {
                if (nqn == null) {
                    connectDiscovery(address);
                } else {
                    connect(address, nqn);
                }
            }
        }, delay, TimeUnit.MILLISECONDS);
    }

    private long delayCap() {
        return Math.max(Backoff.FLOOR_MILLIS, manager.options().controller().reconnectDelay().toMillis()) * Backoff.MAX_FACTOR;
    }

    // ---- discovery controllers ----------------------------------------------------------------------

    /** Adds a discovery portal (once) and connects it. */
    CompletableFuture<DiscoveryLog> addDiscovery(TransportAddress address) {
        add("discovery", address, null);
        return connectDiscovery(address);
    }

    private CompletableFuture<DiscoveryLog> connectDiscovery(TransportAddress address) {
        Controller[] holder = new Controller[1];
        ControllerListener l = new ControllerListener() {
            @Override
            public void asyncEvent(Controller c, AsyncEvent e) {
                if (e.isDiscoveryChange()) {
                    manager.onManagement(() -> readDiscovery(holder[0]));
                }
            }

            @Override
            public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                if (to == ControllerState.LIVE && holder[0] != null) {
                    state(address, null, "connected", null);
                    manager.onManagement(() -> readDiscovery(c)); // entries may have changed while it was away
                } else if (to == ControllerState.RESETTING || to == ControllerState.CONNECTING) {
                    state(address, null, "retrying", null);
                } else if (to == ControllerState.DEAD) {
                    synchronized (discoveryControllers) {
                        discoveryControllers.remove(c);
                    }
                    manager.onManagement(() -> retry(address, null, new IllegalStateException("controller deleted")));
                }
            }
        };
        return Controller.connect(address, Opcodes.DISCOVERY_NQN, options(address, null), group, l)
                .whenComplete((c, err) -> {
                    if (err != null) {
                        retry(address, null, err);
                    }
                }).thenCompose(c -> {
                    if (manager.closed() || !known(address, null)) {
                        c.shutdown();
                        throw new IllegalStateException("discovery portal removed");
                    }
                    holder[0] = c;
                    state(address, null, "connected", null);
                    synchronized (discoveryControllers) {
                        discoveryControllers.add(c);
                    }
                    return readDiscovery(c);
                });
    }

    /** Reads the discovery log and adds a portal for each new NVMe/TCP subsystem entry. */
    private CompletableFuture<DiscoveryLog> readDiscovery(Controller c) {
        return Discovery.readLog(c).whenCompleteAsync((logPage, err) -> {
            if (err != null) {
                log.warn("discovery {}: {}", c.address(), Multipath.rootMessage(err));
                return;
            }
            for (DiscoveryLog.Entry e : logPage.entries()) {
                if (e.trtype() != DiscoveryLog.TRTYPE_TCP || e.subtype() != 2) {
                    continue;
                }
                TransportAddress a = new TransportAddress(e.traddr(), Integer.parseInt(e.trsvcid().trim()));
                Portal added = add("discovered", a, e.subnqn());
                Portal p = portals.get(key(a, e.subnqn()));
                if (p != null) {
                    p.tls = e.secureChannelRequired() || e.tls13();
                }
                if (added != null) {
                    log.info("discovery {}: new portal {} {}", c.address(), a, e.subnqn());
                    connect(a, e.subnqn());
                }
            }
        }, manager.executor());
    }

    // ---- removal and close ----------------------------------------------------------------------------

    /**
     * Forgets a portal ({@code nqn} null for a discovery portal); a discovery portal's controllers are
     * shut down here, an I/O portal's by the caller. False when unknown.
     */
    boolean remove(TransportAddress address, String nqn) {
        if (portals.remove(key(address, nqn)) == null) {
            return false;
        }
        log.info("portal {} {} removed", address, nqn == null ? "(discovery)" : nqn);
        if (nqn == null) {
            synchronized (discoveryControllers) {
                for (Controller c : List.copyOf(discoveryControllers)) {
                    if (c.address().equals(address)) {
                        discoveryControllers.remove(c);
                        c.shutdown();
                    }
                }
            }
        }
        return true;
    }

    /** Shuts the discovery controllers down (closing); the futures complete when they are. */
    List<CompletableFuture<Void>> shutdownDiscovery() {
        synchronized (discoveryControllers) {
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (Controller c : discoveryControllers) {
                all.add(c.shutdown());
            }
            return all;
        }
    }
}
