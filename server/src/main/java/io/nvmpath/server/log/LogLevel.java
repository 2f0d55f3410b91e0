package io.nvmpath.server.log;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The process's log level, changeable while it runs (a reload applies {@code log.level}). SLF4J logs
 * through the JDK's {@code java.util.logging} (slf4j-jdk14), whose levels can change at run time;
 * this class installs one handler on standard error with nvmpath's line format
 * ({@code 2026-12-01T21:02:52.249Z INFO Gateway - export ...}, the cause's stack trace after it) and
 * sets the root level.
 */
public final class LogLevel {
    /** The levels by their SLF4J names, in the order of increasing detail. */
    public static final List<String> NAMES = List.of("error", "warn", "info", "debug", "trace");

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
            .withZone(ZoneOffset.UTC);
    private static Handler handler;
    private static volatile String current;

    private LogLevel() {
    }

    /**
     * Sets the level ({@link #NAMES}); installs the handler the first time.
     *
     * @throws IllegalArgumentException for another name
     */
    public static synchronized void set(String level) {
        Level jul = jul(level);
        Logger root = Logger.getLogger("");
        if (handler == null) {
            for (Handler h : root.getHandlers()) {
                root.removeHandler(h);
            }
            handler = new ConsoleHandler(); // System.err
            handler.setFormatter(new LineFormat());
            handler.setLevel(Level.ALL);
            root.addHandler(handler);
        }
        root.setLevel(jul);
        current = level.toLowerCase(Locale.ROOT);
    }

    /** The level set last, or null before the first {@link #set}. */
    public static String current() {
        return current;
    }

    /** The JDK level of an SLF4J level name. */
    public static Level jul(String level) {
        return switch (level == null ? "" : level.toLowerCase(Locale.ROOT)) {
            case "error" -> Level.SEVERE;
            case "warn" -> Level.WARNING;
            case "info" -> Level.INFO;
            case "debug" -> Level.FINE;
            case "trace" -> Level.FINEST;
            default -> throw new IllegalArgumentException("\"" + level + "\" is not a log level (one of " + NAMES + ")");
        };
    }

    /** SLF4J's name for a JDK level: what a line shows. */
    static String name(Level l) {
        int v = l.intValue();
        return v >= Level.SEVERE.intValue() ? "ERROR" : v >= Level.WARNING.intValue() ? "WARN"
                : v >= Level.INFO.intValue() ? "INFO" : v >= Level.FINE.intValue() ? "DEBUG" : "TRACE";
    }

    /** One line a record: time (UTC, milliseconds), level, the logger's short name, message; then the stack trace. */
    static final class LineFormat extends Formatter {
        @Override
        public String format(LogRecord r) {
            String logger = r.getLoggerName() == null ? "" : r.getLoggerName();
            StringBuilder b = new StringBuilder(128).append(TIME.format(Instant.ofEpochMilli(r.getMillis()))).append(' ')
                    .append(name(r.getLevel())).append(' ').append(logger.substring(logger.lastIndexOf('.') + 1))
                    .append(" - ").append(formatMessage(r)).append(System.lineSeparator());
            if (r.getThrown() != null) {
                StringWriter w = new StringWriter();
                r.getThrown().printStackTrace(new PrintWriter(w));
                b.append(w);
            }
            return b.toString();
        }
    }
}
