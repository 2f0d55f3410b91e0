package io.nvmpath.server.http;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import io.netty.buffer.AdaptiveByteBufAllocator;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.internal.PlatformDependent;
import io.nvmpath.server.gateway.GatewayView;

/**
 * The gateway's meters in a Prometheus registry (Micrometer's, simpleclient flavour): what a
 * {@link GatewayView} shows, read at scrape time, plus the JVM's and Netty's direct memory. The
 * names, types, units and labels are declared in {@link GatewayMeter}; their Prometheus form:
 *
 * <table>
 * <caption>Series (counters end in {@code _total}; histograms have {@code _bucket{le}}, {@code _sum}, {@code _count})</caption>
 * <tr><th>series</th><th>type</th><th>labels</th><th>value</th></tr>
 * <tr><td>nvmpath_gateway_serving</td><td>gauge</td><td></td><td>1 while serving</td></tr>
 * <tr><td>nvmpath_subsystem_info</td><td>gauge</td><td>subsystem, iopolicy, preferred_path</td><td>1</td></tr>
 * <tr><td>nvmpath_subsystem_refused_paths</td><td>gauge</td><td>subsystem</td><td>paths refused to a head</td></tr>
 * <tr><td>nvmpath_head_size_bytes</td><td>gauge</td><td>subsystem, nsid</td><td>namespace size</td></tr>
 * <tr><td>nvmpath_head_paths</td><td>gauge</td><td>subsystem, nsid</td><td>paths joined</td></tr>
 * <tr><td>nvmpath_head_usable_paths</td><td>gauge</td><td>subsystem, nsid</td><td>usable paths</td></tr>
 * <tr><td>nvmpath_head_queued</td><td>gauge</td><td>subsystem, nsid</td><td>requests waiting for a path</td></tr>
 * <tr><td>nvmpath_head_queued_bytes</td><td>gauge</td><td>subsystem, nsid</td><td>their data</td></tr>
 * <tr><td>nvmpath_head_nopath_waits_total</td><td>counter</td><td>subsystem, nsid</td><td>requests that waited for a path</td></tr>
 * <tr><td>nvmpath_head_nopath_failures_total</td><td>counter</td><td>subsystem, nsid</td><td>requests failed for want of a path</td></tr>
 * <tr><td>nvmpath_head_failovers_total</td><td>counter</td><td>subsystem, nsid</td><td>FAILOVER dispositions</td></tr>
 * <tr><td>nvmpath_head_retries_total</td><td>counter</td><td>subsystem, nsid</td><td>RETRY dispositions</td></tr>
 * <tr><td>nvmpath_failovers_total</td><td>counter</td><td>subsystem, cause</td><td>failovers recorded (transport-closed,
 * keep-alive-timeout, io-timeout, host-reset, ana-state, path-error)</td></tr>
 * <tr><td>nvmpath_failover_stall_seconds</td><td>histogram</td><td>subsystem, cause</td><td>first failed command to
 * first completion on another path, per failover</td></tr>
 * <tr><td>nvmpath_path_controller_state</td><td>gauge</td><td>subsystem, path, state</td><td>one-hot: 1 on the current state</td></tr>
 * <tr><td>nvmpath_path_controller_state_code</td><td>gauge</td><td>subsystem, path</td><td>0 new, 1 connecting, 2 live, 3 resetting, 4 deleting, 5 dead</td></tr>
 * <tr><td>nvmpath_path_cntlid</td><td>gauge</td><td>subsystem, path</td><td>controller ID</td></tr>
 * <tr><td>nvmpath_path_inflight</td><td>gauge</td><td>subsystem, path</td><td>commands in flight</td></tr>
 * <tr><td>nvmpath_path_ops_total</td><td>counter</td><td>subsystem, path, op</td><td>successful I/O by kind (read, write, flush, other)</td></tr>
 * <tr><td>nvmpath_path_bytes_total</td><td>counter</td><td>subsystem, path, op</td><td>their data</td></tr>
 * <tr><td>nvmpath_path_latency_seconds</td><td>histogram</td><td>subsystem, path</td><td>latency of successful I/O</td></tr>
 * <tr><td>nvmpath_path_errors_total</td><td>counter</td><td>subsystem, path, status, status_name</td><td>failed commands by NVMe status ("0x302", "ANA Inaccessible")</td></tr>
 * <tr><td>nvmpath_path_ana_state</td><td>gauge</td><td>subsystem, nsid, path, state</td><td>one-hot: 1 on the current ANA state</td></tr>
 * <tr><td>nvmpath_path_ana_state_code</td><td>gauge</td><td>subsystem, nsid, path</td><td>1 optimized, 2 non-optimized, 3 inaccessible, 4 persistent-loss, 15 change</td></tr>
 * <tr><td>nvmpath_path_ana_group</td><td>gauge</td><td>subsystem, nsid, path</td><td>ANA group ID</td></tr>
 * <tr><td>nvmpath_path_usable</td><td>gauge</td><td>subsystem, nsid, path</td><td>1 while usable</td></tr>
 * <tr><td>nvmpath_path_held</td><td>gauge</td><td>subsystem, nsid, path</td><td>1 while held back</td></tr>
 * <tr><td>nvmpath_path_marginal</td><td>gauge</td><td>subsystem, nsid, path</td><td>1 while marginal</td></tr>
 * <tr><td>nvmpath_path_failures_total</td><td>counter</td><td>subsystem, nsid, path</td><td>times it stopped being usable</td></tr>
 * <tr><td>nvmpath_path_marginal_holds_total</td><td>counter</td><td>subsystem, nsid, path</td><td>times held as marginal</td></tr>
 * <tr><td>nvmpath_path_failovers_total</td><td>counter</td><td>subsystem, nsid, path</td><td>requests failed over away from it</td></tr>
 * <tr><td>nvmpath_export_available</td><td>gauge</td><td>export, subsystem, nsid</td><td>1 while it has a usable path</td></tr>
 * <tr><td>nvmpath_export_connections</td><td>gauge</td><td>export, subsystem, nsid</td><td>open NBD connections</td></tr>
 * <tr><td>nvmpath_export_connections_opened_total</td><td>counter</td><td>export, subsystem, nsid</td><td>NBD connections opened</td></tr>
 * <tr><td>nvmpath_export_inflight</td><td>gauge</td><td>export, subsystem, nsid</td><td>NBD requests in flight</td></tr>
 * <tr><td>nvmpath_export_requests_total</td><td>counter</td><td>export, subsystem, nsid, op</td><td>completed NBD requests by command</td></tr>
 * <tr><td>nvmpath_export_bytes_total</td><td>counter</td><td>export, subsystem, nsid, op</td><td>their data</td></tr>
 * <tr><td>nvmpath_export_errors_total</td><td>counter</td><td>export, subsystem, nsid, error</td><td>failed NBD requests by error name</td></tr>
 * <tr><td>nvmpath_portal_state</td><td>gauge</td><td>portal, kind, subsystem, state</td><td>one-hot: connected, connecting, retrying</td></tr>
 * <tr><td>nvmpath_portal_connect_failures_total</td><td>counter</td><td>portal, kind, subsystem, reason</td><td>failed connects: authentication (DH-HMAC-CHAP refused), connect (anything else)</td></tr>
 * <tr><td>nvmpath_netty_direct_memory_used_bytes</td><td>gauge</td><td>source</td><td>Netty direct memory (pooled, adaptive, platform)</td></tr>
 * <tr><td>jvm_*, process_*, system_*</td><td></td><td></td><td>Micrometer's JVM memory, GC, threads, processor, uptime, file descriptors</td></tr>
 * </table>
 *
 * <p>A path ({@code path="127.0.0.1:4420"}) without {@code nsid} is the controller: its figures cover
 * every namespace it carries. With {@code nsid} it is the path into that namespace head. A state
 * change shows in PromQL as {@code nvmpath_path_ana_state{state="optimized"} == 0}, or
 * {@code changes(nvmpath_path_ana_state_code[5m])}.
 */
