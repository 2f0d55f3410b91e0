package io.nvmpath.fabric.host;

import io.nvmpath.fabric.auth.DhchapSecret;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static io.nvmpath.fabric.host.CommandFutures.unwrap;

/**
 * DH-HMAC-CHAP again on a LIVE controller's queues, admin queue first (the controller reads the host's
 * keys anew there, as nvmet's {@code nvmet_setup_auth}), then every I/O queue at once, while they carry
 * I/O — Linux's {@code nvme_ctrl_auth_work}: on the configured period
 * ({@link ControllerOptions#dhchapReauthPeriod}), when the secrets are rotated, or on demand. A queue
 * the controller asks (a command answered Authentication Required) re-authenticates on its own, in
 * {@link HostQueue}.
 *
 * <p>A refused re-authentication leaves the association as it is (Linux: "credentials remain valid
 * until the controller terminates the connection"); it is logged once per round and counted, and the
 * controller decides what follows — Linux nvmet ends the association, and the reconnect then meets the
 * same refusal.
 *
 * <p>On the management loop; the period runs on the controller's clock.
 */
final class Reauthentication {
    /** Logged under the controller's name: these lines are about it. */
    private static final Logger log = LoggerFactory.getLogger(Controller.class);

    private final Controller controller;
    private final ManagementLoop mgmt;
    private final Association association;
    private final ControllerOptions options;
    private final AtomicLong completed = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();

    private ScheduledFuture<?> timer;
    private CompletableFuture<Void> running;

    Reauthentication(Controller controller, ManagementLoop mgmt, Association association, ControllerOptions options) {
        this.controller = controller;
        this.mgmt = mgmt;
        this.association = association;
        this.options = options;
    }

    /** Starts the period, for the association that just became LIVE (when its queues authenticated). */
    void start() {
        long periodMs = options.dhchapReauthPeriod().toMillis();
        if (periodMs <= 0 || !association.authenticates()) {
            return;
        }
        timer = mgmt.schedule(this::tick, periodMs, TimeUnit.MILLISECONDS);
    }

    void stop() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    /** Rounds that re-authenticated every queue, and rounds refused, since the controller was created. */
    long completed() {
        return completed.get();
    }

    long failed() {
        return failed.get();
    }

    private void tick() {
        if (timer == null) {
            return;
        }
        timer = mgmt.schedule(this::tick, options.dhchapReauthPeriod().toMillis(), TimeUnit.MILLISECONDS);
        if (running == null && controller.state() == ControllerState.LIVE) {
            run("period");
        }
    }

    /**
     * Replaces the secrets the controller uses (this association's re-authentication and every later
     * connect), then re-authenticates its queues when LIVE. On the management loop.
     */
    CompletableFuture<Void> rotate(DhchapSecret secret, DhchapSecret ctrlSecret) {
        options.dhchapSecrets(secret, ctrlSecret);
        if (controller.state() != ControllerState.LIVE || !association.authenticates()) {
            return CompletableFuture.completedFuture(null); // the next connect authenticates with them
        }
        return run("secrets rotated");
    }

    /** One round, joining one under way. On the management loop. */
    CompletableFuture<Void> run(String why) {
        if (running != null) {
            return running;
        }
        HostQueue admin = association.adminQueue();
        if (admin == null || !association.authenticates()) {
            return CompletableFuture.completedFuture(null);
        }
        int gen = association.generation();
        CompletableFuture<Void> round = admin.reauthenticate().thenCompose(v -> {
            List<CompletableFuture<Void>> io = new ArrayList<>();
            for (HostQueue q : association.ioQueues()) {
                io.add(q.reauthenticate());
            }
            return CompletableFuture.allOf(io.toArray(CompletableFuture[]::new));
        });
        CompletableFuture<Void> done = new CompletableFuture<>();
        running = done;
        round.whenCompleteAsync((v, err) -> {
            running = null;
            if (err == null) {
                completed.incrementAndGet();
                log.debug("{}: re-authenticated ({})", controller, why);
                done.complete(null);
                return;
            }
            Throwable cause = unwrap(err);
            // a refusal counts even when the controller has ended the association meanwhile (nvmet does
            // at once); a round cut short by the association going is not a refusal
            if (cause instanceof AuthenticationException || association.isCurrent(gen)) {
                failed.incrementAndGet();
                log.warn("{}: {} ({})", controller, cause.getMessage(), why);
            } else {
                log.debug("{}: re-authentication ({}) ended with the association: {}", controller, why,
                        cause.getMessage());
            }
            done.completeExceptionally(cause);
        }, mgmt.eventLoop());
        return done;
    }
}
