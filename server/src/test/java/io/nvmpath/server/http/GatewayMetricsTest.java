package io.nvmpath.server.http;

import io.nvmpath.fabric.host.PathStats;
import io.nvmpath.multipath.FailoverLog;
import io.nvmpath.multipath.MultipathView;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.nvmpath.server.http.GatewayFixture.NON_OPTIMIZED;
import static io.nvmpath.server.http.GatewayFixture.NQN;
import static io.nvmpath.server.http.GatewayFixture.OPTIMIZED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** {@link GatewayMetrics} over a {@link GatewayFixture}: the Prometheus text, parsed, after each change of the snapshot. */
class GatewayMetricsTest {
    private final GatewayFixture gateway = new GatewayFixture();
    private final GatewayMetrics metrics = new GatewayMetrics(gateway);

    @AfterEach
    void close() {
        metrics.close();
    }

    private PrometheusText scrape() {
        return PrometheusText.parse(metrics.scrape());
    }

    @Test
    void should_publish_the_ana_state_of_each_path_one_hot_and_as_its_code() {
        PrometheusText m = scrape();

        String[] optimized = {"subsystem", NQN, "nsid", "1", "path", OPTIMIZED};
        assertThat(m.samples("nvmpath_path_ana_state", optimized)).hasSize(5);
        assertThat(m.value("nvmpath_path_ana_state", with(optimized, "state", "optimized"))).isEqualTo(1.0);
        assertThat(m.value("nvmpath_path_ana_state", with(optimized, "state", "non-optimized"))).isEqualTo(0.0);
        assertThat(m.value("nvmpath_path_ana_state_code", optimized)).isEqualTo(1.0);
        assertThat(m.value("nvmpath_path_ana_state", "path", NON_OPTIMIZED, "state", "non-optimized")).isEqualTo(1.0);
        assertThat(m.value("nvmpath_path_ana_state_code", "path", NON_OPTIMIZED)).isEqualTo(2.0);
        assertThat(m.value("nvmpath_path_usable", optimized)).isEqualTo(1.0);
        assertThat(m.value("nvmpath_head_usable_paths", "subsystem", NQN, "nsid", "1")).isEqualTo(2.0);
        assertThat(m.type("nvmpath_path_ana_state")).isEqualTo("gauge");
    }

    @Test
    void should_follow_the_ana_state_when_the_optimized_path_goes_inaccessible() {
        scrape();
        gateway.changePath(OPTIMIZED, p -> GatewayFixture.withState(p, "live", "inaccessible", false, false, false));

        PrometheusText m = scrape();

        String[] optimized = {"subsystem", NQN, "nsid", "1", "path", OPTIMIZED};
        assertThat(m.value("nvmpath_path_ana_state", with(optimized, "state", "inaccessible"))).isEqualTo(1.0);
        assertThat(m.value("nvmpath_path_ana_state", with(optimized, "state", "optimized"))).isEqualTo(0.0);
        assertThat(m.value("nvmpath_path_ana_state_code", optimized)).isEqualTo(3.0);
        assertThat(m.value("nvmpath_path_usable", optimized)).isEqualTo(0.0);
        assertThat(m.value("nvmpath_head_usable_paths", "subsystem", NQN, "nsid", "1")).isEqualTo(1.0);
    }

    @Test
    void should_publish_the_keep_alive_round_trip_of_each_controller_in_seconds() {
        PrometheusText m = scrape();

        assertThat(m.value("nvmpath_path_keepalive_rtt_seconds", "path", OPTIMIZED)).isEqualTo(250e-6);
        assertThat(m.samples("nvmpath_path_keepalive_rtt_seconds", "path", OPTIMIZED))
                .allSatisfy(s -> assertThat(s.labels()).doesNotContainKey("nsid"));
    }

