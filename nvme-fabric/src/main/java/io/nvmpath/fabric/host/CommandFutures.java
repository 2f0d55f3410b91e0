package io.nvmpath.fabric.host;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;

/**
 * Commands as futures: the callback of a request turned into a {@link CompletableFuture} that fails
 * with {@link NvmeException} on an error status, so set-up chains and typed admin commands compose
 * instead of nesting callbacks.
 */
final class CommandFutures {
    private CommandFutures() {
    }

    /** Sets the callback, submits {@code r} through {@code submit}, and returns its outcome. */
    static CompletableFuture<NvmeRequest> execute(NvmeRequest r, String what, Consumer<NvmeRequest> submit) {
        CompletableFuture<NvmeRequest> f = new CompletableFuture<>();
        r.callback(done -> {
            if (done.ok()) {
                f.complete(done);
            } else {
                f.completeExceptionally(new NvmeException(what, done));
            }
        });
        try {
            submit.accept(r);
        } catch (RuntimeException e) {
            f.completeExceptionally(e);
        }
        return f;
    }

    /** The cause under the wrappers a future chain adds. */
    static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
