package io.nvmpath.server.bench;

/** A benchmark that could not run: a path not connected, a namespace missing, a prefill failed. */
public final class BenchException extends RuntimeException {
    public BenchException(String message) {
        super(message);
    }

    public BenchException(String message, Throwable cause) {
        super(message, cause);
    }
}
