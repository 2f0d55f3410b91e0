package io.nvmpath.server.block;

/** A block operation refused or failed for a reason other than an NVMe status. */
public final class BlockException extends RuntimeException {

    /** Why; the NBD front end maps each kind to one NBD error. */
    public enum Kind {
        /** The request is malformed or out of range. */
        INVALID,
        /** A write past the end. */
        NO_SPACE,
        /** A write to a read-only device. */
        READ_ONLY,
        /** The device or the gateway is going away. */
        SHUTDOWN,
        /** The request is larger than the device takes. */
        OVERFLOW,
        /** The device cannot do this (e.g. a fast zero it cannot do fast). */
        NOT_SUPPORTED,
        /** An I/O failure without an NVMe status (no path, transport lost for good). */
        IO
    }

    private final Kind kind;

    public BlockException(Kind kind, String message) {
        this(kind, message, null);
    }

    public BlockException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
