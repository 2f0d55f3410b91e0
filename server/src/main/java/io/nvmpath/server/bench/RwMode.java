package io.nvmpath.server.bench;

import java.util.Locale;

/** What the load issues, named as fio's {@code --rw}. */
public enum RwMode {
    /** Sequential reads through the region, wrapping at its end. */
    READ("read", false, 100),
    /** Sequential writes through the region, wrapping at its end. */
    WRITE("write", false, 0),
    /** Reads at uniformly random block-size-aligned offsets. */
    RANDREAD("randread", true, 100),
    /** Writes at uniformly random block-size-aligned offsets. */
    RANDWRITE("randwrite", true, 0),
    /** Random reads and writes, mixed by the read percentage (fio's rwmixread). */
    RANDRW("randrw", true, -1);

    private final String label;
    private final boolean random;
    private final int fixedReadPercent;

    RwMode(String label, boolean random, int fixedReadPercent) {
        this.label = label;
        this.random = random;
        this.fixedReadPercent = fixedReadPercent;
    }

    public String label() {
        return label;
    }

    public boolean random() {
        return random;
    }

    /** Share of reads in percent: 100 or 0 for the pure modes, {@code mixRead} for {@link #RANDRW}. */
    public int readPercent(int mixRead) {
        return fixedReadPercent >= 0 ? fixedReadPercent : mixRead;
    }

    /** Whether the mode writes at all (then a verify run reads the region back at the end). */
    public boolean writes(int mixRead) {
        return readPercent(mixRead) < 100;
    }

    public static RwMode fromLabel(String s) {
        String k = s.trim().toLowerCase(Locale.ROOT);
        for (RwMode m : values()) {
            if (m.label.equals(k)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown rw mode '" + s + "' (read, write, randread, randwrite, randrw)");
    }
}
