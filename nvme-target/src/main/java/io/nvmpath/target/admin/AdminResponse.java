package io.nvmpath.target.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * What the admin API answers, before it becomes an HTTP response on the connection.
 *
 * @param status the HTTP status
 * @param contentType the Content-Type of {@code body}
 * @param body the body
 * @param allow the Allow header of a 405, else {@code null}
 */
record AdminResponse(HttpResponseStatus status, String contentType, String body, HttpMethod allow) {
    static final String JSON = "application/json; charset=utf-8";
    static final String TEXT = "text/plain; charset=utf-8";

    static AdminResponse json(HttpResponseStatus status, JsonNode body) {
        try {
            return new AdminResponse(status, JSON, TargetJson.MAPPER.writeValueAsString(body), null);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + body, e);
        }
    }

    static AdminResponse text(HttpResponseStatus status, String body) {
        return new AdminResponse(status, TEXT, body, null);
    }

    /** {@code {"error": message}}. */
    static AdminResponse error(HttpResponseStatus status, String message, HttpMethod allow) {
        AdminResponse r = json(status, TargetJson.MAPPER.createObjectNode().put("error", message));
        return new AdminResponse(r.status, r.contentType, r.body, allow);
    }
}
