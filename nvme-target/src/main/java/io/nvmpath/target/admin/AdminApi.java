package io.nvmpath.target.admin;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.TargetView;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
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
 * </pre>
 * A {@code portRef} is a port ID or a TCP port number, as {@link NvmeTarget} resolves it.
 */
final class AdminApi {
    private static final Logger log = LoggerFactory.getLogger(AdminApi.class);

    static final String HEALTH = "/health";
    static final String TARGET = "/api/v1/target";
    private static final String PORTS = "/api/v1/ports/";

    private static final ObjectReader BODY = TargetJson.MAPPER.reader()
            .with(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final Set<String> ANA_KEYS = Set.of("group", "state");
    private static final Set<String> FAULT_KEYS = Set.of("fault");
    private static final String ANA_STATES = Arrays.stream(AnaState.values()).map(AnaState::label)
            .collect(Collectors.joining(", "));

    private final NvmeTarget target;

    AdminApi(NvmeTarget target) {
        this.target = target;
    }

    /** Answers one request; never throws. */
    AdminResponse handle(HttpMethod method, String path, String body) {
        try {
            return route(method, path, body);
        } catch (Exception e) {
            return failure(method, path, e);
        }
    }

    private AdminResponse route(HttpMethod method, String path, String body) {
        if (path.equals(HEALTH)) {
            allow(method, HttpMethod.GET, path);
            return AdminResponse.text(HttpResponseStatus.OK, "ok");
        }
        if (path.equals(TARGET)) {
            allow(method, HttpMethod.GET, path);
            return AdminResponse.json(HttpResponseStatus.OK, TargetJson.target(target));
        }
        if (path.startsWith(PORTS)) {
            String[] rest = path.substring(PORTS.length()).split("/", -1);
            if (rest.length == 2 && (rest[1].equals("ana") || rest[1].equals("fault"))) {
                allow(method, HttpMethod.POST, path);
                int portRef = portRef(rest[0]);
                return rest[1].equals("ana") ? setAnaState(portRef, body) : setFault(portRef, body);
            }
        }
        throw AdminException.notFound(path);
    }

    private AdminResponse setAnaState(int portRef, String body) {
        JsonNode b = object(body, ANA_KEYS, "{\"group\": 1, \"state\": \"inaccessible\"}");
        int group = b.hasNonNull("group") ? integer(b.get("group"), "group") : 1;
        String label = string(b, "state");
        AnaState state = AnaState.fromLabel(label.strip());
        if (state == null) {
            throw AdminException.badRequest("\"" + label + "\" is not an ANA state (" + ANA_STATES + ")");
        }
        target.setAnaState(portRef, group, state);
        return AdminResponse.json(HttpResponseStatus.OK, TargetJson.port(view(portRef)));
    }

    private AdminResponse setFault(int portRef, String body) {
        JsonNode b = object(body, FAULT_KEYS, "{\"fault\": \"blackhole\"}");
        Fault fault = Fault.parse(string(b, "fault"));
        target.setFault(portRef, fault);
        return AdminResponse.json(HttpResponseStatus.OK, TargetJson.port(view(portRef)));
    }

    /**
     * The port {@code portRef} names, resolved as {@link NvmeTarget} does: by ID first, then by TCP
     * port.
     */
    private TargetView.Port view(int portRef) {
        return target.portView(portRef);
    }

    /**
     * Maps every failure to its response, in this one place: refusals keep their status, bad
     * arguments (what {@link NvmeTarget} and {@link Fault#parse} throw for an unknown port, group or
     * fault) are 400, anything else is a 500 whose cause is logged.
     */
    private static AdminResponse failure(HttpMethod method, String path, Exception e) {
        if (e instanceof AdminException a) {
            return AdminResponse.error(a.status(), a.getMessage(), a.allow());
        }
        if (e instanceof IllegalArgumentException) {
            return AdminResponse.error(HttpResponseStatus.BAD_REQUEST, e.getMessage(), null);
        }
        log.warn("admin: {} {} failed", method, path, e);
        String m = e.getMessage();
        return AdminResponse.error(HttpResponseStatus.INTERNAL_SERVER_ERROR,
                m == null || m.isBlank() ? e.getClass().getSimpleName() : m, null);
    }

    // ---- validation --------------------------------------------------------------------------

    private static void allow(HttpMethod method, HttpMethod allowed, String path) {
        if (!method.equals(allowed)) {
            throw AdminException.methodNotAllowed(method, path, allowed);
        }
    }

    private static int portRef(String text) {
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw AdminException.badRequest("\"" + text + "\" is not a port ID or TCP port number");
        }
    }

    /** The body as a JSON object with only {@code keys}; {@code example} shows the shape in the error. */
    private static JsonNode object(String body, Set<String> keys, String example) {
        JsonNode node;
        try {
            node = BODY.readTree(body);
        } catch (JsonProcessingException e) {
            throw AdminException.badRequest("the body is not JSON: " + e.getOriginalMessage().lines().findFirst()
                    .orElse("") + " (expected " + example + ")");
        }
        if (node == null || !node.isObject()) {
            throw AdminException.badRequest("the body must be a JSON object like " + example);
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!keys.contains(key)) {
                throw AdminException.badRequest("unknown field \"" + key + "\" (expected "
                        + keys.stream().sorted().collect(Collectors.joining(", ")) + ")");
            }
        }
        return node;
    }

    private static String string(JsonNode body, String key) {
        JsonNode v = body.get(key);
        if (v == null || v.isNull()) {
            throw AdminException.badRequest("missing \"" + key + "\"");
        }
        if (!v.isTextual()) {
            throw AdminException.badRequest("\"" + key + "\" must be a string, not " + v);
        }
        return v.textValue();
    }

    private static int integer(JsonNode v, String key) {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw AdminException.badRequest("\"" + key + "\" must be an integer, not " + v);
        }
        return v.intValue();
    }
}
