package io.nvmpath.target;

import io.netty.channel.EventLoop;
import io.nvmpath.fabric.time.Scheduler;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * What one controller still has to apply to the media: commands with media side effects (Write,
 * Write Zeroes, Dataset Management with Deallocate) that the {@link Fault.GhostWrites} fault holds
 * before applying them, and those a backend is executing. This is what a lost controller can still
 * do to the data after its host gave up on it, and what stopping it (a Cross-Controller Reset, the
 * end of the Command Quiesce Time after a keep-alive timeout) must account for: held commands are
 * dropped, executing ones finished.
 *
 * <p>Thread-safe: the controller's queues use it from their event loops, the controller from its
 * own. A held command runs on the loop of the queue it came through, even after that queue closed
 * (the array has not noticed); whoever takes it out of the set first, its timer or a stop, decides
 * whether it is applied or dropped.
 */
final class PendingWrites {
    /** A command held until {@code due}; {@code apply} executes it, {@code drop} releases what it holds. */
    private static final class Held {
        final Runnable apply;
        final Runnable drop;
        ScheduledFuture<?> timer;

        Held(Runnable apply, Runnable drop) {
            this.apply = apply;
            this.drop = drop;
        }
    }

    private final Scheduler scheduler;
    private final Set<Held> held = new LinkedHashSet<>();
    private final List<Runnable> whenIdle = new ArrayList<>();
    private int executing;
    /** Nothing more is applied: what is held was dropped, what arrives is dropped. */
    private boolean stopped;
    /** No held command is applied after this time on the target's clock (keep-alive deadline + CQT). */
    private long deadlineNanos;
    private boolean hasDeadline;
    private ScheduledFuture<?> deadlineTimer;

    PendingWrites(Scheduler scheduler) {
        this.scheduler = scheduler;
    }

    /**
     * Holds a command for {@code millis} on the target's clock, then runs {@code apply} on {@code loop}
     * (counted as executing until {@link #executionDone}). If the controller stops first, {@code drop}
     * runs instead; at once when it has stopped already.
     */
    void hold(EventLoop loop, long millis, Runnable apply, Runnable drop) {
        Held h = new Held(apply, drop);
        synchronized (this) {
            if (!stopped) {
                held.add(h);
                h.timer = scheduler.schedule(loop, () -> due(h), millis, TimeUnit.MILLISECONDS);
                return;
            }
        }
        drop.run();
    }

    private void due(Held h) {
        boolean apply;
        synchronized (this) {
            if (!held.remove(h)) {
                return; // a stop took it first and dropped it
            }
            apply = !(hasDeadline && scheduler.nanoTime() - deadlineNanos > 0);
            if (apply) {
                executing++;
            }
        }
        if (apply) {
            h.apply.run();
        } else {
            h.drop.run();
            idleCheck();
        }
    }

    /**
     * A command goes to the backend now; false when the controller has stopped, and then it must not
     * be applied. Each true is matched by one {@link #executionDone}.
     */
    synchronized boolean startExecution() {
        if (stopped) {
            return false;
        }
        executing++;
        return true;
    }

    /** The backend finished a command counted by {@link #startExecution} or a held one's apply. */
    void executionDone() {
        synchronized (this) {
            executing--;
        }
        idleCheck();
    }

    /**
     * Stops: every held command is dropped and nothing more is applied. True when nothing is
     * executing either (the controller has stopped for good); else {@link #whenIdle} says when.
     */
    boolean stop() {
        List<Held> dropped;
        boolean idle;
        synchronized (this) {
            stopped = true;
            dropped = new ArrayList<>(held);
            held.clear();
            if (deadlineTimer != null) {
                deadlineTimer.cancel(false);
                deadlineTimer = null;
            }
            idle = executing == 0;
        }
        for (Held h : dropped) {
            h.timer.cancel(false);
            h.drop.run();
        }
        idleCheck();
        return idle;
    }

    /**
     * After a keep-alive timeout: held commands due by {@code deadline} (the keep-alive deadline plus
     * the Command Quiesce Time) may still be applied, and at {@code deadline} whatever is held is
     * dropped ({@link #stop}). The timer runs on {@code loop}.
     */
    void quiesceBy(EventLoop loop, long deadline) {
        synchronized (this) {
            if (stopped || hasDeadline) {
                return;
            }
            hasDeadline = true;
            deadlineNanos = deadline;
            deadlineTimer = scheduler.schedule(loop, this::stop, Math.max(0, deadline - scheduler.nanoTime()),
                    TimeUnit.NANOSECONDS);
        }
    }

    /** Nothing held, nothing executing. */
    synchronized boolean idle() {
        return held.isEmpty() && executing == 0;
    }

    /** Held commands waiting for their time. */
    synchronized int heldCount() {
        return held.size();
    }

    /** Runs {@code r} (on whichever thread makes it so) once nothing is held or executing; at once if so now. */
    void whenIdle(Runnable r) {
        synchronized (this) {
            if (!(held.isEmpty() && executing == 0)) {
                whenIdle.add(r);
                return;
            }
        }
        r.run();
    }

    private void idleCheck() {
        List<Runnable> run;
        synchronized (this) {
            if (!held.isEmpty() || executing != 0 || whenIdle.isEmpty()) {
                return;
            }
            run = new ArrayList<>(whenIdle);
            whenIdle.clear();
        }
        run.forEach(Runnable::run);
    }
}
