package io.nvmpath.server.http;

import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.host.PathStats;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.multipath.FailoverLog;
import io.nvmpath.multipath.MultipathView;
import io.nvmpath.server.gateway.GatewayView;
import io.nvmpath.server.nbd.NbdError;
import io.prometheus.client.Collector;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static io.nvmpath.server.http.GatewayMeter.*;

/**
 * The {@link GatewayView} as Prometheus samples, computed at scrape time: each scrape reads one
 * snapshot of subsystems, exports and portals, so every series of a scrape comes from the same
 * moment, and a path, head, export or portal that is gone has no series at all (there is no meter to
 * remove). Registered in the {@link io.prometheus.client.CollectorRegistry} behind the Micrometer
 * registry, next to Micrometer's own meters.
 *
 * <p>The {@code path} label is the controller's transport address ({@code 127.0.0.1:4420}), stable
 * across reconnects; the path's full name ({@code 127.0.0.1:4420 cntlid 2}) is used instead only when
 * two controllers of one subsystem share an address. The CNTLID is a value
 * ({@link GatewayMeter#PATH_CNTLID}), not a label.
 */
final class GatewayCollector extends Collector implements Collector.Describable {
    /** How the multipath layer names a path: {@code <address> cntlid <n>}. */
    private static final List<String> PORTAL_STATES = List.of("connected", "connecting", "retrying");

    private final GatewayView view;

    GatewayCollector(GatewayView view) {
        this.view = view;
    }

    @Override
    public List<MetricFamilySamples> collect() {
        Samples s = new Samples();
        s.add(SERVING, view.serving() ? 1 : 0);
        for (MultipathView.Subsystem sub : view.subsystems()) {
            subsystem(s, sub);
        }
        for (GatewayView.Export e : view.exports()) {
            export(s, e);
        }
        for (GatewayView.Portal p : view.portals()) {
            portal(s, p);
        }
        for (FailoverLog.Stats f : view.failoverStats()) {
            failovers(s, f);
        }
        return s.families();
    }

    /** The families with no samples, so the registry can check names at registration without a snapshot. */
    @Override
    public List<MetricFamilySamples> describe() {
        return new Samples().families();
    }

    private static void subsystem(Samples s, MultipathView.Subsystem sub) {
        String nqn = sub.nqn();
        s.add(SUBSYSTEM_INFO, 1, nqn, sub.ioPolicy(), text(sub.preferredPath()));
        s.add(SUBSYSTEM_REFUSED_PATHS, sub.refused() == null ? 0 : sub.refused().size(), nqn);
        Map<String, String> labels = pathLabels(sub);
        Set<String> controllers = new HashSet<>();
        for (MultipathView.Head h : sub.heads()) {
            String nsid = Integer.toUnsignedString(h.nsid());
            s.add(HEAD_SIZE, h.sizeBytes(), nqn, nsid);
            s.add(HEAD_PATHS, h.paths().size(), nqn, nsid);
            s.add(HEAD_QUEUED, h.queuedIos(), nqn, nsid);
            s.add(HEAD_QUEUED_BYTES, h.queuedBytes(), nqn, nsid);
            s.add(HEAD_NO_PATH_WAITS, h.noPathWaits(), nqn, nsid);
            s.add(HEAD_NO_PATH_FAILURES, h.noPathFailures(), nqn, nsid);
            s.add(HEAD_FAILOVERS, h.failovers(), nqn, nsid);
            s.add(HEAD_RETRIES, h.retries(), nqn, nsid);
            int usable = 0;
            for (MultipathView.PathEntry p : h.paths()) {
                String path = labels.get(p.name());
                // the controller's own figures are repeated in every head it serves: count them once
                if (controllers.add(path)) {
                    controller(s, nqn, path, p);
                }
                headPath(s, nqn, nsid, path, p);
                usable += p.usable() ? 1 : 0;
            }
            s.add(HEAD_USABLE_PATHS, usable, nqn, nsid);
        }
    }

