package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.nvmpath.multipath.FailoverRecord;
import io.nvmpath.multipath.MultipathView;
import io.nvmpath.server.http.GatewayFixture;
import io.nvmpath.server.http.GatewayMetrics;
import io.nvmpath.server.http.HttpAdminServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;

import static io.nvmpath.server.http.GatewayFixture.NON_OPTIMIZED;
import static io.nvmpath.server.http.GatewayFixture.NQN;
import static io.nvmpath.server.http.GatewayFixture.OPTIMIZED;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code nvmpath list-subsys} against a running {@link HttpAdminServer} over a {@link GatewayFixture}. */
class ListSubsysCommandTest {
    private static final String NL = System.lineSeparator();
    private static final String HEAD_IDS = "nguid 000000000000000000000000abcdef01  uuid 5f0c2a9e-0000-4000-8000-000000000001";

    private GatewayFixture gateway;
    private GatewayMetrics metrics;
    private HttpAdminServer server;
    private String url;

    @BeforeEach
    void start() throws Exception {
        gateway = new GatewayFixture();
        metrics = new GatewayMetrics(gateway);
        server = new HttpAdminServer("127.0.0.1", 0, null, gateway, gateway, metrics);
        url = "http://127.0.0.1:" + server.start().getPort();
    }

    @AfterEach
    void stop() {
        server.close();
        metrics.close();
    }

    @Test
    void should_print_each_subsystem_with_its_heads_exports_and_paths() {
        CliRun r = CliRun.of("list-subsys", "--url", url);

        assertThat(r.err()).isEmpty();
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).isEqualTo(
                NQN + "  iopolicy=numa  writes=safe" + NL
                + "\\ nsid 1  1.00 GiB  4096 B  " + HEAD_IDS + "  export " + NQN + "/1 (demo)  queued 0" + NL
                + "  +- 127.0.0.1:4420 cntlid 1  live  optimized      usable  inflight 0" + NL
                + "  +- 127.0.0.1:4421 cntlid 2  live  non-optimized  usable  inflight 0" + NL);
    }

    @Test
    void should_show_a_failed_path_queued_io_the_preferred_path_and_a_refused_path() {
        gateway.changePath(OPTIMIZED, p -> GatewayFixture.withState(p, "resetting", "inaccessible", false, true, true));
        gateway.changePath(NON_OPTIMIZED, p -> GatewayFixture.withState(p, "live", "non-optimized", true, true, false));
        gateway.changeHeads(h -> GatewayFixture.withQueue(h, 3, 3 * 4096));
        gateway.subsystems(gateway.subsystems().stream().map(s -> new MultipathView.Subsystem(s.nqn(), "round-robin",
                OPTIMIZED, "immediate", s.heads(), List.of(GatewayFixture.refused("10.0.0.9:4420 cntlid 3", 1, "NGUID differs"))))
                .toList());
        gateway.exports(List.of());

        CliRun r = CliRun.of("list-subsys", "--url", url + "/");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).isEqualTo(
                NQN + "  iopolicy=round-robin  writes=immediate  preferred=127.0.0.1:4420" + NL
                + "\\ nsid 1  1.00 GiB  4096 B  " + HEAD_IDS + "  export -  queued 3" + NL
                + "  +- 127.0.0.1:4420 cntlid 1  resetting  inaccessible   unusable,marginal  inflight 0" + NL
                + "  +- 127.0.0.1:4421 cntlid 2  live       non-optimized  usable,held        inflight 0" + NL
                + "  x- 10.0.0.9:4420 cntlid 3  refused: NGUID differs" + NL);
    }

    @Test
    void should_show_the_last_failover_of_each_head() {
        gateway.failovers(List.of(
                new FailoverRecord(2_000L, NQN, 1, OPTIMIZED + " cntlid 1", NON_OPTIMIZED + " cntlid 2",
                        "keep-alive-timeout", 0x371, 3, 5, 5, "ccr", 2, 4),
                new FailoverRecord(1_000L, NQN, 1, NON_OPTIMIZED + " cntlid 2", null, "transport-closed", 0x371, 1, 0,
                        0, "none", 0, -1)), List.of());

        CliRun r = CliRun.of("list-subsys", "--url", url);

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("  ~ last failover " + OPTIMIZED + " cntlid 1 -> " + NON_OPTIMIZED
                + " cntlid 2: keep-alive-timeout, stall 4 ms, 3 reads, 5 writes (5 fenced, ccr 2 ms)" + NL);
        assertThat(r.out()).doesNotContain("transport-closed");
    }

    @Test
    void should_say_so_when_there_are_no_subsystems() {
        gateway.subsystems(List.of());

        CliRun r = CliRun.of("list-subsys", "--url", url);

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).isEqualTo("no subsystems" + NL);
    }

    @Test
    void should_print_the_subsystems_and_exports_documents_with_o_json() throws Exception {
        CliRun r = CliRun.of("list-subsys", "--url", url, "-o", "json");

        assertThat(r.exitCode()).isZero();
        JsonNode json = Report.MAPPER.readTree(r.out());
        assertThat(json.path("subsystems").get(0).path("nqn").asText()).isEqualTo(NQN);
        assertThat(json.path("subsystems").get(0).path("heads").get(0).path("paths").get(1).path("anaState").asText())
                .isEqualTo("non-optimized");
        assertThat(json.path("exports").get(0).path("name").asText()).isEqualTo(GatewayFixture.EXPORT);
    }

    @Test
    void should_fail_with_one_line_when_the_gateway_cannot_be_reached() throws IOException {
        String closed = "http://127.0.0.1:" + closedPort();

        CliRun r = CliRun.of("list-subsys", "--url", closed);

        assertThat(r.exitCode()).isEqualTo(Main.EXIT_FAILURE);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).isEqualTo("nvmpath list-subsys: cannot reach the gateway's HTTP endpoint at " + closed + NL);
    }

    @Test
    void should_fail_with_the_endpoints_error_when_the_url_names_no_gateway_api() {
        CliRun r = CliRun.of("list-subsys", "--url", url + "/elsewhere");

        assertThat(r.exitCode()).isEqualTo(Main.EXIT_FAILURE);
        assertThat(r.err()).isEqualTo("nvmpath list-subsys: no resource /elsewhere/api/v1/subsystems" + NL);
    }

    @Test
    void should_refuse_a_url_that_is_not_http_as_a_usage_error() {
        CliRun r = CliRun.of("list-subsys", "--url", "ftp://127.0.0.1:9810");

        assertThat(r.exitCode()).isEqualTo(Main.EXIT_USAGE);
        assertThat(r.err()).startsWith("nvmpath list-subsys: --url must be an http:// URL like http://127.0.0.1:9810");
    }

    @Test
    void should_print_sizes_in_binary_units() {
        assertThat(ListSubsysCommand.size(512)).isEqualTo("512 B");
        assertThat(ListSubsysCommand.size(1536)).isEqualTo("1.50 KiB");
        assertThat(ListSubsysCommand.size(GatewayFixture.GIB)).isEqualTo("1.00 GiB");
        assertThat(ListSubsysCommand.size(3L << 40)).isEqualTo("3.00 TiB");
    }

    /** A local port nobody listens on: bound, noted, closed. */
    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }
}
