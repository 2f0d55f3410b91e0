package io.nvmpath.fabric.time;

import io.netty.util.concurrent.EventExecutor;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Where time comes from: what "now" is, and when a delayed task runs. Keep-alive, reconnect,
 * command timeouts and register polling take both from here rather than from
 * {@link System#nanoTime()} and an event loop's own timer, so that a test can hold time still and
 * move it by hand instead of sleeping.
 *
 * <p>A task always runs on the executor it is scheduled for (the event loop that owns the state it
 * touches), whichever scheduler fires it: confinement does not depend on the clock.
 */
public interface Scheduler {
    /** Real time: {@link System#nanoTime()} and the executor's own timer. */
    Scheduler SYSTEM = new Scheduler() {
        @Override
        public long nanoTime() {
            return System.nanoTime();
        }

        @Override
        public ScheduledFuture<?> schedule(EventExecutor executor, Runnable task, long delay, TimeUnit unit) {
            return executor.schedule(task, delay, unit);
        }

        @Override
        public String toString() {
            return "system clock";
        }
    };

    /** Now, in nanoseconds from an arbitrary origin; only differences mean anything. */
    long nanoTime();

    /** Runs {@code task} on {@code executor} once {@code delay} has passed on this clock. */
    ScheduledFuture<?> schedule(EventExecutor executor, Runnable task, long delay, TimeUnit unit);
}