    @Test
    void should_publish_the_controller_state_one_hot_and_as_its_code_without_nsid() {
        gateway.changePath(NON_OPTIMIZED, p -> GatewayFixture.withState(p, "resetting", "non-optimized", false, true,
                true));

        PrometheusText m = scrape();

        assertThat(m.samples("nvmpath_path_controller_state", "path", NON_OPTIMIZED)).hasSize(6)
                .allSatisfy(s -> assertThat(s.labels()).doesNotContainKey("nsid"));
        assertThat(m.value("nvmpath_path_controller_state", "path", NON_OPTIMIZED, "state", "resetting"))
                .isEqualTo(1.0);
        assertThat(m.value("nvmpath_path_controller_state", "path", NON_OPTIMIZED, "state", "live")).isEqualTo(0.0);
        assertThat(m.value("nvmpath_path_controller_state_code", "path", NON_OPTIMIZED)).isEqualTo(3.0);
        assertThat(m.value("nvmpath_path_controller_state_code", "path", OPTIMIZED)).isEqualTo(2.0);
        assertThat(m.value("nvmpath_path_cntlid", "path", NON_OPTIMIZED)).isEqualTo(2.0);
        assertThat(m.value("nvmpath_path_held", "path", NON_OPTIMIZED)).isEqualTo(1.0);
        assertThat(m.value("nvmpath_path_marginal", "path", NON_OPTIMIZED)).isEqualTo(1.0);
    }

    @Test
    void should_expose_path_latency_as_a_cumulative_histogram_in_seconds() {
        long[] buckets = new long[PathStats.BUCKET_MICROS.length];
        buckets[0] = 3;     // <= 50 us
        buckets[1] = 5;     // <= 100 us
        buckets[3] = 2;     // <= 500 us
        buckets[9] = 1;     // <= 50 ms
        buckets[buckets.length - 1] = 4; // over 5 s
        gateway.changePath(OPTIMIZED, p -> GatewayFixture.withIo(p, 11, 4, buckets, 2_750_000, Map.of()));

        PrometheusText m = scrape();

        assertThat(m.type("nvmpath_path_latency_seconds")).isEqualTo("histogram");
        List<PrometheusText.Sample> b = m.samples("nvmpath_path_latency_seconds_bucket", "path", OPTIMIZED);
        assertThat(b).hasSize(PathStats.BUCKET_MICROS.length);
        double previous = 0;
        double previousLe = 0;
        for (PrometheusText.Sample s : b) {
            double le = s.labels().get("le").equals("+Inf") ? Double.POSITIVE_INFINITY
                    : Double.parseDouble(s.labels().get("le"));
            assertThat(le).isGreaterThan(previousLe);
            assertThat(s.value()).isGreaterThanOrEqualTo(previous);
            previous = s.value();
            previousLe = le;
        }
        assertThat(m.value("nvmpath_path_latency_seconds_bucket", "path", OPTIMIZED, "le", "5.0E-5")).isEqualTo(3.0);
        assertThat(m.value("nvmpath_path_latency_seconds_bucket", "path", OPTIMIZED, "le", "1.0E-4")).isEqualTo(8.0);
        assertThat(m.value("nvmpath_path_latency_seconds_bucket", "path", OPTIMIZED, "le", "0.5")).isEqualTo(11.0);
        assertThat(m.value("nvmpath_path_latency_seconds_bucket", "path", OPTIMIZED, "le", "5.0")).isEqualTo(11.0);
        assertThat(m.value("nvmpath_path_latency_seconds_bucket", "path", OPTIMIZED, "le", "+Inf")).isEqualTo(15.0);
        assertThat(m.value("nvmpath_path_latency_seconds_count", "path", OPTIMIZED)).isEqualTo(15.0);
        assertThat(m.value("nvmpath_path_latency_seconds_sum", "path", OPTIMIZED)).isCloseTo(2.75, within(1e-9));
    }

