package io.nvmpath.fabric.log;

import org.slf4j.Logger;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * At most one warning per interval — a failing peer must not write a line per request or per
 * retry; the ones held back are counted and the count goes out with the next warning let through.
 * The first warning after {@link #reset()} always goes out. Thread-safe (warnings are rare).
 */
public final class WarnLimiter {
    public static final long DEFAULT_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final Logger log;
    private final long intervalNanos;
    private final LongSupplier nanoTime;
    private boolean warned;
    private long lastNanos;
    private int suppressed;

    public WarnLimiter(Logger log, long intervalNanos) {
        this(log, intervalNanos, System::nanoTime);
    }

    public WarnLimiter(Logger log, long intervalNanos, LongSupplier nanoTime) {
        this.log = log;
        this.intervalNanos = intervalNanos;
        this.nanoTime = nanoTime;
    }

    /**
     * Logs {@code message} (with {@code cause}'s stack trace when given) unless a warning went out
     * less than one interval ago.
     *
     * @return whether the warning was logged
     */
    public synchronized boolean warn(String message, Throwable cause) {
        long now = nanoTime.getAsLong();
        if (warned && now - lastNanos < intervalNanos) {
            suppressed++;
            return false;
        }
        warned = true;
        lastNanos = now;
        String text = suppressed == 0 ? message
                : message + " (" + suppressed + " similar warning(s) suppressed)";
        suppressed = 0;
        if (cause != null) {
            log.warn(text, cause);
        } else {
            log.warn(text);
        }
        return true;
    }

    /** Warnings held back since the last one logged. */
    public synchronized int suppressed() {
        return suppressed;
    }

    /** The trouble is over (a reconnect succeeded): the next warning goes out at once. */
    public synchronized void reset() {
        warned = false;
        suppressed = 0;
    }
}
