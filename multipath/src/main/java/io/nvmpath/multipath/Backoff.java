package io.nvmpath.multipath;

import java.time.Duration;

/**
 * The wait before the next attempt to reach a portal that keeps failing: the configured reconnect
 * delay, doubled after each failure up to {@link #MAX_FACTOR} times it, and back to the reconnect
 * delay once the portal answered. A target that is down for long is not hammered; one that blinked
 * is reached again soon.
 */
final class Backoff {
    static final int MAX_FACTOR = 8;
    /** Never retry faster than this, whatever the configured delay. */
    static final long FLOOR_MILLIS = 100;

    private final long baseMillis;
    private long nextMillis;

    Backoff(Duration base) {
        this.baseMillis = Math.max(FLOOR_MILLIS, base.toMillis());
        this.nextMillis = baseMillis;
    }

    /** The delay before the next attempt; each call doubles the one after, up to the cap. */
    synchronized long nextMillis() {
        long d = nextMillis;
        nextMillis = Math.min(baseMillis * MAX_FACTOR, nextMillis * 2);
        return d;
    }

    /** The portal answered: the next failure waits the base delay again. */
    synchronized void reset() {
        nextMillis = baseMillis;
    }
}
