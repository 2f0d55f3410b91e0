package io.nvmpath.target;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The token bucket of a {@link Fault.Throttle}: one per port, shared by the port's queues on their
 * event loops, without a lock. Each I/O the namespace has executed asks {@link #reserve} when its
 * completion may be sent; the queue holds the completion until that time (one timer per queue, see
 * {@code TargetQueue}), so nothing waits on a thread and nothing spins.
 *
 * <p>The bucket is one number, the time at which it would be full again (the theoretical arrival
 * time of GCRA, the cell-rate algorithm): an I/O that costs {@code c} nanoseconds of the cap moves it
 * {@code c} later, and its completion is due once that time is at most the burst ahead of now. So a
 * port sends at most {@code rate × (t + burst)} in any interval {@code t}, an idle port lets a burst
 * through at once, and a busy one sends at exactly the rate whatever the timers' lateness (due times
 * are computed, not measured). Due times never go down, so each queue holds its completions in
 * arrival order.
 */
final class IoThrottle {
    /** The burst: this much of the cap passes at once after an idle spell. */
    static final long BURST_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /** A byte cap's burst is at least one I/O of this size (a common large transfer). */
    static final long BURST_MIN_BYTES = 128 << 10;

    private final Fault.Throttle cap;
    private final LongSupplier clock;
    private final long perCommandNanos;
    private final long burstNanos;
    /** When the bucket would be full again, on {@link #clock}; at or before now when it is full. */
    private final AtomicLong fullAt;
    private final LongAdder commands = new LongAdder();
    private final LongAdder bytes = new LongAdder();
    private final AtomicInteger held = new AtomicInteger();

    /**
     * @param clock nanoseconds, the clock the queues' timers run on ({@link System#nanoTime} outside
     *              tests)
     */
    IoThrottle(Fault.Throttle cap, LongSupplier clock) {
        this.cap = cap;
        this.clock = clock;
        this.perCommandNanos = cap.unit() == Fault.Throttle.Unit.IOPS ? nanosFor(1) : 0;
        long oneIo = cap.unit() == Fault.Throttle.Unit.IOPS ? perCommandNanos : nanosFor(BURST_MIN_BYTES);
        this.burstNanos = Math.max(BURST_NANOS, oneIo);
        this.fullAt = new AtomicLong(clock.getAsLong());
    }

    Fault.Throttle cap() {
        return cap;
    }

    long now() {
        return clock.getAsLong();
    }

    /** The burst, as time at the cap. */
    long burstNanos() {
        return burstNanos;
    }

    /** What an I/O carrying {@code dataBytes} costs, in nanoseconds at the cap (rounded up: never faster). */
    long costNanos(long dataBytes) {
        return cap.unit() == Fault.Throttle.Unit.IOPS ? perCommandNanos : nanosFor(dataBytes);
    }

    private long nanosFor(long units) {
        // units ≤ 2^32 (a transfer), so units × 10^9 stays well inside a long
        return Math.ceilDiv(units * 1_000_000_000L, cap.perSecond());
    }

    /**
     * Takes the tokens of one executed I/O carrying {@code dataBytes} of data (0 for Flush, Write
     * Zeroes, Dataset Management) and returns when, on this bucket's clock, its completion may be
     * sent: now when the bucket has them, else later. Any thread.
     */
    long reserve(long dataBytes) {
        long cost = costNanos(dataBytes);
        commands.increment();
        bytes.add(dataBytes);
        long now = clock.getAsLong();
        long prev;
        long next;
        do {
            prev = fullAt.get();
            next = (prev - now > 0 ? prev : now) + cost;
        } while (!fullAt.compareAndSet(prev, next));
        long due = next - burstNanos;
        return due - now > 0 ? due : now;
    }

    /** A queue holds one more completion of this bucket. */
    void holding() {
        held.incrementAndGet();
    }

    /** A queue sent (or, closing, dropped) one completion it held. */
    void released() {
        held.decrementAndGet();
    }

    /** Completions held now, over all the port's queues. */
    int held() {
        return held.get();
    }

    /** I/O commands charged so far. */
    long commands() {
        return commands.sum();
    }

    /** Bytes of data charged so far. */
    long bytes() {
        return bytes.sum();
    }

    @Override
    public String toString() {
        return cap.label() + " (" + held() + " held)";
    }
}
