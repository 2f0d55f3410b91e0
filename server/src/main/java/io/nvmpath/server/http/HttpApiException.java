package io.nvmpath.server.http;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * A request the HTTP API refuses before touching the gateway: what the client sent is wrong (400),
 * names nothing here (404) or uses the wrong method (405, with the methods it allows).
 */
final class HttpApiException extends RuntimeException {
    private final HttpResponseStatus status;
    private final String allow;

    private HttpApiException(HttpResponseStatus status, String message, String allow) {
        super(message, null, false, false);
        this.status = status;
        this.allow = allow;
    }

    static HttpApiException badRequest(String message) {
        return new HttpApiException(HttpResponseStatus.BAD_REQUEST, message, null);
    }

    static HttpApiException notFound(String message) {
        return new HttpApiException(HttpResponseStatus.NOT_FOUND, message, null);
    }

    /** @param allowed the methods the resource takes, as the Allow header lists them */
    static HttpApiException methodNotAllowed(HttpMethod method, String path, String allowed) {
        return new HttpApiException(HttpResponseStatus.METHOD_NOT_ALLOWED,
                method + " is not allowed on " + path + " (use " + allowed + ")", allowed);
    }

    HttpResponseStatus status() {
        return status;
    }

    /** The Allow header of a 405; null otherwise. */
    String allow() {
        return allow;
    }
}
