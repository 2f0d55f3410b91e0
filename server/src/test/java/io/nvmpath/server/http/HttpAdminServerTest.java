package io.nvmpath.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nvmpath.fabric.testing.Await;
import io.nvmpath.multipath.FailoverRecord;
import io.nvmpath.server.gateway.GatewayView;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.nvmpath.server.http.GatewayFixture.NON_OPTIMIZED;
import static io.nvmpath.server.http.GatewayFixture.NQN;
import static io.nvmpath.server.http.GatewayFixture.OPTIMIZED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link HttpAdminServer} on an ephemeral port over a {@link GatewayFixture}, driven by the JDK's HTTP client. */
class HttpAdminServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The demo NQN as a careful client puts it in a path: ':' percent-encoded. */
    private static final String NQN_ENCODED = NQN.replace(":", "%3A");
    /** Short, so the 202 tests do not wait long. */
    private static final Duration PORTAL_WAIT = Duration.ofMillis(300);

    private GatewayFixture gateway;
    private GatewayMetrics metrics;
    private HttpAdminServer server;
    private HttpClient http;
    private URI base;

    @BeforeEach
    void start() throws Exception {
        gateway = new GatewayFixture();
        metrics = new GatewayMetrics(gateway);
        server = new HttpAdminServer("127.0.0.1", 0, null, gateway, gateway, metrics, PORTAL_WAIT);
        InetSocketAddress bound = server.start();
        base = URI.create("http://127.0.0.1:" + bound.getPort());
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    @AfterEach
    void stop() {
        http.close();
        server.close();
        metrics.close();
    }

    private HttpResponse<String> get(String path) throws Exception {
        return send(HttpRequest.newBuilder(base.resolve(path)).GET());
    }

    private HttpResponse<String> post(String path, String body) throws Exception {
        return send(HttpRequest.newBuilder(base.resolve(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
        return http.send(b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode json(HttpResponse<String> r) throws IOException {
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json; charset=utf-8");
        return JSON.readTree(r.body());
    }

    private static String error(HttpResponse<String> r) throws IOException {
        JsonNode e = json(r);
        assertThat(e.path("error").isTextual()).as("an {\"error\": ...} body: %s", r.body()).isTrue();
        return e.get("error").textValue();
    }

    // ---- /metrics and /health ----------------------------------------------------------------

    @Test
    void should_serve_metrics_in_the_prometheus_text_format_and_follow_the_snapshot() throws Exception {
        HttpResponse<String> r = get("/metrics");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
        PrometheusText m = PrometheusText.parse(r.body());
        assertThat(m.value("nvmpath_path_ana_state", "path", OPTIMIZED, "state", "optimized")).isEqualTo(1.0);

        gateway.changePath(OPTIMIZED, p -> GatewayFixture.withState(p, "live", "change", false, false, false));
        PrometheusText after = PrometheusText.parse(get("/metrics").body());

        assertThat(after.value("nvmpath_path_ana_state", "path", OPTIMIZED, "state", "optimized")).isEqualTo(0.0);
        assertThat(after.value("nvmpath_path_ana_state", "path", OPTIMIZED, "state", "change")).isEqualTo(1.0);
        assertThat(after.value("nvmpath_path_ana_state_code", "path", OPTIMIZED)).isEqualTo(15.0);
    }

    @Test
    void should_answer_health_200_while_serving_and_503_once_not() throws Exception {
        HttpResponse<String> serving = get("/health");
        assertThat(serving.statusCode()).isEqualTo(200);
        assertThat(json(serving).path("status").asText()).isEqualTo("serving");

        gateway.serving(false);
        HttpResponse<String> stopping = get("/health");

        assertThat(stopping.statusCode()).isEqualTo(503);
        assertThat(json(stopping).path("status").asText()).isEqualTo("not serving");
    }

    @Test
    void should_answer_ready_503_naming_what_it_waits_for_and_200_once_ready() throws Exception {
        gateway.readiness(new GatewayView.Readiness(false, List.of("portal 10.0.0.1:4420 nqn.x: first connect not finished",
                "an export: no namespace head has a path yet")));
        HttpResponse<String> waiting = get("/ready");

        assertThat(waiting.statusCode()).isEqualTo(503);
        assertThat(json(waiting).path("status").asText()).isEqualTo("not ready");
        assertThat(json(waiting).path("waitingFor").get(1).asText()).isEqualTo("an export: no namespace head has a path yet");
        assertThat(get("/health").statusCode()).as("liveness is not readiness").isEqualTo(200);

        gateway.readiness(new GatewayView.Readiness(true, List.of()));
        HttpResponse<String> ready = get("/ready");

        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(json(ready).path("status").asText()).isEqualTo("ready");
    }

    @Test
    void should_reload_on_post_and_answer_400_naming_the_field_of_a_wrong_configuration() throws Exception {
        gateway.onReload(() -> new io.nvmpath.server.gateway.ReloadResult(List.of("export x/1: read-only"),
                List.of("nbd.listen")));
        HttpResponse<String> ok = post("/api/v1/reload", "");
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(json(ok).path("applied").get(0).asText()).isEqualTo("export x/1: read-only");
        assertThat(json(ok).path("needsRestart").get(0).asText()).isEqualTo("nbd.listen");

        gateway.onReload(() -> {
            throw new io.nvmpath.config.ConfigException("exports.x/1.readOnly", "expected true or false");
        });
        HttpResponse<String> bad = post("/api/v1/reload", "");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(error(bad)).isEqualTo("reload refused, nothing changed: exports.x/1.readOnly: expected true or false");
        assertThat(get("/api/v1/reload").statusCode()).isEqualTo(405);
    }

    // ---- reading -----------------------------------------------------------------------------

    @Test
    void should_list_subsystems_with_their_heads_and_paths() throws Exception {
        HttpResponse<String> r = get("/api/v1/subsystems");

        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode sub = json(r).path("subsystems").get(0);
        assertThat(sub.path("nqn").asText()).isEqualTo(NQN);
        assertThat(sub.path("ioPolicy").asText()).isEqualTo("numa");
        assertThat(sub.path("preferredPath").isNull()).isTrue();
        JsonNode head = sub.path("heads").get(0);
        assertThat(head.path("nsid").asInt()).isEqualTo(1);
        assertThat(head.path("sizeBytes").asLong()).isEqualTo(GatewayFixture.GIB);
        assertThat(head.path("lbaSize").asInt()).isEqualTo(4096);
        assertThat(head.path("queuedIos").asInt()).isZero();
        JsonNode path = head.path("paths").get(0);
        assertThat(path.path("name").asText()).isEqualTo(OPTIMIZED + " cntlid 1");
        assertThat(path.path("controllerState").asText()).isEqualTo("live");
        assertThat(path.path("anaState").asText()).isEqualTo("optimized");
        assertThat(path.path("usable").asBoolean()).isTrue();
        assertThat(path.path("latencyBuckets").size()).isEqualTo(16);
        assertThat(head.path("paths").get(1).path("anaState").asText()).isEqualTo("non-optimized");
        assertThat(path.path("address").asText()).isEqualTo(OPTIMIZED);
        assertThat(path.path("cntlid").asInt()).isEqualTo(1);
    }

    @Test
    void should_name_path_errors_by_their_nvme_status_in_hex() throws Exception {
        gateway.changePath(OPTIMIZED, p -> GatewayFixture.withIo(p, 1, 1, new long[16], 0,
                java.util.Map.of(0x302, 3L, 0x371, 1L)));

        JsonNode path = json(get("/api/v1/subsystems")).path("subsystems").get(0).path("heads").get(0)
                .path("paths").get(0);

        assertThat(path.path("errors").path("0x302").asLong()).isEqualTo(3);
        assertThat(path.path("errors").path("0x371").asLong()).isEqualTo(1);
        assertThat(path.path("errors").has("770")).isFalse();
    }

    @Test
    void should_show_one_subsystem_named_with_its_colons_encoded_or_not() throws Exception {
        assertThat(json(get("/api/v1/subsystems/" + NQN_ENCODED)).path("nqn").asText()).isEqualTo(NQN);
        assertThat(json(get("/api/v1/subsystems/" + NQN)).path("nqn").asText()).isEqualTo(NQN);

        HttpResponse<String> unknown = get("/api/v1/subsystems/nqn.2026-11.io.nvmpath%3Aother");

        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(error(unknown)).isEqualTo("no subsystem nqn.2026-11.io.nvmpath:other");
    }

    @Test
    void should_list_exports_and_portals() throws Exception {
        JsonNode export = json(get("/api/v1/exports")).path("exports").get(0);
        assertThat(export.path("name").asText()).isEqualTo(GatewayFixture.EXPORT);
        assertThat(export.path("subnqn").asText()).isEqualTo(NQN);
        assertThat(export.path("aliases").get(0).asText()).isEqualTo("demo");
        assertThat(export.path("requests").path("read").asLong()).isEqualTo(10);
        assertThat(export.path("errors").path("EIO").asLong()).isEqualTo(1);

        JsonNode portals = json(get("/api/v1/portals")).path("portals");
        assertThat(portals).hasSize(3);
        assertThat(portals.get(2).path("kind").asText()).isEqualTo("discovery");
        assertThat(portals.get(2).path("subnqn").isNull()).isTrue();
        assertThat(portals.get(0).path("trsvcid").asInt()).isEqualTo(4420);
        assertThat(portals.get(0).path("state").asText()).isEqualTo("connected");
    }

    // ---- iopolicy and preferred path ---------------------------------------------------------

    @Test
    void should_set_the_iopolicy_of_a_subsystem() throws Exception {
        HttpResponse<String> r = post("/api/v1/subsystems/" + NQN_ENCODED + "/iopolicy", "{\"iopolicy\": \"round-robin\"}");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(json(r).path("ioPolicy").asText()).isEqualTo("round-robin");
        assertThat(gateway.calls()).containsExactly("iopolicy " + NQN + " round-robin");
        assertThat(gateway.subsystems().get(0).ioPolicy()).isEqualTo("round-robin");
    }

    @Test
    void should_list_the_failovers_newest_first() throws Exception {
        gateway.failovers(List.of(new FailoverRecord(1_700_000_000_000L, NQN, 1, OPTIMIZED + " cntlid 1",
                NON_OPTIMIZED + " cntlid 2", "keep-alive-timeout", 0x371, 3, 5, 5, "ccr", 2, 4)), List.of());

        HttpResponse<String> r = get("/api/v1/failovers");

        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode f = json(r).path("failovers").get(0);
        assertThat(f.path("cause").asText()).isEqualTo("keep-alive-timeout");
        assertThat(f.path("from").asText()).isEqualTo(OPTIMIZED + " cntlid 1");
        assertThat(f.path("to").asText()).isEqualTo(NON_OPTIMIZED + " cntlid 2");
        assertThat(f.path("fenced").asInt()).isEqualTo(5);
        assertThat(f.path("fenceMethod").asText()).isEqualTo("ccr");
        assertThat(f.path("stallMillis").asLong()).isEqualTo(4);
    }

    @Test
    void should_set_the_write_failover_of_a_subsystem_and_refuse_an_unknown_one() throws Exception {
        assertThat(gateway.subsystems().get(0).writeFailover()).isEqualTo("safe");

        HttpResponse<String> r = post("/api/v1/subsystems/" + NQN_ENCODED + "/write-failover",
                "{\"writeFailover\": \"immediate\"}");
        HttpResponse<String> bad = post("/api/v1/subsystems/" + NQN_ENCODED + "/write-failover",
                "{\"writeFailover\": \"sometimes\"}");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(json(r).path("writeFailover").asText()).isEqualTo("immediate");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(error(bad)).isEqualTo("unknown writeFailover 'sometimes' (safe, immediate)");
        assertThat(gateway.subsystems().get(0).writeFailover()).isEqualTo("immediate");
    }

    @Test
    void should_refuse_an_unknown_iopolicy_or_subsystem_with_the_gateways_message() throws Exception {
        HttpResponse<String> policy = post("/api/v1/subsystems/" + NQN + "/iopolicy", "{\"iopolicy\": \"fastest\"}");
        HttpResponse<String> subsystem = post("/api/v1/subsystems/nqn.x:y/iopolicy", "{\"iopolicy\": \"numa\"}");

        assertThat(policy.statusCode()).isEqualTo(400);
        assertThat(error(policy)).startsWith("unknown iopolicy 'fastest'");
        assertThat(subsystem.statusCode()).isEqualTo(400);
        assertThat(error(subsystem)).isEqualTo("no subsystem nqn.x:y");
        assertThat(gateway.subsystems().get(0).ioPolicy()).isEqualTo("numa");
    }

    @Test
    void should_set_and_clear_the_preferred_path() throws Exception {
        HttpResponse<String> set = post("/api/v1/subsystems/" + NQN_ENCODED + "/preferred-path",
                "{\"path\": \"127.0.0.1:4421\"}");
        assertThat(set.statusCode()).isEqualTo(200);
        assertThat(json(set).path("preferredPath").asText()).isEqualTo("127.0.0.1:4421");

        HttpResponse<String> cleared = post("/api/v1/subsystems/" + NQN_ENCODED + "/preferred-path",
                "{\"path\": null}");

        assertThat(cleared.statusCode()).isEqualTo(200);
        assertThat(json(cleared).path("preferredPath").isNull()).isTrue();
        assertThat(gateway.calls()).containsExactly("preferred-path " + NQN + " 127.0.0.1:4421",
                "preferred-path " + NQN + " null");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "round-robin", "[\"round-robin\"]", "{\"iopolicy\": 1}", "{\"policy\": \"numa\"}",
            "{}", "{\"iopolicy\": \"numa\", \"iopolicy\": \"numa\"}", "{\"iopolicy\": \"numa\"} {}",
            "{\"iopolicy\": \"numa\""})
    void should_refuse_a_body_that_is_not_the_json_object_expected_with_400(String body) throws Exception {
        HttpResponse<String> r = post("/api/v1/subsystems/" + NQN + "/iopolicy", body);

        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(error(r)).isNotBlank();
        assertThat(gateway.calls()).isEmpty();
    }

    @Test
    void should_refuse_a_preferred_path_body_without_path() throws Exception {
        HttpResponse<String> r = post("/api/v1/subsystems/" + NQN + "/preferred-path", "{}");

        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(error(r)).isEqualTo("missing \"path\" (null clears the preferred path)");
    }

    // ---- portals -----------------------------------------------------------------------------

    @Test
    void should_add_a_portal_and_answer_201_once_it_is_connected() throws Exception {
        HttpResponse<String> r = post("/api/v1/portals",
                "{\"traddr\": \"127.0.0.1\", \"trsvcid\": \"4422\", \"subnqn\": \"" + NQN + "\"}");

        assertThat(r.statusCode()).isEqualTo(201);
        JsonNode portal = json(r);
        assertThat(portal.path("state").asText()).isEqualTo("connected");
        assertThat(portal.path("trsvcid").asInt()).isEqualTo(4422);
        assertThat(r.headers().firstValue("Location")).hasValue(
                "/api/v1/portals?traddr=127.0.0.1&trsvcid=4422&subnqn=" + NQN_ENCODED);
        assertThat(gateway.calls()).containsExactly("add-portal 127.0.0.1 4422 " + NQN);
        assertThat(json(get("/api/v1/portals")).path("portals")).hasSize(4);
    }

    @Test
    void should_add_a_discovery_portal_when_subnqn_is_absent() throws Exception {
        HttpResponse<String> r = post("/api/v1/portals", "{\"traddr\": \"127.0.0.1\", \"trsvcid\": 8010}");

        assertThat(r.statusCode()).isEqualTo(201);
        assertThat(json(r).path("kind").asText()).isEqualTo("discovery");
        assertThat(gateway.calls()).containsExactly("add-portal 127.0.0.1 8010 null");
    }

    @Test
    void should_answer_other_requests_while_a_portal_connects_and_201_once_it_has() throws Exception {
        restart(Duration.ofSeconds(30));
        CompletableFuture<Void> connection = new CompletableFuture<>();
        gateway.nextConnection(connection);
        CompletableFuture<HttpResponse<String>> adding = http.sendAsync(HttpRequest.newBuilder(
                base.resolve("/api/v1/portals")).POST(HttpRequest.BodyPublishers.ofString(
                "{\"traddr\": \"127.0.0.1\", \"trsvcid\": 4423, \"subnqn\": \"" + NQN + "\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        awaitCall("add-portal 127.0.0.1 4423 " + NQN);

        HttpResponse<String> health = get("/health");
        JsonNode portals = json(get("/api/v1/portals")).path("portals");

        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(portals.findValuesAsText("state")).contains("connecting");
        assertThat(adding).isNotDone();

        connection.complete(null);
        HttpResponse<String> r = adding.get(10, TimeUnit.SECONDS);

        assertThat(r.statusCode()).isEqualTo(201);
        assertThat(json(r).path("state").asText()).isEqualTo("connected");
    }

    @Test
    void should_answer_202_when_the_portal_has_not_connected_within_the_wait() throws Exception {
        CompletableFuture<Void> connection = new CompletableFuture<>();
        gateway.nextConnection(connection);

        HttpResponse<String> r = post("/api/v1/portals",
                "{\"traddr\": \"127.0.0.1\", \"trsvcid\": 4423, \"subnqn\": \"" + NQN + "\"}");

        assertThat(r.statusCode()).isEqualTo(202);
        assertThat(json(r).path("state").asText()).isEqualTo("connecting");
        assertThat(r.headers().firstValue("Location")).isPresent();
        assertThat(connection).as("the gateway's own future is not timed out by the API").isNotDone();
    }

    @Test
    void should_answer_202_with_the_error_when_the_first_connection_failed() throws Exception {
        gateway.nextConnection(CompletableFuture.failedFuture(new ConnectException("Connection refused")));

        HttpResponse<String> r = post("/api/v1/portals",
                "{\"traddr\": \"127.0.0.1\", \"trsvcid\": 4424, \"subnqn\": \"" + NQN + "\"}");

        assertThat(r.statusCode()).isEqualTo(202);
        assertThat(json(r).path("state").asText()).isEqualTo("retrying");
        assertThat(json(r).path("lastError").asText()).isEqualTo("Connection refused");
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"trsvcid\": 4420}", "{\"traddr\": \" \", \"trsvcid\": 4420}",
            "{\"traddr\": \"127.0.0.1\"}", "{\"traddr\": \"127.0.0.1\", \"trsvcid\": 70000}",
            "{\"traddr\": \"127.0.0.1\", \"trsvcid\": \"http\"}", "{\"traddr\": \"127.0.0.1\", \"trsvcid\": 4.5}",
            "{\"traddr\": \"127.0.0.1\", \"trsvcid\": 4420, \"subnqn\": \"\"}",
            "{\"traddr\": \"127.0.0.1\", \"trsvcid\": 4420, \"hostnqn\": \"x\"}"})
    void should_refuse_a_portal_with_bad_arguments_with_400(String body) throws Exception {
        HttpResponse<String> r = post("/api/v1/portals", body);

        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(error(r)).isNotBlank();
        assertThat(gateway.calls()).isEmpty();
    }

    @Test
    void should_answer_400_when_the_gateway_refuses_the_portal() throws Exception {
        HttpResponse<String> r = post("/api/v1/portals",
                "{\"traddr\": \"127.0.0.1\", \"trsvcid\": 4420, \"subnqn\": \"" + NQN + "\"}");

        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(error(r)).isEqualTo("portal 127.0.0.1:4420 is there already");
    }

    @Test
    void should_remove_a_portal_with_delete_and_answer_404_when_there_is_none() throws Exception {
        String url = "/api/v1/portals?traddr=127.0.0.1&trsvcid=4421&subnqn=" + NQN_ENCODED;

        HttpResponse<String> removed = send(HttpRequest.newBuilder(base.resolve(url)).DELETE());
        HttpResponse<String> again = send(HttpRequest.newBuilder(base.resolve(url)).DELETE());
        HttpResponse<String> discovery = send(HttpRequest.newBuilder(
                base.resolve("/api/v1/portals?traddr=127.0.0.1&trsvcid=8009")).DELETE());

        assertThat(removed.statusCode()).isEqualTo(204);
        assertThat(removed.body()).isEmpty();
        assertThat(again.statusCode()).isEqualTo(404);
        assertThat(error(again)).isEqualTo("no portal 127.0.0.1:4421 for " + NQN);
        assertThat(discovery.statusCode()).isEqualTo(204);
        assertThat(gateway.portals()).extracting(GatewayView.Portal::trsvcid).containsExactly(4420);
    }

    @ParameterizedTest
    @ValueSource(strings = {"traddr=127.0.0.1", "trsvcid=4420", "traddr=127.0.0.1&trsvcid=0",
            "traddr=127.0.0.1&trsvcid=4420&port=1", "traddr=127.0.0.1&trsvcid=4420&trsvcid=4421"})
    void should_refuse_a_delete_without_the_portals_address_with_400(String query) throws Exception {
        HttpResponse<String> r = send(HttpRequest.newBuilder(base.resolve("/api/v1/portals?" + query)).DELETE());

        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(error(r)).isNotBlank();
        assertThat(gateway.calls()).isEmpty();
    }

    // ---- HTTP errors -------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"/", "/api", "/api/v1", "/api/v1/nothing", "/api/v2/subsystems", "/metrics/x",
            "/api/v1/exports/x", "/api/v1/subsystems/" + NQN + "/paths"})
    void should_answer_404_for_an_unknown_resource(String path) throws Exception {
        HttpResponse<String> r = get(path);

        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(error(r)).startsWith("no ");
    }

    @Test
    void should_answer_405_with_allow_for_a_wrong_method() throws Exception {
        HttpResponse<String> getPolicy = get("/api/v1/subsystems/" + NQN + "/iopolicy");
        HttpResponse<String> postMetrics = post("/metrics", "{}");
        HttpResponse<String> putPortals = send(HttpRequest.newBuilder(base.resolve("/api/v1/portals"))
                .PUT(HttpRequest.BodyPublishers.ofString("{}")));

        assertThat(getPolicy.statusCode()).isEqualTo(405);
        assertThat(getPolicy.headers().firstValue("Allow")).hasValue("POST");
        assertThat(error(getPolicy)).contains("GET is not allowed");
        assertThat(postMetrics.statusCode()).isEqualTo(405);
        assertThat(postMetrics.headers().firstValue("Allow")).hasValue("GET");
        assertThat(putPortals.statusCode()).isEqualTo(405);
        assertThat(putPortals.headers().firstValue("Allow")).hasValue("GET, POST, DELETE");
    }

    @Test
    void should_answer_413_for_a_body_over_64_kib_and_keep_serving() throws Exception {
        String big = "{\"iopolicy\": \"" + "x".repeat(HttpAdminServer.MAX_REQUEST_BYTES) + "\"}";

        HttpResponse<String> r = post("/api/v1/subsystems/" + NQN + "/iopolicy", big);

        assertThat(r.statusCode()).isEqualTo(413);
        assertThat(error(r)).contains("over 65536 bytes");
        assertThat(gateway.calls()).isEmpty();
        assertThat(get("/health").statusCode()).isEqualTo(200);
    }

    @Test
    void should_answer_400_to_a_malformed_request_and_close_the_connection() throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(5000);
            s.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));

            String answer = readAll(s.getInputStream());

            assertThat(answer).startsWith("HTTP/1.1 400 Bad Request");
            assertThat(answer).contains("malformed HTTP request");
        }
    }

    @Test
    void should_answer_pipelined_requests_in_order_even_when_the_first_waits() throws Exception {
        gateway.nextConnection(new CompletableFuture<>());
        String portal = "{\"traddr\": \"127.0.0.1\", \"trsvcid\": 4425}";
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /api/v1/portals HTTP/1.1\r\nHost: x\r\nContent-Length: " + portal.length() + "\r\n\r\n"
                    + portal + "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));

            String answer = readAll(s.getInputStream());

            assertThat(answer).startsWith("HTTP/1.1 202 Accepted");
            assertThat(answer.indexOf("HTTP/1.1 200 OK")).isGreaterThan(answer.indexOf("202 Accepted"));
        }
    }

    @Test
    void should_answer_a_portal_still_awaited_with_503_and_refuse_connections_once_closed() throws Exception {
        restart(Duration.ofSeconds(30));
        gateway.nextConnection(new CompletableFuture<>());
        CompletableFuture<HttpResponse<String>> adding = http.sendAsync(HttpRequest.newBuilder(
                base.resolve("/api/v1/portals")).POST(HttpRequest.BodyPublishers.ofString(
                "{\"traddr\": \"127.0.0.1\", \"trsvcid\": 4426}")).build(), HttpResponse.BodyHandlers.ofString());
        awaitCall("add-portal 127.0.0.1 4426 null");

        server.close();
        HttpResponse<String> r = adding.get(10, TimeUnit.SECONDS);

        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(error(r)).contains("shutting down");
        assertThatThrownBy(() -> get("/health")).isInstanceOf(ConnectException.class);
    }

    /** A server over the same gateway that waits {@code portalWait} for a portal's connection. */
    private void restart(Duration portalWait) throws Exception {
        server.close();
        server = new HttpAdminServer("127.0.0.1", 0, null, gateway, gateway, metrics, portalWait);
        base = URI.create("http://127.0.0.1:" + server.start().getPort());
    }

    private void awaitCall(String call) {
        Await.until("the gateway was asked to " + call, () -> gateway.calls().contains(call));
    }

    private static String readAll(InputStream in) throws IOException {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
}
