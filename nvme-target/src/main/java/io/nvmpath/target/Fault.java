package io.nvmpath.target;

import io.nvmpath.fabric.nvme.Status;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A fault injected on one port, for tests and operators' failover drills. One fault per port at a
 * time; {@link None} clears it.
 *
 * <p>As text ({@link #parse}, the admin API, {@code nvmpath target fault}), words separated by
 * spaces, any case:
 * <pre>
 * none | clear
 * down
 * blackhole
 * delay MS                      MS: 0..600000
 * fail N STATUS                 N ≥ 1; STATUS hex (0x302) or decimal, not 0
 * throttle RATE                 RATE: a whole number and a unit, with or without a space:
 *                               iops (1..10000000), or B/s, KiB/s, MiB/s, GiB/s (1 KiB/s..1024 GiB/s)
 *                               e.g. throttle 2000iops, throttle 50MiB/s, throttle 512 KiB/s
 * ghost-writes MS               MS: 1..600000
 * </pre>
 * Units of bandwidth are binary, as the target's sizes are: {@code 50MB/s} is refused, say
 * {@code 50MiB/s}. Every word must be understood: {@code delay 100 now} is refused, naming
 * {@code now}, not read as {@code delay 100}.
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

    /**
     * Connections stay open but nothing is read or answered: a silent path loss, as a network
     * partition is. No keep-alive arrives either, so a controller behind the port times out after
     * KATO and stops within its Command Quiesce Time; the connections it closed then are closed on
     * the wire only when the fault ends.
     */
    record Blackhole() implements Fault {
        @Override
        public String label() {
            return "blackhole";
        }
    }

    /**
     * Every I/O completion through the port is delayed by {@code millis}, on the target's clock; the
     * command is executed at once. Replacing or clearing the fault sends what it holds at once
     * ({@link Down} drops it with the connections), as for {@link Throttle}.
     */
    record Delay(long millis) implements Fault {
        private static final String GRAMMAR = "delay MS, a whole number of milliseconds 0..600000, e.g. delay 200";
        private static final Pattern DIGITS = Pattern.compile("\\d+");

        public Delay {
            if (millis < 0 || millis > 600_000) {
                throw new IllegalArgumentException("delay must be 0..600000 ms, not " + millis);
            }
        }

        @Override
        public String label() {
            return "delay " + millis;
        }

        /** Reads {@code delay MS}, {@code w} the words of {@code text}. */
        static Delay parse(String text, String[] w) {
            requireWords(text, w, 2, GRAMMAR);
            if (!DIGITS.matcher(w[1]).matches()) {
                throw badFault(text, "'" + w[1] + "' is not a whole number of milliseconds (expected " + GRAMMAR + ")");
            }
            long millis = digits(w[1]);
            if (millis > 600_000) {
                throw badFault(text, "the delay must be 0..600000 ms");
            }
            return new Delay(millis);
        }
    }

    /** The next {@code count} I/O commands through the port complete with {@code status}. */
    record Fail(int count, int status) implements Fault {
        private static final String GRAMMAR = "fail N STATUS, N commands (at least 1) and STATUS an NVMe status"
                + " in hex or decimal, e.g. fail 5 0x302";
        private static final Pattern DECIMAL = Pattern.compile("\\d+");
        private static final Pattern HEX = Pattern.compile("0[xX]([0-9a-fA-F]+)");

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

        /**
         * Reads {@code fail N STATUS}, {@code w} the words of {@code text}: STATUS is hex with
         * {@code 0x}, else decimal (a leading 0 is not octal).
         */
        static Fail parse(String text, String[] w) {
            requireWords(text, w, 3, GRAMMAR);
            if (!DECIMAL.matcher(w[1]).matches()) {
                throw badFault(text, "'" + w[1] + "' is not a whole number of commands (expected " + GRAMMAR + ")");
            }
            Matcher hex = HEX.matcher(w[2]);
            long status;
            if (hex.matches()) {
                status = hex.group(1).length() > 8 ? Long.MAX_VALUE : Long.parseLong(hex.group(1), 16);
            } else if (DECIMAL.matcher(w[2]).matches()) {
                status = digits(w[2]);
            } else {
                throw badFault(text, "'" + w[2] + "' is not a status in hex (0x302) or decimal (expected "
                        + GRAMMAR + ")");
            }
            return new Fail((int) Math.min(Integer.MAX_VALUE, digits(w[1])), (int) Math.min(Integer.MAX_VALUE, status));
        }
    }

    /**
     * The port carries at most {@code perSecond} I/O commands a second ({@link Unit#IOPS}), or
     * {@code perSecond} bytes of data a second ({@link Unit#BYTES}), over all its connections
     * together: a path that is only so fast. No I/O is refused: a command is executed at once and its
     * completion waits its turn in the port's token bucket ({@link IoThrottle}; bursts of 10 ms of the
     * cap, at least one I/O, pass at once), so ordering and timeouts are those of a slow device.
     * Only I/O commands the namespace executes count (Read, Write, Flush, Write Zeroes, Dataset
     * Management; an ANA or injected error is not held); admin, Keep Alive and Fabrics commands are
     * never held, so a throttled path stays live. Replacing or clearing the fault sends what it holds
     * at once ({@link Down} drops it with the connections).
     */
    record Throttle(long perSecond, Unit unit) implements Fault {
        /** Highest I/O rate. */
        public static final long MAX_IOPS = 10_000_000;
        /** Lowest data rate: 1 KiB/s. */
        public static final long MIN_BYTES_PER_SECOND = 1L << 10;
        /** Highest data rate: 1024 GiB/s. */
        public static final long MAX_BYTES_PER_SECOND = 1L << 40;

        private static final Pattern RATE = Pattern.compile("(\\d+)\\s*(iops|b/s|kib/s|mib/s|gib/s)",
                Pattern.CASE_INSENSITIVE);
        private static final Pattern DECIMAL = Pattern.compile("(\\d+)\\s*([kmg])b/s", Pattern.CASE_INSENSITIVE);
        private static final String GRAMMAR = "expected throttle RATE, a whole number with iops, B/s, KiB/s, MiB/s"
                + " or GiB/s, e.g. throttle 2000iops or throttle 50MiB/s";

        /** What the cap counts. */
        public enum Unit {
            /** I/O commands, each one whatever its size. */
            IOPS,
            /** Bytes of data that Read and Write carry; the other commands carry none but wait their turn. */
            BYTES
        }

        public Throttle {
            java.util.Objects.requireNonNull(unit, "unit");
            if (unit == Unit.IOPS && (perSecond < 1 || perSecond > MAX_IOPS)) {
                throw new IllegalArgumentException("throttle must be 1.." + MAX_IOPS + " iops, not " + perSecond);
            }
            if (unit == Unit.BYTES && (perSecond < MIN_BYTES_PER_SECOND || perSecond > MAX_BYTES_PER_SECOND)) {
                throw new IllegalArgumentException("throttle must be 1KiB/s..1024GiB/s, not " + perSecond + "B/s");
            }
        }

        /** A cap of {@code iops} I/O commands a second. */
        public static Throttle iops(long iops) {
            return new Throttle(iops, Unit.IOPS);
        }

        /** A cap of {@code mib} MiB of data a second. */
        public static Throttle mibPerSecond(long mib) {
            return new Throttle(Math.multiplyExact(mib, 1L << 20), Unit.BYTES);
        }

        /** The rate as {@link #parse} reads it: {@code 2000iops}, {@code 50MiB/s} (the largest exact unit). */
        public String rate() {
            if (unit == Unit.IOPS) {
                return perSecond + "iops";
            }
            String[] units = {"B/s", "KiB/s", "MiB/s", "GiB/s"};
            int u = 0;
            long n = perSecond;
            while (u < units.length - 1 && n % 1024 == 0) {
                n /= 1024;
                u++;
            }
            return n + units[u];
        }

        @Override
        public String label() {
            return "throttle " + rate();
        }

        /** Reads the {@code RATE} of {@code throttle RATE}, as written ({@code rate} is not lowercased). */
        static Throttle parse(String rate) {
            Matcher m = RATE.matcher(rate.strip());
            if (!m.matches()) {
                Matcher d = DECIMAL.matcher(rate.strip());
                if (d.matches()) {
                    String binary = d.group(2).toUpperCase(Locale.ROOT) + "iB/s";
                    throw new IllegalArgumentException("bad fault 'throttle " + rate.strip() + "': "
                            + d.group(2).toUpperCase(Locale.ROOT) + "B/s is a decimal unit; say " + d.group(1)
                            + binary + " (units are binary: B/s, KiB/s, MiB/s, GiB/s)");
                }
                throw new IllegalArgumentException("bad fault 'throttle" + (rate.isBlank() ? "" : " " + rate.strip())
                        + "': " + GRAMMAR);
            }
            String unit = m.group(2).toLowerCase(Locale.ROOT);
            int shift = switch (unit) {
                case "kib/s" -> 10;
                case "mib/s" -> 20;
                case "gib/s" -> 30;
                default -> 0;
            };
            long n;
            try {
                n = Long.parseLong(m.group(1));
            } catch (NumberFormatException e) {
                n = Long.MAX_VALUE; // more digits than a long has: out of range below
            }
            if (unit.equals("iops")) {
                if (n < 1 || n > MAX_IOPS) {
                    throw new IllegalArgumentException("bad fault 'throttle " + rate.strip() + "': the rate must be 1.."
                            + MAX_IOPS + " iops");
                }
                return new Throttle(n, Unit.IOPS);
            }
            long bytes = n > MAX_BYTES_PER_SECOND >> shift ? MAX_BYTES_PER_SECOND + 1 : n << shift;
            if (bytes < MIN_BYTES_PER_SECOND || bytes > MAX_BYTES_PER_SECOND) {
                throw new IllegalArgumentException("bad fault 'throttle " + rate.strip()
                        + "': the rate must be 1KiB/s..1024GiB/s");
            }
            return new Throttle(bytes, Unit.BYTES);
        }
    }

    /**
     * Each command with media side effects (Write, Write Zeroes, Dataset Management with Deallocate)
     * received on the port is held {@code millis} on the target's clock before it is applied and
     * completed: an array that is slow to apply writes and does not notice when its host is gone. If
     * the command's connection closes first (a cut, the port going down, the host resetting the
     * controller), it is still applied when its time is up — a ghost write — unless its controller is
     * stopped first: a successful Cross-Controller Reset of it, or the end of its Command Quiesce Time
     * after a keep-alive timeout. Reads and the other commands are not held. Clearing or replacing the
     * fault leaves what it holds to its time.
     */
    record GhostWrites(long millis) implements Fault {
        private static final String GRAMMAR = "ghost-writes MS, a whole number of milliseconds 1..600000,"
                + " e.g. ghost-writes 1000";
        private static final Pattern DIGITS = Pattern.compile("\\d+");

        public GhostWrites {
            if (millis < 1 || millis > 600_000) {
                throw new IllegalArgumentException("ghost-writes must hold 1..600000 ms, not " + millis);
            }
        }

        @Override
        public String label() {
            return "ghost-writes " + millis;
        }

        /** Reads {@code ghost-writes MS}, {@code w} the words of {@code text}. */
        static GhostWrites parse(String text, String[] w) {
            requireWords(text, w, 2, GRAMMAR);
            if (!DIGITS.matcher(w[1]).matches()) {
                throw badFault(text, "'" + w[1] + "' is not a whole number of milliseconds (expected " + GRAMMAR + ")");
            }
            long millis = digits(w[1]);
            if (millis < 1 || millis > 600_000) {
                throw badFault(text, "the hold must be 1..600000 ms");
            }
            return new GhostWrites(millis);
        }
    }

    Fault NONE = new None();

    /** How the fault is written in logs and the admin API. */
    String label();

    /** The faults there are, as an error names them. */
    String KINDS = "none, down, blackhole, delay MS, fail N STATUS, throttle RATE, ghost-writes MS";

    /**
     * Parses {@code none|clear}, {@code down}, {@code blackhole}, {@code delay MS},
     * {@code fail N STATUS} (STATUS in hex like {@code 0x302} or decimal), {@code throttle RATE}
     * ({@code 2000iops}, {@code 50MiB/s}), {@code ghost-writes MS}; the grammar is in this interface's
     * documentation. Every word must be understood: a word too many is refused and named, never
     * ignored.
     *
     * @throws IllegalArgumentException naming what is wrong, to be shown as it is
     */
    static Fault parse(String text) {
        String trimmed = text.strip();
        if (trimmed.isEmpty()) {
            throw new IllegalArgumentException("no fault given (" + KINDS + ")");
        }
        String[] w = trimmed.split("\\s+");
        String kind = w[0].toLowerCase(Locale.ROOT);
        return switch (kind) {
            case "none", "clear" -> {
                requireWords(trimmed, w, 1, kind);
                yield NONE;
            }
            case "down" -> {
                requireWords(trimmed, w, 1, kind);
                yield new Down();
            }
            case "blackhole" -> {
                requireWords(trimmed, w, 1, kind);
                yield new Blackhole();
            }
            case "delay" -> Delay.parse(trimmed, w);
            case "fail" -> Fail.parse(trimmed, w);
            case "throttle" -> Throttle.parse(trimmed.substring(w[0].length())); // RATE may hold a space
            case "ghost-writes" -> GhostWrites.parse(trimmed, w);
            default -> throw new IllegalArgumentException("unknown fault '" + w[0] + "' (" + KINDS + ")");
        };
    }

    /**
     * Exactly {@code n} words in {@code w}, else an error that names the first word too many, or
     * says what is missing; {@code grammar} is how the fault is written.
     */
    private static void requireWords(String text, String[] w, int n, String grammar) {
        if (w.length > n) {
            String before = String.join(" ", java.util.Arrays.copyOf(w, n));
            throw badFault(text, "unexpected '" + w[n] + "' after '" + before + "' (expected " + grammar + ")");
        }
        if (w.length < n) {
            throw badFault(text, "expected " + grammar);
        }
    }

    /** A number of only digits; more than a long holds reads as the largest long, out of every range. */
    private static long digits(String word) {
        try {
            return Long.parseLong(word);
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }

    private static IllegalArgumentException badFault(String text, String why) {
        return new IllegalArgumentException("bad fault '" + text + "': " + why);
    }
}
