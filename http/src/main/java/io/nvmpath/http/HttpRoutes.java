package io.nvmpath.http;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;

/**
 * Routes a request by its method and path to the answer for that resource. A pattern is a path whose
 * segments are literals or {@code {name}} variables ({@code /api/v1/subsystems/{nqn}/iopolicy}). A
 * request's path is compared segment by segment, each percent-decoded ({@code %3A} or a plain
 * {@code :}; a {@code +} stays a plus: this is a path, not a query), empty segments ignored. A path
 * that no route has is 404 {@code no resource <path>}; a path that routes have, but not for this
 * method, is 405 naming their methods in Allow, in the order the routes were added.
 *
 * <p>Routes are added while the API is built, before it serves; afterwards this is only read.
 */
public final class HttpRoutes implements ApiHandler {

    /** The answer of one resource; {@code params} holds the path's variables by name. */
    @FunctionalInterface
    public interface Answer {
        HttpReply answer(ApiRequest request, Map<String, String> params);
    }

    /** The answer of one resource that may complete later (it waits for something). */
    @FunctionalInterface
    public interface AsyncAnswer {
        CompletableFuture<HttpReply> answer(ApiRequest request, Map<String, String> params);
    }

    private record Route(HttpMethod method, List<String> pattern, AsyncAnswer answer) {
        /** The variables of {@code path} by name, or null when it is not this route's path. */
        Map<String, String> match(List<String> path) {
            if (path.size() != pattern.size()) {
                return null;
            }
            Map<String, String> params = new LinkedHashMap<>();
            for (int i = 0; i < path.size(); i++) {
                String p = pattern.get(i);
                if (p.startsWith("{") && p.endsWith("}")) {
                    params.put(p.substring(1, p.length() - 1), path.get(i));
                } else if (!p.equals(path.get(i))) {
                    return null;
                }
            }
            return params;
        }
    }

    private final List<Route> routes = new ArrayList<>();

    public HttpRoutes get(String pattern, Answer answer) {
        return add(HttpMethod.GET, pattern, answer);
    }

    public HttpRoutes post(String pattern, Answer answer) {
        return add(HttpMethod.POST, pattern, answer);
    }

    public HttpRoutes delete(String pattern, Answer answer) {
        return add(HttpMethod.DELETE, pattern, answer);
    }

    public HttpRoutes add(HttpMethod method, String pattern, Answer answer) {
        return addAsync(method, pattern, (r, p) -> CompletableFuture.completedFuture(answer.answer(r, p)));
    }

    /** A route whose answer may complete later. */
    public HttpRoutes addAsync(HttpMethod method, String pattern, AsyncAnswer answer) {
        routes.add(new Route(method, List.copyOf(segments(pattern)), answer));
        return this;
    }

    /**
     * The answer of the route for the request's method and path.
     *
     * @throws HttpError 404 when no route has the path, 405 when none has it for this method
     */
    @Override
    public CompletableFuture<HttpReply> handle(ApiRequest request) {
        String rawPath = request.rawPath();
        List<String> path = segments(rawPath);
        Set<String> allowed = new LinkedHashSet<>();
        for (Route route : routes) {
            Map<String, String> params = route.match(path);
            if (params == null) {
                continue;
            }
            if (route.method().equals(request.method())) {
                return route.answer().answer(request, params);
            }
            allowed.add(route.method().name());
        }
        if (allowed.isEmpty()) {
            throw HttpError.notFound("no resource " + rawPath);
        }
        throw HttpError.methodNotAllowed(request.method(), rawPath, String.join(", ", allowed));
    }

    /** The path's segments, each percent-decoded ({@code +} stays a plus), empty ones left out. */
    public static List<String> segments(String rawPath) {
        List<String> out = new ArrayList<>();
        for (String s : rawPath.split("/")) {
            if (!s.isEmpty()) {
                out.add(QueryStringDecoder.decodeComponent(s.replace("+", "%2B"), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return routes.stream().map(r -> r.method() + " /" + String.join("/", r.pattern()))
                .collect(Collectors.joining(", ", "HttpRoutes[", "]"));
    }
}
