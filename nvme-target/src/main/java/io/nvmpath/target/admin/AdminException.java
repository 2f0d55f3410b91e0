package io.nvmpath.target.admin;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * A request the admin API refuses before touching the target: what the client sent is wrong
 * (400), names nothing here (404) or uses the wrong method (405, with the one it allows).
 */
final class AdminException extends RuntimeException {
    private final HttpResponseStatus status;
    private final HttpMethod allow;

    private AdminException(HttpResponseStatus status, String message, HttpMethod allow) {
        super(message, null, false, false);
        this.status = status;
        this.allow = allow;
    }

    static AdminException badRequest(String message) {
        return new AdminException(HttpResponseStatus.BAD_REQUEST, message, null);
    }

    static AdminException notFound(String path) {
        return new AdminException(HttpResponseStatus.NOT_FOUND, "no resource " + path, null);
    }

    static AdminException methodNotAllowed(HttpMethod method, String path, HttpMethod allow) {
        return new AdminException(HttpResponseStatus.METHOD_NOT_ALLOWED,
                method + " is not allowed on " + path + " (use " + allow + ")", allow);
    }

    HttpResponseStatus status() {
        return status;
    }

    /** The method to put in the Allow header of a 405; {@code null} otherwise. */
    HttpMethod allow() {
        return allow;
    }
}
