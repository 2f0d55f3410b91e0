package io.nvmpath.fabric.host;

import io.netty.channel.EventLoop;
import io.nvmpath.fabric.time.Scheduler;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Where and when a controller's management work runs: on its one event loop (which also carries the
 * admin queue), at times of the clock its options name. Confining the controller's state to this loop
 * is what lets it go without locks; taking time from the {@link Scheduler} is what lets a test drive
 * keep-alive, reconnect and fast-fail timers by hand.
 */
final class ManagementLoop {
    private final EventLoop loop;
    private final Scheduler scheduler;

    ManagementLoop(EventLoop loop, Scheduler scheduler) {
        this.loop = loop;
        this.scheduler = scheduler;
    }

    EventLoop eventLoop() {
        return loop;
    }

    boolean inEventLoop() {
        return loop.inEventLoop();
    }

    long nanoTime() {
        return scheduler.nanoTime();
    }

    /**
     * Runs {@code task} on the loop. Completions that arrive while the event loops are shutting down
     * (queues failing their commands as they close) have nothing left to do and are dropped.
     */
    void execute(Runnable task) {
        try {
            loop.execute(task);
        } catch (RejectedExecutionException e) {
            if (!loop.isShuttingDown()) {
                throw e;
            }
        }
    }

    /** Runs {@code task} on the loop after {@code delay} of the controller's clock. */
    ScheduledFuture<?> schedule(Runnable task, long delay, TimeUnit unit) {
        return scheduler.schedule(loop, task, delay, unit);
    }
}
