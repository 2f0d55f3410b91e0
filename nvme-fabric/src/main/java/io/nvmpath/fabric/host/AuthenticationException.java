package io.nvmpath.fabric.host;

/**
 * DH-HMAC-CHAP failed on a queue: the controller refused the host's credentials, the host refused the
 * controller's, or the two could not agree on how to authenticate. The message is the one line an
 * operator reads ("authentication failed: the controller rejected the host's response (DH-HMAC-CHAP
 * failure reason 1h, explanation 01h: authentication failed); queue 0 of NQN at ADDRESS") and never
 * holds a secret.
 *
 * <p>Not retried by a controller's reconnect loop: another attempt with the same secrets fails the
 * same way (Linux 6.12 does not retry a rejected key either). The controller is deleted instead, and
 * whoever owns the portal decides when to connect again.
 */
public final class AuthenticationException extends RuntimeException {
    AuthenticationException(String message) {
        super(message);
    }
}