    @Test
    void should_count_io_and_errors_by_kind_and_nvme_status() {
        long[] buckets = new long[PathStats.BUCKET_MICROS.length];
        gateway.changePath(OPTIMIZED, p -> GatewayFixture.withIo(p, 100, 40, buckets, 0, Map.of(0x302, 6L, 0x371, 1L)));

        PrometheusText m = scrape();

        assertThat(m.type("nvmpath_path_ops_total")).isEqualTo("counter");
        assertThat(m.value("nvmpath_path_ops_total", "path", OPTIMIZED, "op", "read")).isEqualTo(100.0);
        assertThat(m.value("nvmpath_path_ops_total", "path", OPTIMIZED, "op", "write")).isEqualTo(40.0);
        assertThat(m.value("nvmpath_path_bytes_total", "path", OPTIMIZED, "op", "write")).isEqualTo(40.0 * 8192);
        assertThat(m.value("nvmpath_path_errors_total", "path", OPTIMIZED, "status", "0x302")).isEqualTo(6.0);
        assertThat(m.samples("nvmpath_path_errors_total", "status", "0x302").get(0).labels())
                .containsEntry("status_name", "ANA Inaccessible");
        assertThat(m.value("nvmpath_path_errors_total", "path", OPTIMIZED, "status", "0x371")).isEqualTo(1.0);
        assertThat(m.value("nvmpath_path_inflight", "path", OPTIMIZED)).isEqualTo(3.0);
        assertThat(m.value("nvmpath_path_failures_total", "path", OPTIMIZED)).isEqualTo(2.0);
        assertThat(m.value("nvmpath_path_marginal_holds_total", "path", OPTIMIZED)).isEqualTo(1.0);
        assertThat(m.value("nvmpath_path_failovers_total", "path", OPTIMIZED)).isEqualTo(7.0);
    }

    @Test
    void should_count_a_controller_once_when_it_serves_two_namespaces() {
        long[] buckets = new long[PathStats.BUCKET_MICROS.length];
        buckets[2] = 9;
        MultipathView.PathEntry a = GatewayFixture.withIo(GatewayFixture.path(OPTIMIZED, 1, "live", "optimized", true),
                9, 0, buckets, 1000, Map.of());
        MultipathView.PathEntry b = GatewayFixture.withState(a, "live", "inaccessible", false, false, false);
        gateway.subsystems(List.of(new MultipathView.Subsystem(NQN, "numa", null, "safe",
                List.of(GatewayFixture.head(1, a), GatewayFixture.head(2, b)), List.of())));

        PrometheusText m = scrape();

        assertThat(m.samples("nvmpath_path_ops_total", "path", OPTIMIZED, "op", "read")).hasSize(1)
                .allSatisfy(s -> assertThat(s.value()).isEqualTo(9.0));
        assertThat(m.value("nvmpath_path_latency_seconds_count", "path", OPTIMIZED)).isEqualTo(9.0);
        assertThat(m.value("nvmpath_path_ana_state_code", "nsid", "1", "path", OPTIMIZED)).isEqualTo(1.0);
        assertThat(m.value("nvmpath_path_ana_state_code", "nsid", "2", "path", OPTIMIZED)).isEqualTo(3.0);
    }

    @Test
    void should_drop_every_series_of_a_path_that_vanished() {
        assertThat(scrape().samples()).anyMatch(s -> NON_OPTIMIZED.equals(s.labels().get("path")));

        gateway.removePath(NON_OPTIMIZED);
        PrometheusText m = scrape();

        assertThat(m.samples()).noneMatch(s -> NON_OPTIMIZED.equals(s.labels().get("path")));
        assertThat(m.value("nvmpath_path_ana_state_code", "path", OPTIMIZED)).isEqualTo(1.0);
        assertThat(m.value("nvmpath_head_paths", "subsystem", NQN, "nsid", "1")).isEqualTo(1.0);
    }

    @Test
    void should_drop_the_series_of_an_export_and_a_subsystem_that_vanished() {
        gateway.exports(List.of());
        gateway.subsystems(List.of());

        PrometheusText m = scrape();

        assertThat(m.samples()).noneMatch(s -> s.name().startsWith("nvmpath_export_")
                || s.name().startsWith("nvmpath_subsystem_") || s.name().startsWith("nvmpath_head_")
                || s.name().startsWith("nvmpath_path_"));
        assertThat(m.samples("nvmpath_portal_state", "subsystem", NQN)).isNotEmpty();
        assertThat(m.type("nvmpath_export_requests_total")).as("the family is still declared").isEqualTo("counter");
    }

