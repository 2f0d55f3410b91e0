package io.nvmpath.server.gateway;

import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.multipath.IoPolicy;
import io.nvmpath.multipath.Multipath;
import io.nvmpath.multipath.NamespaceHead;
import io.nvmpath.multipath.WriteFailover;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The changes an operator makes to the running gateway ({@link GatewayControl}: the HTTP API's POSTs
 * and DELETEs, a reload), made on the multipath layer: portals connected and removed, iopolicy and
 * preferred path per subsystem. The per-subsystem settings of the configuration are applied when a
 * subsystem's first namespace head appears (it is a {@link Multipath.HeadListener} for that).
 */
final class RunningControl implements GatewayControl, Multipath.HeadListener {
    /** The gateway's own lines ({@code INFO Gateway - ...}). */
    private static final Logger log = LoggerFactory.getLogger(Gateway.class);

    private final Multipath multipath;
    private final Supplier<GatewayConfig> config;
    private final Supplier<Reloader> reloader;
    /** Subsystems whose configured iopolicy and preferred path were applied (at their first head). */
    private final Set<String> configuredSubsystems = ConcurrentHashMap.newKeySet();

    /**
     * @param config the configuration in force
     * @param reloader what {@link #reload()} asks (made after this)
     */
    RunningControl(Multipath multipath, Supplier<GatewayConfig> config, Supplier<Reloader> reloader) {
        this.multipath = multipath;
        this.config = config;
        this.reloader = reloader;
    }

    /** A subsystem's first head: its configured iopolicy and preferred path, once. */
    @Override
    public void headAdded(NamespaceHead head) {
        String nqn = head.subsystem().nqn();
        if (configuredSubsystems.add(nqn)) {
            GatewayConfig.Subsystem s = config.get().subsystems().get(nqn);
            if (s != null && s.iopolicy() != null) {
                multipath.ioPolicy(nqn, IoPolicy.fromLabel(s.iopolicy()));
            }
            if (s != null && s.preferredPath() != null) {
                multipath.preferredPath(nqn, s.preferredPath());
            }
            if (s != null && s.writeFailover() != null) {
                multipath.writeFailover(nqn, WriteFailover.fromLabel(s.writeFailover()));
            }
        }
    }

    @Override
    public void headRemoved(NamespaceHead head) {
    }

    /** Connects a portal (a discovery controller when {@code subnqn} is null); completes once connected. */
    CompletableFuture<Void> connect(String traddr, int trsvcid, String subnqn) {
        TransportAddress a = new TransportAddress(traddr, trsvcid);
        CompletableFuture<?> f = subnqn == null ? multipath.addDiscovery(a) : multipath.addPortal(a, subnqn);
        return f.thenApply(x -> (Void) null);
    }

    @Override
    public void ioPolicy(String nqn, String policy) {
        multipath.ioPolicy(nqn, IoPolicy.fromLabel(policy));
        log.info("{}: iopolicy set to {}", nqn, IoPolicy.fromLabel(policy).label());
    }

    @Override
    public void writeFailover(String nqn, String mode) {
        WriteFailover w = WriteFailover.fromLabel(mode);
        multipath.writeFailover(nqn, w);
        log.info("{}: write failover set to {}", nqn, w.label());
    }

    @Override
    public void preferredPath(String nqn, String path) {
        multipath.preferredPath(nqn, path);
        log.info("{}: preferred path {}", nqn, path == null ? "cleared" : path);
    }

    @Override
    public CompletableFuture<Void> addPortal(String traddr, int trsvcid, String subnqn) {
        if (traddr == null || traddr.isBlank()) {
            throw new IllegalArgumentException("traddr is missing");
        }
        if (trsvcid < 1 || trsvcid > 65535) {
            throw new IllegalArgumentException("trsvcid " + trsvcid + " is not a port");
        }
        log.info("portal {}:{} {} added", traddr, trsvcid, subnqn == null ? "(discovery)" : subnqn);
        return connect(traddr, trsvcid, subnqn);
    }

    @Override
    public boolean removePortal(String traddr, int trsvcid, String subnqn) {
        return multipath.removePortal(new TransportAddress(traddr, trsvcid), subnqn);
    }

    @Override
    public ReloadResult reload() {
        return reloader.get().reload();
    }
}
