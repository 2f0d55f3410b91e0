package io.nvmpath.fabric.host;

/** The connection under a queue failed or misbehaved; the cause of a host-aborted command. */
public final class TransportException extends RuntimeException {
    public TransportException(String message) {
        super(message);
    }

    public TransportException(String message, Throwable cause) {
        super(message, cause);
    }
}
