package io.nvmpath.server.cli;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Waiting on futures from the command thread, and turning what failed into one line for the user. */
final class Failures {
    private Failures() {
    }

    /** The real cause under the wrappers futures and picocli put around it. */
    static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException
                || t instanceof picocli.CommandLine.ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** The exception's own message (NvmeException and TransportException say it all), else its type. */
    static String message(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }

    /**
     * Waits for {@code f}; its failure is rethrown unwrapped.
     *
     * @param what names the operation in the timeout message
     */
    static <T> T await(CompletableFuture<T> f, long seconds, String what) {
        try {
            return f.get(seconds, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable cause = unwrap(e);
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new CompletionException(cause);
        } catch (TimeoutException e) {
            f.cancel(false);
            throw new CliException("timed out after " + seconds + " s waiting for " + what);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted while waiting for " + what);
        }
    }

    /** A failure this front end detects itself; its message is the whole story. */
    static final class CliException extends RuntimeException {
        CliException(String message) {
            super(message);
        }

        CliException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
