package io.nvmpath.fabric.host;

import io.nvmpath.fabric.log.WarnLimiter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * When to try again after an association is lost, by Linux's rules ({@code nvmf_should_reconnect},
 * {@code nvme_tcp_reconnect_or_remove}): one attempt at once, then one every reconnect_delay, at most
 * ceil(ctrl_loss_tmo / reconnect_delay) delayed attempts (forever when ctrl_loss_tmo is negative);
 * after that the controller is deleted. A failed attempt is warned about once, then at most once a
 * minute, so a path that stays down does not flood the log.
 *
 * <p>On the management loop; the delay runs on the controller's clock.
 */
final class Reconnect {
    /** Logged under the controller's name: these lines are about it. */
    private static final Logger log = LoggerFactory.getLogger(Controller.class);

    private final Controller controller;
    private final ManagementLoop mgmt;
    private final ControllerOptions options;
    private final WarnLimiter warnings;
    private ScheduledFuture<?> next;
    private int attempts;
    private long lossStartNanos;

    Reconnect(Controller controller, ManagementLoop mgmt, ControllerOptions options) {
        this.controller = controller;
        this.mgmt = mgmt;
        this.options = options;
        this.warnings = new WarnLimiter(log, TimeUnit.MINUTES.toNanos(1), mgmt::nanoTime);
    }

    /** The association was lost: the attempts from here on count towards ctrl_loss_tmo. */
    void lost() {
        lossStartNanos = mgmt.nanoTime();
    }

    /** An attempt succeeded: the count starts afresh for the next loss. */
    void connected() {
        attempts = 0;
        lossStartNanos = 0;
        warnings.reset();
    }

    /** The delayed attempt now running is no longer pending. */
    void attempting() {
        next = null;
    }

    /**
     * An attempt failed with {@code why}: schedules {@code attempt} after reconnect_delay, or returns
     * false when ctrl_loss_tmo allows no more (the caller deletes the controller).
     */
    boolean retryLater(String why, Runnable attempt) {
        long elapsed = mgmt.nanoTime() - lossStartNanos;
        long delay = options.reconnectDelay().toNanos();
        if (!shouldReconnect()) {
            log.warn("{}: giving up after {} s without a connection (ctrl_loss_tmo): {}", controller,
                    TimeUnit.NANOSECONDS.toSeconds(elapsed), why);
            return false;
        }
        if (!warnings.warn(controller + ": reconnect failed (" + why + "); retrying every "
                + TimeUnit.NANOSECONDS.toMillis(delay) + " ms, down for " + TimeUnit.NANOSECONDS.toSeconds(elapsed)
                + " s", null)) {
            log.debug("{}: reconnect failed ({}); next attempt in {} ms", controller, why,
                    TimeUnit.NANOSECONDS.toMillis(delay));
        }
        attempts++;
        next = mgmt.schedule(attempt, delay, TimeUnit.NANOSECONDS);
        return true;
    }

    private boolean shouldReconnect() {
        if (options.ctrlLossTimeout().isNegative()) {
            return true;
        }
        long delay = Math.max(1, options.reconnectDelay().toMillis());
        long max = (options.ctrlLossTimeout().toMillis() + delay - 1) / delay;
        return attempts < max;
    }

    /** No further attempt: the controller is going away. */
    void cancel() {
        if (next != null) {
            next.cancel(false);
            next = null;
        }
    }
}
