package io.nvmpath.server.http;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringEncoder;
import io.nvmpath.http.ApiHandler;
import io.nvmpath.http.ApiRequest;
import io.nvmpath.http.HttpError;
import io.nvmpath.http.HttpReply;
import io.nvmpath.http.HttpRoutes;
import io.nvmpath.multipath.MultipathView;
import io.nvmpath.server.gateway.GatewayControl;
import io.nvmpath.server.gateway.GatewayView;
import io.nvmpath.server.gateway.ReloadResult;
import io.nvmpath.config.ConfigException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

/**
 * The gateway's HTTP resources, independent of HTTP framing: routes a request, validates it, then
 * executes it. Called on the HTTP executor, never on an event loop; a portal's connection is awaited
 * by a callback, never by a thread.
 *
 * <pre>
 * GET    /metrics                                  Prometheus text format 0.0.4
 * GET    /health                                   200 {"status": "serving"}, 503 {"status": "not serving"}
 * GET    /ready                                    200 {"status": "ready"}, 503 {"status": "not ready", "waitingFor": [..]}
 * POST   /api/v1/reload                            200 {"applied": [..], "needsRestart": [..]}; 400 naming the field
 * GET    /api/v1/subsystems                        {"subsystems": [Subsystem...]}
 * GET    /api/v1/subsystems/{nqn}                  Subsystem
 * POST   /api/v1/subsystems/{nqn}/iopolicy         {"iopolicy": "round-robin"}         → Subsystem
 * POST   /api/v1/subsystems/{nqn}/preferred-path   {"path": "127.0.0.1:4420"}, null clears → Subsystem
 * POST   /api/v1/subsystems/{nqn}/write-failover   {"writeFailover": "immediate"}      → Subsystem
 * GET    /api/v1/failovers                         {"failovers": [FailoverRecord...]}, newest first
 * GET    /api/v1/exports                           {"exports": [Export...]}
 * GET    /api/v1/portals                           {"portals": [Portal...]}
 * POST   /api/v1/portals                           {"traddr": "127.0.0.1", "trsvcid": 4420, "subnqn": "nqn..."}
 *                                                  → 201 Portal once connected, 202 Portal while still connecting
 * DELETE /api/v1/portals?traddr=..&amp;trsvcid=..&amp;subnqn=..   → 204, 404 when there is no such portal
 * </pre>
 * Subsystem, Export and Portal are the records of {@link MultipathView} and {@link GatewayView} as
 * Jackson writes them (record component names; a path's {@code errors} keyed by its NVMe status as
 * the specification writes it, {@code "0x302"}: see {@link PathEntryJson}).
 * A portal without {@code subnqn} is a discovery controller; {@code trsvcid} may be a number or a
 * numeric string. The {@code nqn} path segment is percent-decoded ({@code %3A} or a plain {@code :}).
 * The Location of a created portal is the URL that deletes it.
 *
 * <p>Errors are {@code {"error": "..."}} ({@link HttpError}, answered by the shared server): 400 for a
 * body that is not the JSON object expected, a bad value, or what {@link GatewayControl} refuses with
 * {@link IllegalArgumentException}; 404 for an unknown resource; 405 for a wrong method (with Allow);
 * 413 for a body over the server's bound; 503 while the server shuts down; 500 with the cause logged
 * for anything else.
 */
final class HttpApi implements ApiHandler {
    private static final Logger log = LoggerFactory.getLogger(HttpApi.class);

    /** The mapper the API reads and writes with. */
    static final ObjectMapper MAPPER = new ObjectMapper().addMixIn(MultipathView.PathEntry.class, PathEntryJson.class);

    /** NVMe statuses as the specification writes them ("0x302"), not as decimal keys ("770"). */
    abstract static class PathEntryJson {
        @JsonSerialize(keyUsing = StatusKey.class)
        abstract Map<Integer, Long> errors();
    }

    static final class StatusKey extends JsonSerializer<Integer> {
        @Override
        public void serialize(Integer status, JsonGenerator g, SerializerProvider p) throws IOException {
            g.writeFieldName(String.format("0x%03x", status));
        }
    }

    static final String PORTALS = "/api/v1/portals";

