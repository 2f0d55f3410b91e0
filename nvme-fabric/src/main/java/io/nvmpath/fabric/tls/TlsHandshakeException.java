package io.nvmpath.fabric.tls;

/**
 * The TLS handshake of a connection failed: the peer refused the PSK (or offered none this side
 * knows), or the two could not agree on a version or suite. The message names the alert; it never
 * holds a key.
 */
public final class TlsHandshakeException extends RuntimeException {
    TlsHandshakeException(String message, Throwable cause) {
        super(message, cause);
    }
}
