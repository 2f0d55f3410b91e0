package io.nvmpath.fabric.host;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.testing.ManualScheduler;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A host {@link Controller} on a manual clock against a {@link ScriptedTarget}: its keep-alive,
 * reconnect, fast-fail and command timers fire when the test advances the clock, never on their
 * own. The host runs on one event loop, so its management work and its queues keep one order.
 */
final class ControllerFixture implements AutoCloseable {
    private static final long WAIT_SECONDS = 10;

    final ManualScheduler clock = new ManualScheduler();
    final ScriptedTarget target;
    final StateChanges states = new StateChanges();
    private final EventLoopGroup loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final List<Controller> controllers = new ArrayList<>();

    ControllerFixture() throws InterruptedException {
        target = new ScriptedTarget();
    }

    /** Options with the manual clock and one I/O queue. */
    ControllerOptions options() {
        return new ControllerOptions().scheduler(clock).ioQueues(1);
    }

    Controller connect(ControllerOptions o) throws Exception {
        Controller c = Controller.connect(target.address(), ScriptedTarget.NQN, o, loops, states)
                .get(WAIT_SECONDS, TimeUnit.SECONDS);
        controllers.add(c);
        return c;
    }

    /** Returns once the host's event loop has run everything handed to it before this call. */
    void settle() {
        loops.next().submit(() -> { }).syncUninterruptibly();
    }

    /**
     * Returns once the target has answered everything {@code c} sent on its admin queue before this
     * call, and the host has read those answers: responses on one queue come back in order.
     */
    void fence(Controller c) throws Exception {
        c.identifyController().get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    /** Submits {@code r} and returns the future of its completion (success or not). */
    static CompletableFuture<NvmeRequest> submit(Controller c, NvmeRequest r) {
        CompletableFuture<NvmeRequest> done = new CompletableFuture<>();
        r.callback(done::complete);
        c.submit(r);
        return done;
    }

    static NvmeRequest await(CompletableFuture<NvmeRequest> f) throws Exception {
        return f.get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        for (Controller c : controllers) {
            c.close();
        }
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        target.close();
    }

    /** Records state changes as "FROM->TO" and lets a test wait for one. */
    static final class StateChanges implements ControllerListener {
        private final List<String> changes = new ArrayList<>();

        @Override
        public synchronized void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
            changes.add(from + "->" + to);
            notifyAll();
        }

        synchronized List<String> changes() {
            return List.copyOf(changes);
        }

        synchronized void clear() {
            changes.clear();
        }

        /** Waits until {@code change} has happened (since the last {@link #clear}). */
        synchronized void await(String change) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
            while (!changes.contains(change)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no " + change + " within " + WAIT_SECONDS + " s; saw " + changes);
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        }
    }
}
