package io.nvmpath.multipath;

import java.time.Duration;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * A management executor and clock the test drives: nothing runs until {@link #runDue} or
 * {@link #advance}, and time moves only by {@link #advance}. Single-threaded by construction.
 */
final class ManualScheduler extends AbstractExecutorService implements ScheduledExecutorService {
    /** Not zero: Path treats a failure time of 0 as "no failure recorded". */
    private final AtomicLong now = new AtomicLong(1_000_000_000_000L);
    private final PriorityQueue<Task<?>> tasks = new PriorityQueue<>();
    private long seq;

    LongSupplier clock() {
        return now::get;
    }

    long nanoTime() {
        return now.get();
    }

    /** Moves the clock on, running every task that falls due on the way, in time order. */
    void advance(Duration d) {
        long target = now.get() + d.toNanos();
        while (true) {
            Task<?> next = tasks.peek();
            if (next == null || next.due - target > 0) {
                break;
            }
            if (next.due - now.get() > 0) {
                now.set(next.due);
            }
            tasks.poll().run();
        }
        now.set(target);
    }

    /** Runs everything due now, including what those tasks submit for now. */
    void runDue() {
        advance(Duration.ZERO);
    }

    int pending() {
        return tasks.size();
    }

    @Override
    public void execute(Runnable command) {
        schedule(command, 0, TimeUnit.NANOSECONDS);
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
        return schedule(() -> {
            command.run();
            return null;
        }, delay, unit);
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
        Task<V> t = new Task<>(callable, now.get() + unit.toNanos(Math.max(0, delay)), seq++);
        tasks.add(t);
        return t;
    }

    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
        throw new UnsupportedOperationException("not used by a head");
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
        throw new UnsupportedOperationException("not used by a head");
    }

    @Override
    public void shutdown() {
    }

    @Override
    public List<Runnable> shutdownNow() {
        return List.of();
    }

    @Override
    public boolean isShutdown() {
        return false;
    }

    @Override
    public boolean isTerminated() {
        return false;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
        return true;
    }

    private final class Task<V> implements ScheduledFuture<V>, Runnable {
        private final Callable<V> body;
        final long due;
        private final long order;
        private boolean done;
        private boolean cancelled;
        private V value;

        Task(Callable<V> body, long due, long order) {
            this.body = body;
            this.due = due;
            this.order = order;
        }

        @Override
        public void run() {
            if (cancelled) {
                return;
            }
            try {
                value = body.call();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            } finally {
                done = true;
            }
        }

        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(due - now.get(), TimeUnit.NANOSECONDS);
        }

        @Override
        public int compareTo(Delayed o) {
            Task<?> t = (Task<?>) o;
            int c = Long.compare(due - now.get(), t.due - now.get());
            return c != 0 ? c : Long.compare(order, t.order);
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (done) {
                return false;
            }
            cancelled = true;
            tasks.remove(this);
            return true;
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }

        @Override
        public boolean isDone() {
            return done || cancelled;
        }

        @Override
        public V get() {
            if (!done) {
                throw new IllegalStateException("not run yet: advance the ManualScheduler");
            }
            return value;
        }

        @Override
        public V get(long timeout, TimeUnit unit) {
            return get();
        }
    }
}