    private static final ObjectReader BODY = MAPPER.reader()
            .with(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final Set<String> IOPOLICY_KEYS = Set.of("iopolicy");
    private static final Set<String> PREFERRED_KEYS = Set.of("path");
    private static final Set<String> WRITE_FAILOVER_KEYS = Set.of("writeFailover");
    private static final Set<String> PORTAL_KEYS = Set.of("traddr", "trsvcid", "subnqn");
    private static final String PORTAL_EXAMPLE =
            "{\"traddr\": \"127.0.0.1\", \"trsvcid\": 4420, \"subnqn\": \"nqn.2026-11.io.nvmpath:demo\"}";

    private final GatewayView view;
    private final GatewayControl control;
    private final GatewayMetrics metrics;
    private final Executor executor;
    private final Duration portalWait;
    private final HttpRoutes routes;
    /** Set by {@link #stop()}; a wait added after it is ended at once. */
    private volatile boolean stopped;
    /** The waits of {@code POST /api/v1/portals} not yet answered. */
    private final Set<CompletableFuture<Void>> waiting = ConcurrentHashMap.newKeySet();

    /**
     * @param executor where answers that wait (a portal's connection) are completed
     * @param portalWait how long {@code POST /api/v1/portals} waits for the connection before it answers 202
     */
    HttpApi(GatewayView view, GatewayControl control, GatewayMetrics metrics, Executor executor, Duration portalWait) {
        this.view = view;
        this.control = control;
        this.metrics = metrics;
        this.executor = executor;
        this.portalWait = portalWait;
        this.routes = new HttpRoutes()
                .get("/metrics", (r, p) -> HttpReply.text(HttpResponseStatus.OK, GatewayMetrics.CONTENT_TYPE,
                        metrics.scrape()))
                .get("/health", (r, p) -> health())
                .get("/ready", (r, p) -> ready())
                .post("/api/v1/reload", (r, p) -> reload())
                .get("/api/v1/subsystems", (r, p) -> json(HttpResponseStatus.OK, Map.of("subsystems", view.subsystems())))
                .get("/api/v1/subsystems/{nqn}", (r, p) -> showSubsystem(p.get("nqn")))
                .post("/api/v1/subsystems/{nqn}/iopolicy", (r, p) -> ioPolicy(p.get("nqn"), r.body()))
                .post("/api/v1/subsystems/{nqn}/preferred-path", (r, p) -> preferredPath(p.get("nqn"), r.body()))
                .post("/api/v1/subsystems/{nqn}/write-failover", (r, p) -> writeFailover(p.get("nqn"), r.body()))
                .get("/api/v1/exports", (r, p) -> json(HttpResponseStatus.OK, Map.of("exports", view.exports())))
                .get("/api/v1/failovers", (r, p) -> json(HttpResponseStatus.OK, Map.of("failovers", view.failovers())))
                .get(PORTALS, (r, p) -> json(HttpResponseStatus.OK, Map.of("portals", view.portals())))
                .addAsync(HttpMethod.POST, PORTALS, (r, p) -> addPortal(r.body()))
                .delete(PORTALS, (r, p) -> removePortal(r.parameters()));
    }

    /** Answers one request; a refusal fails the future with an {@link HttpError}. */
    @Override
    public CompletableFuture<HttpReply> handle(ApiRequest request) {
        return routes.handle(request);
    }

    private static HttpReply json(HttpResponseStatus status, Object body) {
        return HttpReply.json(status, body, MAPPER);
    }

    private HttpReply health() {
        boolean serving = view.serving();
        return json(serving ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
                Map.of("status", serving ? "serving" : "not serving"));
    }

    private HttpReply ready() {
        GatewayView.Readiness r = view.readiness();
        return r.ready() ? json(HttpResponseStatus.OK, Map.of("status", "ready"))
                : json(HttpResponseStatus.SERVICE_UNAVAILABLE, Map.of("status", "not ready", "waitingFor", r.waitingFor()));
    }

    /** Reloads the configuration file: 200 with what changed; 400 naming the field of a wrong one (nothing applied). */
    private HttpReply reload() {
        try {
            ReloadResult r = control.reload();
            return json(HttpResponseStatus.OK, Map.of("applied", r.applied(), "needsRestart", r.needsRestart()));
        } catch (ConfigException e) {
            log.warn("reload refused, the configuration in force stays: {}", e.getMessage());
            throw HttpError.badRequest("reload refused, nothing changed: " + e.getMessage());
        } catch (IllegalStateException e) {
            throw HttpError.badRequest(e.getMessage());
        }
    }

    private HttpReply showSubsystem(String nqn) {
        MultipathView.Subsystem sub = subsystem(nqn);
        if (sub == null) {
            throw HttpError.notFound("no subsystem " + nqn);
        }
        return json(HttpResponseStatus.OK, sub);
    }

    private HttpReply ioPolicy(String nqn, String body) {
        JsonNode b = object(body, IOPOLICY_KEYS, "{\"iopolicy\": \"round-robin\"}");
        control.ioPolicy(nqn, string(b, "iopolicy"));
        return subsystemAfterChange(nqn);
    }

    private HttpReply writeFailover(String nqn, String body) {
        JsonNode b = object(body, WRITE_FAILOVER_KEYS, "{\"writeFailover\": \"immediate\"}");
        control.writeFailover(nqn, string(b, "writeFailover"));
        return subsystemAfterChange(nqn);
    }

    private HttpReply preferredPath(String nqn, String body) {
        JsonNode b = object(body, PREFERRED_KEYS, "{\"path\": \"127.0.0.1:4420\"} or {\"path\": null}");
        if (!b.has("path")) {
            throw HttpError.badRequest("missing \"path\" (null clears the preferred path)");
        }
        control.preferredPath(nqn, b.get("path").isNull() ? null : string(b, "path"));
        return subsystemAfterChange(nqn);
    }

    private MultipathView.Subsystem subsystem(String nqn) {
        for (MultipathView.Subsystem sub : view.subsystems()) {
            if (sub.nqn().equals(nqn)) {
                return sub;
            }
        }
        return null;
    }

    /** The subsystem as it is now; just its NQN when the view does not show it (no controller yet). */
    private HttpReply subsystemAfterChange(String nqn) {
        MultipathView.Subsystem sub = subsystem(nqn);
        return json(HttpResponseStatus.OK, sub != null ? sub : Map.of("nqn", nqn));
    }

    // ---- portals -----------------------------------------------------------------------------

    /**
     * Adds the portal, then answers from a callback: 201 once connected, 202 when the connection is
     * not made within {@code portalWait} or failed (it is retried in the background). The
     * control's own future is left as it is: the wait is on a copy.
     */
    private CompletableFuture<HttpReply> addPortal(String body) {
        JsonNode b = object(body, PORTAL_KEYS, PORTAL_EXAMPLE);
        String traddr = string(b, "traddr").strip();
        if (traddr.isEmpty()) {
            throw HttpError.badRequest("\"traddr\" is empty");
        }
        int trsvcid = trsvcid(b.get("trsvcid"));
        String subnqn = b.hasNonNull("subnqn") ? string(b, "subnqn").strip() : null;
        if (subnqn != null && subnqn.isEmpty()) {
            throw HttpError.badRequest("\"subnqn\" is empty (leave it out for a discovery controller)");
        }
        CompletableFuture<Void> connected = control.addPortal(traddr, trsvcid, subnqn);
        CompletableFuture<Void> wait = connected.copy().orTimeout(portalWait.toMillis(), TimeUnit.MILLISECONDS);
        waiting.add(wait);
        if (stopped) {
            // stop() may have looked at the waits before this one was added: end it here, then
            wait.completeExceptionally(new RejectedExecutionException("shutting down"));
        }
        wait.whenComplete((v, t) -> waiting.remove(wait));
        return wait.handleAsync((v, t) -> portalAdded(traddr, trsvcid, subnqn, t), executor);
    }

    /** Ends every wait for a portal's connection now: those requests are answered 503 (shutting down). */
    @Override
    public void stop() {
        stopped = true;
        for (CompletableFuture<Void> wait : waiting) {
            wait.completeExceptionally(new RejectedExecutionException("shutting down"));
        }
    }

    /**
     * The answer once the wait is over; a refusal of the gateway (an {@link IllegalArgumentException})
     * or the end of the wait at shutdown (a {@link RejectedExecutionException}) is rethrown for the
     * server to answer (400, 503).
     */
    private HttpReply portalAdded(String traddr, int trsvcid, String subnqn, Throwable failure) {
        Throwable cause = unwrap(failure);
        if (cause instanceof IllegalArgumentException e) {
            throw e;
        }
        if (cause instanceof RejectedExecutionException e) {
            throw e;
        }
        HttpResponseStatus status;
        GatewayView.Portal fallback;
        if (cause == null) {
            status = HttpResponseStatus.CREATED;
            fallback = portal(traddr, trsvcid, subnqn, "connected", null);
        } else if (cause instanceof TimeoutException) {
            status = HttpResponseStatus.ACCEPTED;
            fallback = portal(traddr, trsvcid, subnqn, "connecting", null);
        } else {
            log.debug("http: portal {} did not connect yet", GatewayCollector.hostPort(traddr, trsvcid), cause);
            status = HttpResponseStatus.ACCEPTED;
            fallback = portal(traddr, trsvcid, subnqn, "retrying", message(cause));
        }
        GatewayView.Portal now = view.portals().stream()
                .filter(p -> p.traddr().equals(traddr) && p.trsvcid() == trsvcid && Objects.equals(p.subnqn(), subnqn))
                .findFirst().orElse(fallback);
        return json(status, now).withHeader(HttpHeaderNames.LOCATION.toString(), portalUrl(traddr, trsvcid, subnqn));
    }

    private static GatewayView.Portal portal(String traddr, int trsvcid, String subnqn, String state, String error) {
        return new GatewayView.Portal(subnqn == null ? "discovery" : "direct", traddr, trsvcid, subnqn, state, error);
    }

    /** The URL that names a portal: {@code /api/v1/portals?traddr=..&trsvcid=..&subnqn=..}. */
    static String portalUrl(String traddr, int trsvcid, String subnqn) {
        QueryStringEncoder e = new QueryStringEncoder(PORTALS, StandardCharsets.UTF_8);
        e.addParam("traddr", traddr);
        e.addParam("trsvcid", Integer.toString(trsvcid));
        if (subnqn != null) {
            e.addParam("subnqn", subnqn);
        }
        return e.toString();
    }

    private HttpReply removePortal(Map<String, List<String>> params) {
        for (Map.Entry<String, List<String>> p : params.entrySet()) {
            if (!PORTAL_KEYS.contains(p.getKey())) {
                throw HttpError.badRequest("unknown parameter \"" + p.getKey() + "\" (expected "
                        + PORTAL_KEYS.stream().sorted().collect(Collectors.joining(", ")) + ")");
            }
            if (p.getValue().size() != 1) {
                throw HttpError.badRequest("\"" + p.getKey() + "\" is given " + p.getValue().size() + " times");
            }
        }
        String traddr = param(params, "traddr");
        String port = param(params, "trsvcid");
        if (traddr == null || port == null) {
            throw HttpError.badRequest("DELETE " + PORTALS + " needs traddr and trsvcid (and subnqn unless it "
                    + "is a discovery portal), e.g. " + portalUrl("127.0.0.1", 4420, "nqn.2026-11.io.nvmpath:demo"));
        }
        int trsvcid = trsvcid(MAPPER.getNodeFactory().textNode(port));
        String subnqn = param(params, "subnqn");
        if (!control.removePortal(traddr, trsvcid, subnqn)) {
            throw HttpError.notFound("no portal " + GatewayCollector.hostPort(traddr, trsvcid)
                    + (subnqn == null ? " (discovery)" : " for " + subnqn));
        }
        return HttpReply.noContent();
    }

    private static String param(Map<String, List<String>> params, String key) {
        List<String> v = params.get(key);
        return v == null || v.get(0).isBlank() ? null : v.get(0).strip();
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    private static String message(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }

    // ---- validation --------------------------------------------------------------------------

    /** The body as a JSON object with only {@code keys}; {@code example} shows the shape in the error. */
    private static JsonNode object(String body, Set<String> keys, String example) {
        JsonNode node;
        try {
            node = BODY.readTree(body);
        } catch (JsonProcessingException e) {
            throw HttpError.badRequest("the body is not JSON: " + e.getOriginalMessage().lines().findFirst()
                    .orElse("") + " (expected " + example + ")");
        }
        if (node == null || node.isMissingNode() || !node.isObject()) {
            throw HttpError.badRequest("the body must be a JSON object like " + example);
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!keys.contains(key)) {
                throw HttpError.badRequest("unknown field \"" + key + "\" (expected "
                        + keys.stream().sorted().collect(Collectors.joining(", ")) + ")");
            }
        }
        return node;
    }

    private static String string(JsonNode body, String key) {
        JsonNode v = body.get(key);
        if (v == null || v.isNull()) {
            throw HttpError.badRequest("missing \"" + key + "\"");
        }
        if (!v.isTextual()) {
            throw HttpError.badRequest("\"" + key + "\" must be a string, not " + v);
        }
        return v.textValue();
    }

    /** A TCP port, 1..65535, as a JSON number or a numeric string (nvme-cli's trsvcid is a string). */
    private static int trsvcid(JsonNode v) {
        if (v == null || v.isNull()) {
            throw HttpError.badRequest("missing \"trsvcid\"");
        }
        long port;
        if (v.isIntegralNumber() && v.canConvertToLong()) {
            port = v.longValue();
        } else if (v.isTextual()) {
            try {
                port = Long.parseLong(v.textValue().strip());
            } catch (NumberFormatException e) {
                throw HttpError.badRequest("\"trsvcid\" must be a TCP port, not " + v);
            }
        } else {
            throw HttpError.badRequest("\"trsvcid\" must be a TCP port, not " + v);
        }
        if (port < 1 || port > 65535) {
            throw HttpError.badRequest("\"trsvcid\" must be 1..65535, not " + port);
        }
        return (int) port;
    }
}