    @Test
    void should_label_two_controllers_at_one_address_by_their_full_names() {
        gateway.subsystems(List.of(new MultipathView.Subsystem(NQN, "numa", null, "safe", List.of(GatewayFixture.head(1,
                GatewayFixture.path(OPTIMIZED, 1, "live", "optimized", true),
                GatewayFixture.path(OPTIMIZED, 7, "connecting", "optimized", false))), List.of())));

        PrometheusText m = scrape();

        assertThat(m.value("nvmpath_path_cntlid", "path", OPTIMIZED + " cntlid 1")).isEqualTo(1.0);
        assertThat(m.value("nvmpath_path_cntlid", "path", OPTIMIZED + " cntlid 7")).isEqualTo(7.0);
        assertThat(m.samples("nvmpath_path_cntlid", "path", OPTIMIZED)).isEmpty();
    }

    @Test
    void should_publish_the_no_path_queue_and_dispositions_of_each_head() {
        gateway.changeHeads(h -> GatewayFixture.withQueue(h, 5, 5 * 4096));
        gateway.subsystems(gateway.subsystems().stream().map(s -> new MultipathView.Subsystem(s.nqn(), "round-robin",
                OPTIMIZED, "safe", s.heads(), List.of(GatewayFixture.refused("10.0.0.9:4420 cntlid 3", 1, "NGUID differs"))))
                .toList());

        PrometheusText m = scrape();

        String[] head = {"subsystem", NQN, "nsid", "1"};
        assertThat(m.value("nvmpath_head_queued", head)).isEqualTo(5.0);
        assertThat(m.value("nvmpath_head_queued_bytes", head)).isEqualTo(5.0 * 4096);
        assertThat(m.value("nvmpath_head_nopath_waits_total", head)).isEqualTo(11.0);
        assertThat(m.value("nvmpath_head_nopath_failures_total", head)).isEqualTo(1.0);
        assertThat(m.value("nvmpath_head_failovers_total", head)).isEqualTo(4.0);
        assertThat(m.value("nvmpath_head_retries_total", head)).isEqualTo(6.0);
        assertThat(m.value("nvmpath_head_size_bytes", head)).isEqualTo((double) GatewayFixture.GIB);
        assertThat(m.value("nvmpath_subsystem_info", "subsystem", NQN, "iopolicy", "round-robin",
                "preferred_path", OPTIMIZED)).isEqualTo(1.0);
        assertThat(m.value("nvmpath_subsystem_refused_paths", "subsystem", NQN)).isEqualTo(1.0);
    }

    @Test
    void should_publish_failovers_by_cause_and_their_stalls_as_a_histogram() {
        long[] buckets = new long[FailoverLog.STALL_BUCKETS.length + 1];
        buckets[1] = 2; // two stalls of 5-10 ms
        buckets[9] = 1; // one of 2.5-5 s
        gateway.failovers(List.of(), List.of(new FailoverLog.Stats(NQN, "transport-closed", 3, buckets, 3.1)));

        PrometheusText m = scrape();

        String[] labels = {"subsystem", NQN, "cause", "transport-closed"};
        assertThat(m.value("nvmpath_failovers_total", labels)).isEqualTo(3.0);
        assertThat(m.value("nvmpath_failover_stall_seconds_bucket", "subsystem", NQN, "cause", "transport-closed",
                "le", "0.01")).isEqualTo(2.0);
        assertThat(m.value("nvmpath_failover_stall_seconds_bucket", "subsystem", NQN, "cause", "transport-closed",
                "le", "5.0")).isEqualTo(3.0);
        assertThat(m.value("nvmpath_failover_stall_seconds_bucket", "subsystem", NQN, "cause", "transport-closed",
                "le", "+Inf")).isEqualTo(3.0);
        assertThat(m.value("nvmpath_failover_stall_seconds_count", labels)).isEqualTo(3.0);
        assertThat(m.value("nvmpath_failover_stall_seconds_sum", labels)).isEqualTo(3.1);
    }

