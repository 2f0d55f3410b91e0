package io.nvmpath.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * A request an API refuses before changing anything, with the status that says why: what the client
 * sent is wrong (400), names nothing here (404), or uses the wrong method (405, with the methods the
 * resource takes). Thrown from anywhere while answering; the server answers it as
 * {@code {"error": message}} with its status.
 */
public final class HttpError extends RuntimeException {
    private final HttpResponseStatus status;
    private final String allow;

    private HttpError(HttpResponseStatus status, String message, String allow) {
        super(message, null, false, false);
        this.status = status;
        this.allow = allow;
    }

    /** Another refusal: {@code status} with {@code message}. */
    public HttpError(HttpResponseStatus status, String message) {
        this(status, message, null);
    }

    public static HttpError badRequest(String message) {
        return new HttpError(HttpResponseStatus.BAD_REQUEST, message, null);
    }

    public static HttpError notFound(String message) {
        return new HttpError(HttpResponseStatus.NOT_FOUND, message, null);
    }

    /** @param allowed the methods the resource takes, as the Allow header lists them ("GET, POST") */
    public static HttpError methodNotAllowed(HttpMethod method, String path, String allowed) {
        return new HttpError(HttpResponseStatus.METHOD_NOT_ALLOWED,
                method + " is not allowed on " + path + " (use " + allowed + ")", allowed);
    }

    public HttpResponseStatus status() {
        return status;
    }

    /** The Allow header of a 405; null otherwise. */
    public String allow() {
        return allow;
    }

    /** {@code {"error": message}} with this status (and Allow). */
    public HttpReply reply() {
        HttpReply r = HttpReply.error(status, getMessage());
        return allow == null ? r : r.withHeader(HttpHeaderNames.ALLOW.toString(), allow);
    }
}
