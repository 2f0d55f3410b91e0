package io.nvmpath.multipath;

import io.nvmpath.fabric.host.ControllerOptions;

import java.time.Duration;

/**
 * Knobs of the path layer, with defaults that follow Linux native multipath where it has one.
 *
 * @param ioPolicy initial iopolicy of every subsystem (switchable at run time)
 * @param noPathTimeout how long I/O waits with no usable path while one may come back; {@code null}
 *                      queues forever (dm-multipath's queue_if_no_path)
 * @param maxRetries RETRY dispositions per command (Linux's nvme_max_retries, 5)
 * @param maxFailovers FAILOVER dispositions per command before the error goes to the caller
 * @param requeueLimitBytes bytes of I/O a head holds while it has no usable path
 * @param marginalFailures path failures within {@code marginalWindow} that make a path marginal
 * @param marginalHold how long a marginal path is held back
 * @param failback when a path that came back is used again
 * @param failbackDelay the delay for {@link FailbackMode#DELAYED}
 * @param delayedRemoval how long a head outlives its last path, queueing I/O (0 = removed at once)
 * @param writeFailover initial write failover of every subsystem: whether writes whose outcome a lost
 *                      path left unknown wait until that controller can no longer execute them
 * @param unreportedQuiesceTime the Command Quiesce Time assumed for a controller that reports none
 *                              (CQT 0): how long it may still execute commands after it noticed the loss
 * @param controller options for every controller the layer connects
 * @param portalOptions adjusts {@code controller} per portal at each connect (its DH-HMAC-CHAP secrets)
 */
public record MultipathOptions(IoPolicy ioPolicy, Duration noPathTimeout, int maxRetries, int maxFailovers,
                               long requeueLimitBytes, int marginalFailures, Duration marginalWindow,
                               Duration marginalHold, FailbackMode failback, Duration failbackDelay,
                               Duration delayedRemoval, WriteFailover writeFailover, Duration unreportedQuiesceTime,
                               ControllerOptions controller, PortalOptions portalOptions) {

    public static MultipathOptions defaults() {
        return new MultipathOptions(IoPolicy.NUMA, Duration.ofSeconds(30), 5, 16, 64L << 20, 3,
                Duration.ofSeconds(10), Duration.ofSeconds(30), FailbackMode.IMMEDIATE, Duration.ofSeconds(10),
                Duration.ZERO, WriteFailover.SAFE, Duration.ofSeconds(1), new ControllerOptions(), PortalOptions.SAME);
    }

    public MultipathOptions withIoPolicy(IoPolicy p) {
        return new MultipathOptions(p, noPathTimeout, maxRetries, maxFailovers, requeueLimitBytes, marginalFailures,
                marginalWindow, marginalHold, failback, failbackDelay, delayedRemoval, writeFailover, unreportedQuiesceTime, controller, portalOptions);
    }

    public MultipathOptions withNoPathTimeout(Duration d) {
        return new MultipathOptions(ioPolicy, d, maxRetries, maxFailovers, requeueLimitBytes, marginalFailures,
                marginalWindow, marginalHold, failback, failbackDelay, delayedRemoval, writeFailover, unreportedQuiesceTime, controller, portalOptions);
    }

    public MultipathOptions withMarginal(int failures, Duration window, Duration hold) {
        return new MultipathOptions(ioPolicy, noPathTimeout, maxRetries, maxFailovers, requeueLimitBytes, failures,
                window, hold, failback, failbackDelay, delayedRemoval, writeFailover, unreportedQuiesceTime, controller, portalOptions);
    }

    public MultipathOptions withFailback(FailbackMode mode, Duration delay) {
        return new MultipathOptions(ioPolicy, noPathTimeout, maxRetries, maxFailovers, requeueLimitBytes,
                marginalFailures, marginalWindow, marginalHold, mode, delay, delayedRemoval, writeFailover, unreportedQuiesceTime, controller, portalOptions);
    }

    public MultipathOptions withDelayedRemoval(Duration d) {
        return new MultipathOptions(ioPolicy, noPathTimeout, maxRetries, maxFailovers, requeueLimitBytes,
                marginalFailures, marginalWindow, marginalHold, failback, failbackDelay, d, writeFailover, unreportedQuiesceTime, controller, portalOptions);
    }

    public MultipathOptions withRequeueLimitBytes(long bytes) {
        return new MultipathOptions(ioPolicy, noPathTimeout, maxRetries, maxFailovers, bytes, marginalFailures,
                marginalWindow, marginalHold, failback, failbackDelay, delayedRemoval, writeFailover, unreportedQuiesceTime, controller, portalOptions);
    }

    public MultipathOptions withController(ControllerOptions c) {
        return new MultipathOptions(ioPolicy, noPathTimeout, maxRetries, maxFailovers, requeueLimitBytes,
                marginalFailures, marginalWindow, marginalHold, failback, failbackDelay, delayedRemoval, writeFailover, unreportedQuiesceTime, c, portalOptions);
    }

    public MultipathOptions withWriteFailover(WriteFailover w) {
        return new MultipathOptions(ioPolicy, noPathTimeout, maxRetries, maxFailovers, requeueLimitBytes,
                marginalFailures, marginalWindow, marginalHold, failback, failbackDelay, delayedRemoval, w,
                unreportedQuiesceTime, controller, portalOptions);
    }

    public MultipathOptions withUnreportedQuiesceTime(Duration d) {
        return new MultipathOptions(ioPolicy, noPathTimeout, maxRetries, maxFailovers, requeueLimitBytes,
                marginalFailures, marginalWindow, marginalHold, failback, failbackDelay, delayedRemoval, writeFailover,
                d, controller, portalOptions);
    }

    /** These options with {@code p} adjusting the controller options per portal. */
    public MultipathOptions withPortalOptions(PortalOptions p) {
        return new MultipathOptions(ioPolicy, noPathTimeout, maxRetries, maxFailovers, requeueLimitBytes,
                marginalFailures, marginalWindow, marginalHold, failback, failbackDelay, delayedRemoval, writeFailover,
                unreportedQuiesceTime, controller, java.util.Objects.requireNonNull(p, "portalOptions"));
    }
}
