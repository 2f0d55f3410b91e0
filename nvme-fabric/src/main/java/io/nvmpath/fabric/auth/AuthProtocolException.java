package io.nvmpath.fabric.auth;

/**
 * A malformed or short authentication message: the message names the field, and
 * {@link #explanation()} is what an AUTH_Failure1/2 should say of it (incorrect payload for a bad field
 * or length, incorrect protocol message for an unknown or misplaced message), so that a later state
 * machine maps decode errors to the wire in one place.
 */
public final class AuthProtocolException extends IllegalArgumentException {
    private final FailureExplanation explanation;

    public AuthProtocolException(FailureExplanation explanation, String message) {
        super(message);
        this.explanation = explanation;
    }

    public FailureExplanation explanation() {
        return explanation;
    }
}