    @Test
    void should_publish_exports_by_name_and_portals_one_hot() {
        PrometheusText m = scrape();

        String[] export = {"export", GatewayFixture.EXPORT, "subsystem", NQN, "nsid", "1"};
        assertThat(m.value("nvmpath_export_connections", export)).isEqualTo(2.0);
        assertThat(m.value("nvmpath_export_connections_opened_total", export)).isEqualTo(3.0);
        assertThat(m.value("nvmpath_export_inflight", export)).isEqualTo(1.0);
        assertThat(m.value("nvmpath_export_available", export)).isEqualTo(1.0);
        assertThat(m.value("nvmpath_export_requests_total", with(export, "op", "read"))).isEqualTo(10.0);
        assertThat(m.value("nvmpath_export_bytes_total", with(export, "op", "write"))).isEqualTo(20480.0);
        assertThat(m.value("nvmpath_export_errors_total", with(export, "error", "EIO"))).isEqualTo(1.0);
        assertThat(m.value("nvmpath_export_errors_total", with(export, "error", "EINVAL")))
                .as("an error that has not happened is 0, not absent").isEqualTo(0.0);
        assertThat(m.value("nvmpath_portal_state", "portal", "127.0.0.1:8009", "kind", "discovery", "subsystem", "",
                "state", "connected")).isEqualTo(1.0);
        assertThat(m.value("nvmpath_portal_state", "portal", OPTIMIZED, "state", "retrying")).isEqualTo(0.0);
        assertThat(m.value("nvmpath_gateway_serving")).isEqualTo(1.0);

        gateway.serving(false);
        assertThat(scrape().value("nvmpath_gateway_serving")).isEqualTo(0.0);
    }

    @Test
    void should_publish_jvm_process_and_netty_direct_memory_meters() {
        PrometheusText m = scrape();

        assertThat(m.samples("jvm_memory_used_bytes")).isNotEmpty();
        assertThat(m.samples("jvm_threads_live_threads")).isNotEmpty();
        assertThat(m.types()).containsKey("jvm_gc_memory_allocated_bytes_total");
        assertThat(m.samples("system_cpu_count")).isNotEmpty();
        assertThat(m.samples("process_uptime_seconds")).isNotEmpty();
        assertThat(m.value("nvmpath_netty_direct_memory_used_bytes", "source", "pooled")).isNotNull()
                .isGreaterThanOrEqualTo(0.0);
    }

    @Test
    void should_declare_every_meter_with_its_type_and_every_counter_sample_ending_in_total() {
        PrometheusText m = scrape();

        for (GatewayMeter meter : GatewayMeter.values()) {
            // the 0.0.4 text of simpleclient names a counter family by its samples' name
            String family = meter.prometheusName() + (meter.type() == GatewayMeter.Type.COUNTER ? "_total" : "");
            assertThat(m.type(family)).as(family).isEqualTo(meter.type().name().toLowerCase());
        }
        for (PrometheusText.Sample s : m.samples()) {
            if (s.name().startsWith("nvmpath_")) {
                String family = family(m, s.name());
                assertThat(family).as("family of %s", s.name()).isNotNull();
                assertThat(m.type(family).equals("counter")).isEqualTo(s.name().endsWith("_total"));
            }
        }
    }

    @Test
    @SuppressWarnings("deprecation") // the simpleclient registry, as in GatewayMetrics
    void should_stop_reading_the_view_once_closed() {
        GatewayFixture other = new GatewayFixture();
        GatewayMetrics closed = new GatewayMetrics(other,
                new io.micrometer.prometheus.PrometheusMeterRegistry(io.micrometer.prometheus.PrometheusConfig.DEFAULT));
        String before = closed.registry().scrape();
        closed.close();

        assertThat(before).contains("nvmpath_path_ana_state");
        assertThat(closed.registry().scrape()).doesNotContain("nvmpath_path_ana_state");
    }

    private static String family(PrometheusText m, String sample) {
        for (String suffix : List.of("", "_total", "_bucket", "_count", "_sum")) {
            if (sample.endsWith(suffix)) {
                String f = sample.substring(0, sample.length() - suffix.length());
                if (m.type(f) != null) {
                    return f;
                }
            }
        }
        return null;
    }

    private static String[] with(String[] labels, String... more) {
        List<String> all = new ArrayList<>(List.of(labels));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }
}
