package io.nvmpath.fabric.nvme;

/** Asymmetric Namespace Access state of an ANA group as seen through one controller. */
public enum AnaState {
    /** Best path: I/O goes here first. */
    OPTIMIZED(0x01, "optimized"),
    /** Usable, but used only when no optimized path is. */
    NON_OPTIMIZED(0x02, "non-optimized"),
    /** Not usable now; may come back. */
    INACCESSIBLE(0x03, "inaccessible"),
    /** Not usable, and will not come back through this controller. */
    PERSISTENT_LOSS(0x04, "persistent-loss"),
    /** Moving between states; not usable until it settles (within ANATT). */
    CHANGE(0x0F, "change");

    private final int code;
    private final String label;

    AnaState(int code, String label) {
        this.code = code;
        this.label = label;
    }

    public int code() {
        return code;
    }

    /** The name nvme-cli and Linux sysfs use ("non-optimized", "persistent-loss"...). */
    public String label() {
        return label;
    }

    /** I/O may be sent along a path in this state. */
    public boolean usable() {
        return this == OPTIMIZED || this == NON_OPTIMIZED;
    }

    /** Looks a wire value up (low nibble of the state byte); unknown values give {@code null}. */
    public static AnaState fromCode(int code) {
        int c = code & 0x0F;
        for (AnaState s : values()) {
            if (s.code == c) {
                return s;
            }
        }
        return null;
    }

    /** Parses a label as nvme-cli prints it, or an enum name; {@code null} if neither. */
    public static AnaState fromLabel(String s) {
        for (AnaState a : values()) {
            if (a.label.equalsIgnoreCase(s) || a.name().equalsIgnoreCase(s)) {
                return a;
            }
        }
        return null;
    }
}
