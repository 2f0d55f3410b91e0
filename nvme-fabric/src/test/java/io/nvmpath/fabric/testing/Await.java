package io.nvmpath.fabric.testing;

import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * How a test waits when what it waits for has no event of its own: a condition checked until it
 * holds (never a fixed delay that hopes the work is done), and a drain of event loops after which
 * every task queued on them before the call has run.
 */
public final class Await {
    /** How long a condition may take before the test fails: far beyond any healthy run. */
    public static final Duration DEADLINE = Duration.ofSeconds(10);

    private Await() {
    }

    /** Returns once {@code condition} holds; fails naming {@code what} after {@link #DEADLINE}. */
    public static void until(String what, BooleanSupplier condition) {
        until(what, condition, DEADLINE);
    }

    /** Returns once {@code condition} holds; fails naming {@code what} after {@code deadline}. */
    public static void until(String what, BooleanSupplier condition, Duration deadline) {
        long end = System.nanoTime() + deadline.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - end > 0) {
                throw new AssertionError("timed out after " + deadline.toMillis() + " ms waiting until " + what);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    /**
     * Runs an empty task on every event loop of {@code group} and waits for all of them: whatever was
     * queued on a loop before this call (a completion hopping onto it, say) has run when it returns.
     */
    public static void drain(EventLoopGroup group) {
        List<Future<?>> done = new ArrayList<>();
        for (EventExecutor loop : group) {
            done.add(loop.submit(() -> { }));
        }
        for (Future<?> f : done) {
            if (!f.awaitUninterruptibly(DEADLINE.toMillis())) {
                throw new AssertionError("an event loop did not run a task within " + DEADLINE.toMillis() + " ms");
            }
        }
    }
}
