package io.nvmpath.target.admin;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.http.ApiHandler;
import io.nvmpath.http.ApiRequest;
import io.nvmpath.http.HttpError;
import io.nvmpath.http.HttpReply;
import io.nvmpath.http.HttpRoutes;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.TargetView;

import java.util.Arrays;
import java.util.Iterator;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;

/**
 * The admin API's resources over a running {@link NvmeTarget}, independent of HTTP framing: routes a
 * request, validates it, then executes it. Runs on the admin executor, never on an event loop
 * (taking a port down closes and re-binds listeners synchronously).
 *
 * <pre>
 * GET  /health                      200 "ok"
 * GET  /api/v1/target               {ports, controllers, discoveryPort}
 * POST /api/v1/ports/{portRef}/ana   {"group": 1, "state": "inaccessible"}  → the port
 * POST /api/v1/ports/{portRef}/fault {"fault": "delay 200"}                 → the port
 * POST /api/v1/ports/{portRef}/cut   (no body, or {})                       → the port and "cut": n
 * </pre>
 * A {@code portRef} is a port ID or a TCP port number, as {@link NvmeTarget} resolves it. Errors are
 * {@code {"error": "..."}}: 400 for a bad body or value (and what {@link NvmeTarget} and
 * {@link Fault#parse} refuse with {@link IllegalArgumentException}), 404 for an unknown resource,
 * 405 for a wrong method (with Allow), 413 for a body over the server's bound, 503 while it stops.
 */
final class AdminApi implements ApiHandler {
    private static final ObjectReader BODY = TargetJson.MAPPER.reader()
            .with(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final Set<String> ANA_KEYS = Set.of("group", "state");
    private static final Set<String> FAULT_KEYS = Set.of("fault");
    private static final String ANA_STATES = Arrays.stream(AnaState.values()).map(AnaState::label)
            .collect(Collectors.joining(", "));

    private final NvmeTarget target;
    private final HttpRoutes routes;

    AdminApi(NvmeTarget target) {
        this.target = target;
        this.routes = new HttpRoutes()
                .get("/health", (r, p) -> HttpReply.text(HttpResponseStatus.OK, HttpReply.TEXT, "ok"))
                .get("/api/v1/target", (r, p) -> json(TargetJson.target(target)))
                .post("/api/v1/ports/{port}/ana", (r, p) -> setAnaState(portRef(p.get("port")), r.body()))
                .post("/api/v1/ports/{port}/fault", (r, p) -> setFault(portRef(p.get("port")), r.body()))
                .post("/api/v1/ports/{port}/cut", (r, p) -> cut(portRef(p.get("port")), r.body()));
    }

    @Override
    public CompletableFuture<HttpReply> handle(ApiRequest request) {
        return routes.handle(request);
    }

    private HttpReply setAnaState(int portRef, String body) {
        JsonNode b = object(body, ANA_KEYS, "{\"group\": 1, \"state\": \"inaccessible\"}");
        int group = b.hasNonNull("group") ? integer(b.get("group"), "group") : 1;
        String label = string(b, "state");
        AnaState state = AnaState.fromLabel(label.strip());
        if (state == null) {
            throw HttpError.badRequest("\"" + label + "\" is not an ANA state (" + ANA_STATES + ")");
        }
        target.setAnaState(portRef, group, state);
        return json(TargetJson.port(view(portRef)));
    }

    private HttpReply setFault(int portRef, String body) {
        JsonNode b = object(body, FAULT_KEYS, "{\"fault\": \"blackhole\"}");
        Fault fault = Fault.parse(string(b, "fault"));
        target.setFault(portRef, fault);
        return json(TargetJson.port(view(portRef)));
    }

    /** Closes the port's connections now, new ones still welcome (a network blip). */
    private HttpReply cut(int portRef, String body) {
        if (body != null && !body.isBlank()) {
            object(body, Set.of(), "{}");
        }
        int cut = target.cutConnections(portRef);
        return json(TargetJson.port(view(portRef)).put("cut", cut));
    }

    /**
     * The port {@code portRef} names, resolved as {@link NvmeTarget} does: by ID first, then by TCP
     * port.
     */
    private TargetView.Port view(int portRef) {
        return target.portView(portRef);
    }

    private static HttpReply json(JsonNode body) {
        return HttpReply.json(HttpResponseStatus.OK, body, TargetJson.MAPPER);
    }

    // ---- validation --------------------------------------------------------------------------

    private static int portRef(String text) {
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw HttpError.badRequest("\"" + text + "\" is not a port ID or TCP port number");
        }
    }

    /** The body as a JSON object with only {@code keys}; {@code example} shows the shape in the error. */
    private static JsonNode object(String body, Set<String> keys, String example) {
        JsonNode node;
        try {
            node = BODY.readTree(body);
        } catch (JsonProcessingException e) {
            throw HttpError.badRequest("the body is not JSON: " + e.getOriginalMessage().lines().findFirst()
                    .orElse("") + " (expected " + example + ")");
        }
        if (node == null || !node.isObject()) {
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

    private static int integer(JsonNode v, String key) {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw HttpError.badRequest("\"" + key + "\" must be an integer, not " + v);
        }
        return v.intValue();
    }
}
