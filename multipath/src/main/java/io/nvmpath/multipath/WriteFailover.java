package io.nvmpath.multipath;

import java.util.Locale;

/** What a head does with a write whose path was lost before the write was answered. */
public enum WriteFailover {
    /**
     * It waits ("is fenced") until the controller it was sent to can no longer execute it — a
     * Cross-Controller Reset through another controller of the subsystem succeeded, or that
     * controller's keep-alive and quiesce times have passed — then goes to another path. A stale
     * copy can never land after newer data.
     */
    SAFE("safe"),
    /** It goes to another path at once, as Linux and SPDK do: for targets known to fence themselves. */
    IMMEDIATE("immediate");

    private final String label;

    WriteFailover(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    public static WriteFailover fromLabel(String s) {
        String k = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        for (WriteFailover w : values()) {
            if (w.label.equals(k)) {
                return w;
            }
        }
        throw new IllegalArgumentException("unknown writeFailover '" + s + "' (safe, immediate)");
    }
}
