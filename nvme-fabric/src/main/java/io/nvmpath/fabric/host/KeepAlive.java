package io.nvmpath.fabric.host;

import io.nvmpath.fabric.nvme.IdentifyController;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Keep Alive on the admin queue while the controller is LIVE: one command every KATO/2 (Linux's
 * {@code nvme_keep_alive_work}), none while the previous one is outstanding. With traffic-based
 * keep-alive (CTRATT bit 2) a completion on any I/O queue within the last period counts instead.
 * Each command must complete within KATO/2 (its own timeout, which the admin queue enforces), so a
 * silent path is noticed within about KATO; a failed one resets the controller. Discovery
 * controllers connect without KATO and get none.
 *
 * <p>On the management loop; the period runs on the controller's clock.
 */
final class KeepAlive {
    private final Controller controller;
    private final ManagementLoop mgmt;
    private final Association association;
    private final ControllerOptions options;
    private final PathStats stats;
    private final Consumer<String> reset;

    private ScheduledFuture<?> timer;
    private long periodMillis;
    private boolean outstanding;

    /** {@code reset} is given the reason when a Keep Alive fails on a LIVE controller. */
    KeepAlive(Controller controller, ManagementLoop mgmt, Association association, ControllerOptions options,
              PathStats stats, Consumer<String> reset) {
        this.controller = controller;
        this.mgmt = mgmt;
        this.association = association;
        this.options = options;
        this.stats = stats;
        this.reset = reset;
    }

    /** Starts the period, for the association that just became LIVE. */
    void start() {
        long katoMs = association.discovery() ? 0 : options.keepAliveTimeout().toMillis();
        if (katoMs <= 0) {
            return;
        }
        periodMillis = Math.max(1, katoMs / 2);
        outstanding = false;
        timer = mgmt.schedule(this::tick, periodMillis, TimeUnit.MILLISECONDS);
    }

    /** Stops the period; an outstanding command completes with its queue. */
    void stop() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void tick() {
        if (timer == null) {
            return; // stopped after this tick fell due
        }
        timer = mgmt.schedule(this::tick, periodMillis, TimeUnit.MILLISECONDS);
        send();
    }

    private void send() {
        if (controller.state() != ControllerState.LIVE || outstanding) {
            return;
        }
        long period = TimeUnit.MILLISECONDS.toNanos(periodMillis);
        IdentifyController id = association.identity();
        if (id != null && id.trafficBasedKeepAlive()) {
            long now = mgmt.nanoTime();
            for (HostQueue q : association.ioQueues()) {
                if (q.lastCompletionNanos() != 0 && now - q.lastCompletionNanos() < period) {
                    return;
                }
            }
        }
        HostQueue q = association.adminQueue();
        if (q == null) {
            return;
        }
        int gen = association.generation();
        outstanding = true;
        NvmeRequest ka = Commands.keepAlive().timeoutNanos(period);
        long sent = mgmt.nanoTime();
        ka.callback(done -> mgmt.execute(() -> {
            outstanding = false;
            if (done.ok()) {
                stats.keepAliveRtt(mgmt.nanoTime() - sent);
            }
            if (!done.ok() && association.isCurrent(gen) && controller.state() == ControllerState.LIVE) {
                reset.accept("keep-alive failed: " + done.describeStatus());
            }
        }));
        q.submit(ka);
    }
}
