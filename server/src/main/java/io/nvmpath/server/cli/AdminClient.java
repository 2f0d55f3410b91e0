package io.nvmpath.server.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;

/**
 * An nvmpath HTTP endpoint — the target's admin endpoint ({@code nvmpath target} subcommands) or the
 * gateway's ({@code list-subsys}): JSON in, JSON out, and every failure one line — an unreachable
 * endpoint, or the endpoint's own {@code {"error": ...}}.
 */
final class AdminClient implements AutoCloseable {
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** Taking a port down or up re-binds a listener; still well under this. */
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);

    private final URI base;
    private final String endpoint;
    private final String peer;
    private final HttpClient http;

    /** The target's admin endpoint. */
    AdminClient(URI base) {
        this(base, "the target's admin endpoint", "an nvmpath target");
    }

    /**
     * @param endpoint how messages name it, e.g. "the gateway's HTTP endpoint"
     * @param peer what it should be, e.g. "an nvmpath gateway"
     */
    AdminClient(URI base, String endpoint, String peer) {
        this.base = base;
        this.endpoint = endpoint;
        this.peer = peer;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(CONNECT_TIMEOUT)
                .build();
    }

    JsonNode get(String path) {
        return send(HttpRequest.newBuilder(uri(path)).timeout(REQUEST_TIMEOUT).GET().build());
    }

    JsonNode post(String path, ObjectNode body) {
        return send(HttpRequest.newBuilder(uri(path)).timeout(REQUEST_TIMEOUT)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build());
    }

    private URI uri(String path) {
        return URI.create(base + path);
    }

    private JsonNode send(HttpRequest request) {
        HttpResponse<String> r;
        try {
            r = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException | HttpConnectTimeoutException e) {
            throw new Failures.CliException("cannot reach " + endpoint + " at " + base, e);
        } catch (HttpTimeoutException e) {
            throw new Failures.CliException(endpoint + " at " + base + " did not answer within "
                    + REQUEST_TIMEOUT.toSeconds() + " s", e);
        } catch (IOException e) {
            throw new Failures.CliException("cannot reach " + endpoint + " at " + base + ": "
                    + Failures.message(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failures.CliException("interrupted while waiting for " + endpoint);
        }
        JsonNode body;
        try {
            body = Report.MAPPER.readTree(r.body());
        } catch (JsonProcessingException e) {
            body = null;
        }
        if (r.statusCode() == 200 && body != null && body.isObject()) {
            return body;
        }
        if (body != null && body.path("error").isTextual()) {
            throw new Failures.CliException(body.get("error").textValue());
        }
        throw new Failures.CliException("the endpoint at " + base + " answered HTTP " + r.statusCode()
                + " to " + request.method() + " " + request.uri().getPath() + " (is it " + peer + "?)");
    }

    @Override
    public void close() {
        http.close();
    }
}