    /** What belongs to the controller: its state, its I/O and latency, its errors. */
    private static void controller(Samples s, String nqn, String path, MultipathView.PathEntry p) {
        ControllerState state = controllerState(p.controllerState());
        for (ControllerState c : ControllerState.values()) {
            s.add(PATH_CONTROLLER_STATE, c == state ? 1 : 0, nqn, path, c.name().toLowerCase(Locale.ROOT));
        }
        if (state == null) {
            s.add(PATH_CONTROLLER_STATE, 1, nqn, path, text(p.controllerState()));
        }
        s.add(PATH_CONTROLLER_STATE_CODE, state == null ? -1 : state.ordinal(), nqn, path);
        int cntlid = p.cntlid();
        if (cntlid >= 0) {
            s.add(PATH_CNTLID, cntlid, nqn, path);
        }
        s.add(PATH_IN_FLIGHT, p.inFlight(), nqn, path);
        if (p.keepAliveRttMicros() >= 0) {
            s.add(PATH_KEEPALIVE_RTT, p.keepAliveRttMicros() / 1e6, nqn, path);
        }
        p.ops().forEach((op, n) -> s.add(PATH_OPS, n, nqn, path, op));
        p.bytes().forEach((op, n) -> s.add(PATH_BYTES, n, nqn, path, op));
        p.errors().forEach((status, n) -> s.add(PATH_ERRORS, n, nqn, path, String.format("0x%03x", status),
                statusName(status)));
        latency(s, nqn, path, p.latencyBuckets(), p.latencySumMicros());
    }

    /** Failovers of one subsystem and cause: the count, and the stalls as a histogram in seconds. */
    private static void failovers(Samples s, FailoverLog.Stats f) {
        s.add(FAILOVERS, f.count(), f.subsystem(), f.cause());
        long cumulative = 0;
        for (int i = 0; i <= FailoverLog.STALL_BUCKETS.length; i++) {
            cumulative += f.buckets()[i];
            String le = i == FailoverLog.STALL_BUCKETS.length ? "+Inf" : Collector.doubleToGoString(FailoverLog.STALL_BUCKETS[i]);
            s.bucket(FAILOVER_STALL, cumulative, le, f.subsystem(), f.cause());
        }
        s.add(FAILOVER_STALL, "_count", cumulative, f.subsystem(), f.cause());
        s.add(FAILOVER_STALL, "_sum", f.stallSumSeconds(), f.subsystem(), f.cause());
    }

    /**
     * {@link PathStats#BUCKET_MICROS} as a Prometheus histogram in seconds: cumulative buckets, the
     * open last one as {@code +Inf}, {@code _count} their total.
     */
    private static void latency(Samples s, String nqn, String path, long[] buckets, long sumMicros) {
        long cumulative = 0;
        for (int i = 0; i < PathStats.BUCKET_MICROS.length; i++) {
            cumulative += buckets != null && i < buckets.length ? buckets[i] : 0;
            long bound = PathStats.BUCKET_MICROS[i];
            String le = bound == Long.MAX_VALUE ? "+Inf" : Collector.doubleToGoString(bound / 1e6);
            s.bucket(PATH_LATENCY, cumulative, le, nqn, path);
        }
        s.add(PATH_LATENCY, "_count", cumulative, nqn, path);
        s.add(PATH_LATENCY, "_sum", sumMicros / 1e6, nqn, path);
    }

    /** What belongs to the path into one namespace: ANA, the path predicate, holds, failovers. */
    private static void headPath(Samples s, String nqn, String nsid, String path, MultipathView.PathEntry p) {
        AnaState ana = AnaState.fromLabel(text(p.anaState()));
        for (AnaState a : AnaState.values()) {
            s.add(PATH_ANA_STATE, a == ana ? 1 : 0, nqn, nsid, path, a.label());
        }
        if (ana == null) {
            s.add(PATH_ANA_STATE, 1, nqn, nsid, path, text(p.anaState()));
        }
        s.add(PATH_ANA_STATE_CODE, ana == null ? -1 : ana.code(), nqn, nsid, path);
        s.add(PATH_ANA_GROUP, p.anaGroup(), nqn, nsid, path);
        s.add(PATH_USABLE, p.usable() ? 1 : 0, nqn, nsid, path);
        s.add(PATH_HELD, p.heldBack() ? 1 : 0, nqn, nsid, path);
        s.add(PATH_MARGINAL, p.marginal() ? 1 : 0, nqn, nsid, path);
        s.add(PATH_FAILURES, p.failures(), nqn, nsid, path);
        s.add(PATH_MARGINAL_HOLDS, p.marginalHolds(), nqn, nsid, path);
        s.add(PATH_FAILOVERS, p.failoversFrom(), nqn, nsid, path);
    }

    private static void export(Samples s, GatewayView.Export e) {
        String name = e.name();
        String nqn = text(e.subnqn());
        String nsid = Integer.toUnsignedString(e.nsid());
        s.add(EXPORT_AVAILABLE, e.available() ? 1 : 0, name, nqn, nsid);
        s.add(EXPORT_CONNECTIONS, e.connections(), name, nqn, nsid);
        s.add(EXPORT_CONNECTIONS_OPENED, e.connectionsTotal(), name, nqn, nsid);
        s.add(EXPORT_IN_FLIGHT, e.inFlight(), name, nqn, nsid);
        e.requests().forEach((op, n) -> s.add(EXPORT_REQUESTS, n, name, nqn, nsid, op));
        e.bytes().forEach((op, n) -> s.add(EXPORT_BYTES, n, name, nqn, nsid, op));
        // every NBD error (the export counts them by these names), 0 until it happens: a bounded set, and
        // rate() has a series from the start
        for (NbdError error : NbdError.values()) {
            s.add(EXPORT_ERRORS, e.errors().getOrDefault(error.name(), 0L), name, nqn, nsid, error.name());
        }
    }

