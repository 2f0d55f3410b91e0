package io.nvmpath.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.handler.codec.http.HttpResponseStatus;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What an API answers, before it becomes an HTTP response on the connection: kept free of Netty
 * buffers so that it can be made on any thread and written from any other.
 *
 * @param status the HTTP status
 * @param contentType the Content-Type of {@code body}; null when there is no body
 * @param body the body ("" for none)
 * @param headers the headers the resource adds, in order: Allow of a 405, Location of a created
 *                resource, WWW-Authenticate of a 401
 */
public record HttpReply(HttpResponseStatus status, String contentType, String body, Map<String, String> headers) {
    /** The Content-Type of a JSON body. */
    public static final String JSON = "application/json; charset=utf-8";
    /** The Content-Type of a plain text body. */
    public static final String TEXT = "text/plain; charset=utf-8";

    /** Writes the error bodies: {@code {"error": ...}} needs nothing of an API's own mapper. */
    private static final ObjectMapper ERRORS = new ObjectMapper();

    public HttpReply {
        Objects.requireNonNull(status, "status");
        body = body == null ? "" : body;
        headers = Collections.unmodifiableMap(new LinkedHashMap<>(headers));
    }

    /** {@code body} as JSON, written by {@code mapper}. */
    public static HttpReply json(HttpResponseStatus status, Object body, ObjectMapper mapper) {
        try {
            return new HttpReply(status, JSON, mapper.writeValueAsString(body), Map.of());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + body, e);
        }
    }

    public static HttpReply text(HttpResponseStatus status, String contentType, String body) {
        return new HttpReply(status, contentType, body, Map.of());
    }

    /** 204, no body. */
    public static HttpReply noContent() {
        return new HttpReply(HttpResponseStatus.NO_CONTENT, null, "", Map.of());
    }

    /** {@code {"error": message}}. */
    public static HttpReply error(HttpResponseStatus status, String message) {
        try {
            return new HttpReply(status, JSON, ERRORS.writeValueAsString(ERRORS.createObjectNode().put("error", message)),
                    Map.of());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise an error", e);
        }
    }

    /** This reply with one header more (or replaced). */
    public HttpReply withHeader(String name, String value) {
        Map<String, String> h = new LinkedHashMap<>(headers);
        h.put(name, value);
        return new HttpReply(status, contentType, body, h);
    }
}
