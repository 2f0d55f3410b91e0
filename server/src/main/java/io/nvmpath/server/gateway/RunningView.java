package io.nvmpath.server.gateway;

import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.multipath.Multipath;
import io.nvmpath.multipath.FailoverLog;
import io.nvmpath.multipath.FailoverRecord;
import io.nvmpath.multipath.MultipathView;
import io.nvmpath.multipath.NamespaceHead;
import io.nvmpath.server.nbd.ExportStats;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The running gateway as {@link GatewayView} snapshots, each read at the call: the multipath layer's
 * own view of subsystems, heads and paths; the exports with their NBD counters; the portals; and
 * liveness and readiness from the gateway's life cycle.
 */
final class RunningView implements GatewayView {
    private final Multipath multipath;
    private final ExportTable exports;
    private final Supplier<GatewayConfig> config;
    private final BooleanSupplier serving;
    private final BooleanSupplier nbdOpen;

    /**
     * @param config the configuration in force (its portals are what readiness waits for)
     * @param serving the gateway serves (started, not stopping)
     * @param nbdOpen the NBD listener is bound
     */
    RunningView(Multipath multipath, ExportTable exports, Supplier<GatewayConfig> config, BooleanSupplier serving,
                BooleanSupplier nbdOpen) {
        this.multipath = multipath;
        this.exports = exports;
        this.config = config;
        this.serving = serving;
        this.nbdOpen = nbdOpen;
    }

    @Override
    public List<MultipathView.Subsystem> subsystems() {
        return multipath.view();
    }

    @Override
    public List<FailoverRecord> failovers() {
        return multipath.failovers();
    }

    @Override
    public List<FailoverLog.Stats> failoverStats() {
        return multipath.failoverStats();
    }

    @Override
    public List<Export> exports() {
        List<Export> out = new ArrayList<>();
        for (ExportTable.Entry e : exports.entries()) {
            ExportStats s = e.export().stats();
            Map<String, Long> requests = new TreeMap<>();
            Map<String, Long> bytes = new TreeMap<>();
            for (ExportStats.Op op : ExportStats.Op.values()) {
                String k = op.name().toLowerCase(Locale.ROOT);
                requests.put(k, s.requests(op));
                bytes.put(k, s.bytes(op));
            }
            NamespaceHead h = e.head();
            boolean available = h.paths().stream().anyMatch(p -> p.usable());
            out.add(new Export(e.export().name(), e.aliases(), h.subsystem().nqn(), h.nsid(), h.sizeBytes(),
                    h.lbaSize(), e.export().readOnly(), available, s.connections(), s.connectionsTotal(),
                    s.inFlight(), requests, bytes, s.errors()));
        }
        out.sort(Comparator.comparing(Export::name));
        return out;
    }

    @Override
    public List<Portal> portals() {
        return multipath.portals().stream().map(p -> new Portal(p.kind(), p.address().traddr(), p.address().trsvcid(),
                p.nqn(), p.state(), p.lastError(), p.failures(), p.authenticationFailures())).toList();
    }

    @Override
    public boolean serving() {
        return serving.getAsBoolean();
    }

    /**
     * Ready once serving with the NBD listener open, every configured portal tried once (connected or
     * failed: an unreachable portal is retried in the background and does not hold readiness), and at
     * least one export served.
     */
    @Override
    public Readiness readiness() {
        List<String> waiting = new ArrayList<>();
        if (!serving.getAsBoolean()) {
            waiting.add("the gateway to serve (it is starting or stopping)");
        } else if (!nbdOpen.getAsBoolean()) {
            waiting.add("the NBD listener (opens once the first export is served)");
        }
        List<Multipath.PortalView> known = multipath.portals();
        for (GatewayConfig.Portal p : config.get().portals()) {
            TransportAddress a = new TransportAddress(p.traddr(), p.trsvcid());
            boolean tried = known.stream().anyMatch(v -> v.address().equals(a)
                    && Objects.equals(v.nqn(), p.subnqn()) && !"connecting".equals(v.state()));
            if (!tried) {
                waiting.add("portal " + a + " " + (p.subnqn() == null ? "(discovery)" : p.subnqn())
                        + ": first connect not finished");
            }
        }
        if (exports.isEmpty()) {
            waiting.add("an export: no namespace head has a path yet");
        }
        return new Readiness(waiting.isEmpty(), waiting);
    }
}
