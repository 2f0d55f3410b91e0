package io.nvmpath.http;

import java.util.concurrent.CompletableFuture;

/**
 * What answers the requests of an {@link HttpApiServer}. Called on the server's executor, never on an
 * event loop; an answer that waits (a connection being made) completes its future later, from any
 * thread. Whatever it throws or fails with is answered by the server in one place: an
 * {@link HttpError} with its status, an {@link IllegalArgumentException} 400, a rejected task 503,
 * anything else 500 with the cause logged.
 */
@FunctionalInterface
public interface ApiHandler {

    /** The answer to {@code request}. */
    CompletableFuture<HttpReply> handle(ApiRequest request);

    /**
     * The server is closing: end every answer still awaited, now. Called once the listener is closed
     * and before the executor finishes the tasks it has.
     */
    default void stop() {
    }
}
