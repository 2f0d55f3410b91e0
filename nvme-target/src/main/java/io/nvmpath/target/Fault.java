package io.nvmpath.target;

import io.nvmpath.fabric.nvme.Status;

/**
 * A fault injected on one port, for tests and operators' failover drills. One fault per port at a
 * time; {@link None} clears it.
 */
public sealed interface Fault {
    /** No fault: the port behaves. */
    record None() implements Fault {
        @Override
        public String label() {
            return "none";
        }
    }

    /** The port's connections are closed and new ones refused (the listener is closed). */
    record Down() implements Fault {
        @Override
        public String label() {
            return "down";
        }
    }

    /** Connections stay open but nothing is answered: a silent path loss. */
    record Blackhole() implements Fault {
        @Override
        public String label() {
            return "blackhole";
        }
    }

    /** Every I/O completion through the port is delayed by {@code millis}. */
    record Delay(long millis) implements Fault {
        public Delay {
            if (millis < 0 || millis > 600_000) {
                throw new IllegalArgumentException("delay must be 0..600000 ms, not " + millis);
            }
        }

        @Override
        public String label() {
            return "delay " + millis;
        }
    }

    /** The next {@code count} I/O commands through the port complete with {@code status}. */
    record Fail(int count, int status) implements Fault {
        public Fail {
            if (count < 1) {
                throw new IllegalArgumentException("fail count must be at least 1, not " + count);
            }
            if (status <= 0 || status > 0x7FFF) {
                throw new IllegalArgumentException(String.format("status 0x%x is not an error status", status));
            }
        }

        @Override
        public String label() {
            return String.format("fail %d 0x%03x (%s)", count, status, Status.describe(status));
        }
    }

    Fault NONE = new None();

    /** How the fault is written in logs and the admin API. */
    String label();

    /**
     * Parses {@code none|clear}, {@code down}, {@code blackhole}, {@code delay MS},
     * {@code fail N STATUS} (STATUS in hex like {@code 0x302} or decimal).
     */
    static Fault parse(String text) {
        String[] w = text.trim().toLowerCase(java.util.Locale.ROOT).split("\\s+");
        try {
            return switch (w[0]) {
                case "none", "clear" -> NONE;
                case "down" -> new Down();
                case "blackhole" -> new Blackhole();
                case "delay" -> new Delay(Long.parseLong(w[1]));
                case "fail" -> new Fail(Integer.parseInt(w[1]), Integer.decode(w[2]));
                default -> throw new IllegalArgumentException("unknown fault '" + w[0]
                        + "' (none, down, blackhole, delay MS, fail N STATUS)");
            };
        } catch (ArrayIndexOutOfBoundsException | NumberFormatException e) {
            throw new IllegalArgumentException("bad fault '" + text + "': expected delay MS or fail N STATUS");
        }
    }
}
