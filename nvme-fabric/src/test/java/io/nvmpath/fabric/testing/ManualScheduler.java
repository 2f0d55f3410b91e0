package io.nvmpath.fabric.testing;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.nvmpath.fabric.time.Scheduler;

import java.time.Duration;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * A clock the test moves by hand: nothing scheduled runs until {@link #advance} (or {@link #runDue})
 * reaches it, and time moves only by {@link #advance}.
 *
 * <p>Two ways in. As a {@link ScheduledExecutorService} (the multipath layer's management executor)
 * its tasks run on the thread that advances the clock. As a {@link Scheduler} (the host's and the
 * target's timers) a task runs on the event loop it was scheduled for, and {@link #advance} waits for
 * it to finish there before moving on: time stands still while a timer's work is done, so what it
 * reads as "now" is its own due time.
 *
 * <p>Tasks may be scheduled from any thread; one thread drives the clock.
 */
public final class ManualScheduler extends AbstractExecutorService implements ScheduledExecutorService, Scheduler {
    private static final long RUN_WAIT_SECONDS = 10;
    private static final long AWAIT_SECONDS = 10;

    /** Not zero: the layers above treat a time of 0 as "never". */
    private volatile long now = 1_000_000_000_000L;
    private final PriorityQueue<Task<?>> tasks = new PriorityQueue<>();
    private long seq;

    /** The clock alone, for code that takes a {@link LongSupplier}. */
    public LongSupplier clock() {
        return this::nanoTime;
    }

    @Override
    public long nanoTime() {
        return now;
    }

    /** Moves the clock on, running every task that falls due on the way, in time order. */
    public void advance(Duration d) {
        long target = now + d.toNanos();
        while (true) {
            Task<?> next;
            synchronized (this) {
                next = tasks.peek();
                if (next == null || next.due - target > 0) {
                    break;
                }
                tasks.poll();
                if (next.due - now > 0) {
                    now = next.due;
                }
            }
            next.fire();
        }
        synchronized (this) {
            now = target;
        }
    }

    /** Runs everything due now, including what those tasks schedule for now. */
    public void runDue() {
        advance(Duration.ZERO);
    }

    /** Tasks waiting for their time. */
    public synchronized int pending() {
        return tasks.size();
    }

    /**
     * Waits (bounded, on the scheduling itself, not by sleeping) until a task falls due exactly
     * {@code delay} from now: how a test knows a timer it is about to fire has been set.
     *
     * @throws AssertionError when none is scheduled within ten seconds
     */
    public synchronized void awaitTaskIn(Duration delay) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(AWAIT_SECONDS);
        while (!hasTaskDue(now + delay.toNanos())) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("no task scheduled " + delay.toMillis() + " ms from now; pending in "
                        + tasks.stream().map(t -> (t.due - now) / 1_000_000 + " ms").toList());
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }

    private boolean hasTaskDue(long at) {
        for (Task<?> t : tasks) {
            if (t.due == at) {
                return true;
            }
        }
        return false;
    }

    // ---- Scheduler: tasks on their event loop -------------------------------------------------

    @Override
    public ScheduledFuture<?> schedule(EventExecutor executor, Runnable task, long delay, TimeUnit unit) {
        return add(new Task<>(() -> {
            task.run();
            return null;
        }, executor, delay, unit));
    }

    // ---- ScheduledExecutorService: tasks on the advancing thread ------------------------------

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
        return add(new Task<>(callable, null, delay, unit));
    }

    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
        throw new UnsupportedOperationException("periodic work re-arms itself through schedule()");
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
        throw new UnsupportedOperationException("periodic work re-arms itself through schedule()");
    }

    private synchronized <V> Task<V> add(Task<V> t) {
        tasks.add(t);
        notifyAll();
        return t;
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

    @Override
    public String toString() {
        return "manual clock at " + now + " ns";
    }

    private final class Task<V> implements ScheduledFuture<V> {
        private final Callable<V> body;
        /** Where the task runs; null: on the thread that advances the clock. */
        private final EventExecutor executor;
        final long due;
        private final long order;
        private volatile boolean done;
        private volatile boolean cancelled;
        private V value;

        Task(Callable<V> body, EventExecutor executor, long delay, TimeUnit unit) {
            this.body = body;
            this.executor = executor;
            synchronized (ManualScheduler.this) {
                this.due = now + unit.toNanos(Math.max(0, delay));
                this.order = seq++;
            }
        }

        void fire() {
            if (cancelled) {
                return;
            }
            if (executor == null || executor.inEventLoop()) {
                run();
                return;
            }
            Future<?> f;
            try {
                f = executor.submit(this::run);
            } catch (RejectedExecutionException e) {
                return; // the loop is shutting down: its timers die with it, as on a real loop
            }
            if (!f.awaitUninterruptibly(RUN_WAIT_SECONDS, TimeUnit.SECONDS)) {
                throw new AssertionError("a timer task did not finish on " + executor + " within "
                        + RUN_WAIT_SECONDS + " s");
            }
            if (f.cause() instanceof RuntimeException e) {
                throw e;
            }
            if (f.cause() instanceof Error e) {
                throw e;
            }
        }

        private void run() {
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
            return unit.convert(due - now, TimeUnit.NANOSECONDS);
        }

        @Override
        public int compareTo(Delayed o) {
            Task<?> t = (Task<?>) o;
            int c = Long.compare(due, t.due);
            return c != 0 ? c : Long.compare(order, t.order);
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            synchronized (ManualScheduler.this) {
                if (done || cancelled) {
                    return false;
                }
                cancelled = true;
                tasks.remove(this);
                return true;
            }
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
