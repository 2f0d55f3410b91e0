package io.nvmpath.multipath;

import java.util.Locale;

/**
 * How a head picks among its usable paths of the best tier (optimized before non-optimized). One
 * small function each, in {@link NamespaceHead#select}.
 */
public enum IoPolicy {
    /** Sticky: the first usable path of the best tier, kept until a state change (Linux's numa on one node). */
    NUMA("numa"),
    /** Same selection as {@link #NUMA}; the name dm-multipath users know. */
    FIRST("first"),
    /** Each I/O to the next path of the best tier. */
    ROUND_ROBIN("round-robin"),
    /** The path with the fewest commands in flight. */
    QUEUE_DEPTH("queue-depth"),
    /** The path with the least outstanding work weighted by its recent latency (dm-multipath service-time). */
    SERVICE_TIME("service-time");

    private final String label;

    IoPolicy(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    public static IoPolicy fromLabel(String s) {
        String k = s.trim().toLowerCase(Locale.ROOT);
        for (IoPolicy p : values()) {
            if (p.label.equals(k) || p.name().equalsIgnoreCase(k)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown iopolicy '" + s + "' (numa, first, round-robin, queue-depth, service-time)");
    }
}