    private static void portal(Samples s, GatewayView.Portal p) {
        String portal = hostPort(p.traddr(), p.trsvcid());
        String nqn = text(p.subnqn());
        for (String state : PORTAL_STATES) {
            s.add(PORTAL_STATE, state.equals(p.state()) ? 1 : 0, portal, p.kind(), nqn, state);
        }
        if (!PORTAL_STATES.contains(p.state())) {
            s.add(PORTAL_STATE, 1, portal, p.kind(), nqn, text(p.state()));
        }
        // both reasons from the start, so that increase() has a series before the first failure
        s.add(PORTAL_CONNECT_FAILURES, p.authenticationFailures(), portal, p.kind(), nqn, "authentication");
        s.add(PORTAL_CONNECT_FAILURES, p.failures() - p.authenticationFailures(), portal, p.kind(), nqn, "connect");
    }

    // ---- labels ------------------------------------------------------------------------------

    /** Path name → {@code path} label: the address, or the full name where two controllers share one. */
    static Map<String, String> pathLabels(MultipathView.Subsystem sub) {
        Map<String, Set<String>> byAddress = new HashMap<>();
        for (MultipathView.Head h : sub.heads()) {
            for (MultipathView.PathEntry p : h.paths()) {
                byAddress.computeIfAbsent(p.address(), k -> new TreeSet<>()).add(p.name());
            }
        }
        Map<String, String> labels = new HashMap<>();
        byAddress.forEach((address, names) -> names.forEach(n -> labels.put(n, names.size() == 1 ? address : n)));
        return labels;
    }

    static String hostPort(String traddr, int trsvcid) {
        return (traddr.indexOf(':') >= 0 ? "[" + traddr + "]" : traddr) + ":" + trsvcid;
    }

    private static ControllerState controllerState(String label) {
        for (ControllerState c : ControllerState.values()) {
            if (c.name().equalsIgnoreCase(label)) {
                return c;
            }
        }
        return null;
    }

    /** "ANA Inaccessible" of "ANA Inaccessible (SCT 3h SC 02h)". */
    private static String statusName(int status) {
        String d = Status.describe(status);
        int i = d.indexOf(" (");
        return i < 0 ? d : d.substring(0, i);
    }

    private static String text(String s) {
        return s == null ? "" : s;
    }

    /**
     * The samples of one scrape, by meter. A series given twice (two exports of one name, say) is
     * kept once: Prometheus refuses a whole scrape with a duplicate series.
     */
    private static final class Samples {
        private final Map<GatewayMeter, List<MetricFamilySamples.Sample>> byMeter = new EnumMap<>(GatewayMeter.class);
        private final Set<List<String>> seen = new HashSet<>();

        void add(GatewayMeter m, double value, String... labelValues) {
            add(m, m.type() == GatewayMeter.Type.COUNTER ? "_total" : "", value, labelValues);
        }

        /** A sample of {@code m} with a suffix: {@code _count}, {@code _sum}. */
        void add(GatewayMeter m, String suffix, double value, String... labelValues) {
            put(m, m.prometheusName() + suffix, m.labels(), List.of(labelValues), value);
        }

        void bucket(GatewayMeter m, double cumulative, String le, String... labelValues) {
            List<String> names = new ArrayList<>(m.labels());
            names.add("le");
            List<String> values = new ArrayList<>(List.of(labelValues));
            values.add(le);
            put(m, m.prometheusName() + "_bucket", names, values, cumulative);
        }

        private void put(GatewayMeter m, String name, List<String> labelNames, List<String> labelValues, double v) {
            List<String> series = new ArrayList<>(labelValues.size() + 1);
            series.add(name);
            series.addAll(labelValues);
            if (seen.add(series)) {
                byMeter.computeIfAbsent(m, k -> new ArrayList<>())
                        .add(new MetricFamilySamples.Sample(name, labelNames, labelValues, v));
            }
        }

        List<MetricFamilySamples> families() {
            List<MetricFamilySamples> out = new ArrayList<>();
            for (GatewayMeter m : GatewayMeter.values()) {
                if (m.fromView()) {
                    out.add(new MetricFamilySamples(m.prometheusName(), m.prometheusType(), m.description(),
                            byMeter.getOrDefault(m, List.of())));
                }
            }
            return out;
        }
    }
}