@SuppressWarnings("deprecation") // the simpleclient flavour of the Prometheus registry is the one the project pins
public final class GatewayMetrics implements AutoCloseable {
    /** The Content-Type of {@link #scrape()}: the Prometheus text exposition format 0.0.4. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final PrometheusMeterRegistry registry;
    private final boolean ownsRegistry;
    private final GatewayCollector collector;
    private final JvmGcMetrics gc = new JvmGcMetrics();

    /** Meters of {@code view} in a registry of their own, closed with this. */
    public GatewayMetrics(GatewayView view) {
        this(view, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), true);
    }

    /** Meters of {@code view} in {@code registry}, which the caller keeps and closes. */
    public GatewayMetrics(GatewayView view, PrometheusMeterRegistry registry) {
        this(view, registry, false);
    }

    private GatewayMetrics(GatewayView view, PrometheusMeterRegistry registry, boolean ownsRegistry) {
        this.registry = registry;
        this.ownsRegistry = ownsRegistry;
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        bindNettyDirectMemory(registry);
        this.collector = new GatewayCollector(view);
        registry.getPrometheusRegistry().register(collector);
    }

    private static void bindNettyDirectMemory(MeterRegistry registry) {
        directMemory(registry, "pooled", PooledByteBufAllocator.DEFAULT.metric());
        ByteBufAllocator byDefault = ByteBufAllocator.DEFAULT;
        if (byDefault != PooledByteBufAllocator.DEFAULT && byDefault instanceof ByteBufAllocatorMetricProvider p) {
            directMemory(registry, byDefault instanceof AdaptiveByteBufAllocator ? "adaptive" : "default", p.metric());
        }
        if (PlatformDependent.usedDirectMemory() >= 0) {
            // counted only when Netty allocates direct memory without the JDK's Cleaner
            GatewayMeter m = GatewayMeter.NETTY_DIRECT_MEMORY;
            Gauge.builder(m.meterName(), PlatformDependent::usedDirectMemory).baseUnit(m.baseUnit())
                    .description(m.description()).tag("source", "platform").strongReference(true).register(registry);
        }
    }

    private static void directMemory(MeterRegistry registry, String source, ByteBufAllocatorMetric metric) {
        GatewayMeter m = GatewayMeter.NETTY_DIRECT_MEMORY;
        Gauge.builder(m.meterName(), metric, ByteBufAllocatorMetric::usedDirectMemory).baseUnit(m.baseUnit())
                .description(m.description()).tag("source", source).strongReference(true).register(registry);
    }

    /** The registry, for meters of other parts of the gateway. */
    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** Every series now, in the text format of {@link #CONTENT_TYPE}; reads one snapshot of the view. */
    public String scrape() {
        return registry.scrape();
    }

    /** Stops reading the view and the GC notifications; closes the registry if this created it. */
    @Override
    public void close() {
        registry.getPrometheusRegistry().unregister(collector);
        gc.close();
        if (ownsRegistry) {
            registry.close();
        }
    }
}
