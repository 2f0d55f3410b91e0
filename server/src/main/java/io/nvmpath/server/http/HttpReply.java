package io.nvmpath.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.netty.handler.codec.http.HttpResponseStatus;

import java.util.Map;

/**
 * What the HTTP API answers, before it becomes an HTTP response on the connection.
 *
 * @param status the HTTP status
 * @param contentType the Content-Type of {@code body}; null when there is no body
 * @param body the body ("" for none)
 * @param allow the Allow header of a 405, else null
 * @param location the Location header of a created resource, else null
 */
record HttpReply(HttpResponseStatus status, String contentType, String body, String allow, String location) {
    static final String JSON = "application/json; charset=utf-8";

    static HttpReply json(HttpResponseStatus status, Object body) {
        try {
            return new HttpReply(status, JSON, HttpApi.MAPPER.writeValueAsString(body), null, null);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + body, e);
        }
    }

    static HttpReply text(HttpResponseStatus status, String contentType, String body) {
        return new HttpReply(status, contentType, body, null, null);
    }

    static HttpReply noContent() {
        return new HttpReply(HttpResponseStatus.NO_CONTENT, null, "", null, null);
    }

    /** {@code {"error": message}}. */
    static HttpReply error(HttpResponseStatus status, String message, String allow) {
        HttpReply r = json(status, Map.of("error", message));
        return new HttpReply(r.status, r.contentType, r.body, allow, null);
    }

    HttpReply withLocation(String location) {
        return new HttpReply(status, contentType, body, allow, location);
    }
}
