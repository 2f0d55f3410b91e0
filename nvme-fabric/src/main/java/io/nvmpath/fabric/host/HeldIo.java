package io.nvmpath.fabric.host;

import io.nvmpath.fabric.nvme.Status;

import java.util.ArrayDeque;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The one place in the fabric layer where a command waits for its path: I/O submitted while the
 * controller is not LIVE but may come back (RESETTING, CONNECTING) waits here for the reconnect.
 *
 * <p>Only with {@link ControllerOptions#holdIoWhileReconnecting()}, a single-path user's choice (a
 * benchmark, a tool): with one path there is nowhere else to go, so the command waits as Linux
 * queues it on a reconnecting controller. Once LIVE again, what waits is resubmitted in arrival
 * order. It fails with Host Pathing Error (0x370) instead when fast_io_fail_tmo has passed since the
 * loss, when the controller is deleted (ctrl_loss_tmo, disconnect), or beyond {@value #MAX_HELD}
 * commands.
 *
 * <p>What does not wait here:
 * <ul>
 *   <li>With holding off (the default, and what the multipath layer uses) a command on a controller
 *       that is not LIVE completes at once with Host Pathing Error, and one aborted by a reset with
 *       Command Aborted By Host (0x371). The multipath layer's namespace head then decides: another
 *       path now, or its requeue, which waits for any usable path of the namespace, through any
 *       controller. That requeue is the path layer's waiting place, as Linux's {@code requeue_list}
 *       of an {@code nvme_ns_head} is; this one is for a single controller.</li>
 *   <li>A command beyond the depth of a LIVE queue waits in that queue's slot queue
 *       ({@code HostQueue}): flow control on one connection, not a wait for a path. It is aborted
 *       with the connection like everything in flight.</li>
 * </ul>
 *
 * <p>On the management loop, except {@link #offer}, which may be called from any thread.
 */
final class HeldIo {
    /** Bound on what waits; beyond it a command fails at once. */
    static final int MAX_HELD = 4096;

    private final Controller controller;
    private final ManagementLoop mgmt;
    private final ControllerOptions options;
    private final Consumer<NvmeRequest> resubmit;
    private final ArrayDeque<NvmeRequest> held = new ArrayDeque<>();
    private ScheduledFuture<?> fastFailTimer;
    /** When the controller left LIVE (its clock); 0 while LIVE or before it first was. */
    private long lossStartNanos;

    /** {@code resubmit} is how a command is sent again once the controller is LIVE ({@code Controller::submit}). */
    HeldIo(Controller controller, ManagementLoop mgmt, ControllerOptions options, Consumer<NvmeRequest> resubmit) {
        this.controller = controller;
        this.mgmt = mgmt;
        this.options = options;
        this.resubmit = resubmit;
    }

    /**
     * A command for a controller that is not LIVE: waits here if holding is on and the controller may
     * come back, else completes at once with Host Pathing Error. Any thread.
     */
    void offer(NvmeRequest r) {
        ControllerState state = controller.state();
        if (options.holdIoWhileReconnecting() && state.mayComeBack()) {
            mgmt.eventLoop().execute(() -> hold(r));
            return;
        }
        fail(r, controller + " is " + state.name().toLowerCase());
    }

    private void hold(NvmeRequest r) {
        ControllerState state = controller.state();
        if (state == ControllerState.LIVE) {
            resubmit.accept(r);
        } else if (!state.mayComeBack() || fastFailExpired() || held.size() >= MAX_HELD) {
            fail(r, controller + " is not live");
        } else {
            held.addLast(r);
        }
    }

    private boolean fastFailExpired() {
        return options.fastIoFailTimeout() != null && lossStartNanos != 0
                && mgmt.nanoTime() - lossStartNanos >= options.fastIoFailTimeout().toNanos();
    }

    /** The controller left LIVE: fast_io_fail_tmo, if set, starts counting. */
    void lost() {
        lossStartNanos = mgmt.nanoTime();
        if (options.holdIoWhileReconnecting() && options.fastIoFailTimeout() != null) {
            fastFailTimer = mgmt.schedule(this::failAll, options.fastIoFailTimeout().toMillis(),
                    TimeUnit.MILLISECONDS);
        }
    }

    /** The controller is LIVE again: everything waiting is resubmitted, in order. */
    void live() {
        lossStartNanos = 0;
        if (fastFailTimer != null) {
            fastFailTimer.cancel(false);
            fastFailTimer = null;
        }
        while (!held.isEmpty()) {
            resubmit.accept(held.pollFirst());
        }
    }

    /** Fails everything waiting (fast_io_fail_tmo expired, or the controller is going away). */
    void failAll() {
        while (!held.isEmpty()) {
            fail(held.pollFirst(), controller + " is not live");
        }
    }

    private static void fail(NvmeRequest r, String why) {
        r.complete(Status.HOST_PATH_ERROR, 0, 0, new TransportException(why));
    }
}
