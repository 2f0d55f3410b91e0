package io.nvmpath.multipath;

/** When a path that failed and came back is used again (before that it serves only as a last resort). */
public enum FailbackMode {
    /** At once (native NVMe multipath's behaviour). */
    IMMEDIATE,
    /** After it stayed usable for the configured failback delay. */
    DELAYED,
    /** Only after an operator's {@code failback} call. */
    MANUAL
}
