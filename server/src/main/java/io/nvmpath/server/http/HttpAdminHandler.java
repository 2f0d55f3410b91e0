package io.nvmpath.server.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.nvmpath.http.ApiHandler;
import io.nvmpath.http.ApiRequest;
import io.nvmpath.http.HttpReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;

/**
 * What the gateway's HTTP side answers a request with: first who may ({@link HttpAccess}: the check
 * may read the token file, so it runs here on the HTTP executor, never on the event loop), then the
 * API ({@link HttpApi}). The shared server logs each request's outcome on this class's logger, so the
 * lines read {@code DEBUG HttpAdminHandler - http: GET /health from ... -> 200 OK} as they always did.
 */
final class HttpAdminHandler implements ApiHandler {
    private static final Logger log = LoggerFactory.getLogger(HttpAdminHandler.class);

    private final HttpApi api;
    private final HttpAccess access;
    /** The listener is on a loopback address (state changes need no credentials there unless configured). */
    private final boolean loopback;

    HttpAdminHandler(HttpApi api, HttpAccess access, boolean loopback) {
        this.api = api;
        this.access = access;
        this.loopback = loopback;
    }

    @Override
    public CompletableFuture<HttpReply> handle(ApiRequest request) {
        HttpReply refusal = access.refusal(request.method(), request.header(HttpHeaderNames.AUTHORIZATION),
                request.clientCertificate(), loopback);
        if (refusal != null) {
            log.info("http: {} {} from {} refused: {}", request.method(), request.rawPath(), request.remote(),
                    refusal.status());
            return CompletableFuture.completedFuture(refusal);
        }
        return api.handle(request);
    }

    @Override
    public void stop() {
        api.stop();
    }
}
