package io.nvmpath.fabric.host;

/** Why the host lost an association (the first of its queues to go decides). */
public enum LossCause {
    /** The connection closed under the host: the peer closed it, or a socket error. */
    TRANSPORT_CLOSED("transport closed"),
    /** A Keep Alive on the admin queue was not answered in time. */
    KEEP_ALIVE_TIMEOUT("keep-alive timeout"),
    /** An I/O or admin command was not answered within its timeout. */
    IO_TIMEOUT("I/O timeout"),
    /** The host closed it: a reset it started (ANATT, an operator, a protocol error), or a disconnect. */
    HOST_RESET("host reset");

    private final String label;

    LossCause(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }
}
