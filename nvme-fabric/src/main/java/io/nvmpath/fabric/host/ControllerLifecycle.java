package io.nvmpath.fabric.host;

import io.netty.channel.EventLoopGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;

import static io.nvmpath.fabric.host.CommandFutures.unwrap;

/**
 * What happens to a controller, and in which order, when it connects, loses its association,
 * reconnects, is deleted or disconnects: the conductor over the state table, the association, keep-
 * alive, asynchronous events, the retry rules and held I/O (Linux splits the same work between
 * {@code nvme_tcp_error_recovery_work}, {@code nvme_tcp_reconnect_ctrl_work} and
 * {@code nvme_delete_ctrl}).
 *
 * <ul>
 *   <li>connect: NEW → CONNECTING → LIVE; a failed first connect goes to DEAD, not retried.</li>
 *   <li>loss (a queue failed, keep-alive failed, {@link #reset}): LIVE → RESETTING (teardown aborts
 *       everything outstanding) → CONNECTING, one attempt at once, then by {@link Reconnect}.</li>
 *   <li>ctrl_loss_tmo or disconnect: → DELETING → DEAD; held I/O fails.</li>
 * </ul>
 *
 * <p>On the management loop, except the entry points, which hop onto it.
 */
final class ControllerLifecycle {
    /** Logged under the controller's name: these lines are about it. */
    private static final Logger log = LoggerFactory.getLogger(Controller.class);

    private final Controller controller;
    private final ManagementLoop mgmt;
    private final ControllerStateMachine states;
    private final Association association;
    private final KeepAlive keepAlive;
    private final Reauthentication reauthentication;
    private final AsyncEvents asyncEvents;
    private final Reconnect reconnect;
    private final HeldIo held;
    private volatile String lastFailure;

    ControllerLifecycle(Controller controller, TransportAddress address, String subsystemNqn, ControllerOptions options,
                        EventLoopGroup group, PathStats stats, ControllerListeners listeners) {
        this.controller = controller;
        this.mgmt = new ManagementLoop(group.next(), options.scheduler());
        this.states = new ControllerStateMachine(controller, mgmt, listeners);
        this.association = new Association(address, subsystemNqn, options, group, mgmt, stats, this::queueFailed);
        this.keepAlive = new KeepAlive(controller, mgmt, association, options, stats, this::startReset);
        this.reauthentication = new Reauthentication(controller, mgmt, association, options);
        this.asyncEvents = new AsyncEvents(controller, mgmt, association, listeners);
        this.reconnect = new Reconnect(controller, mgmt, options);
        this.held = new HeldIo(controller, mgmt, options, controller::submit);
    }

    ControllerStateMachine states() {
        return states;
    }

    Association association() {
        return association;
    }

    HeldIo held() {
        return held;
    }

    Reauthentication reauthentication() {
        return reauthentication;
    }

    /** Runs {@code task}'s future on the management loop (from any thread). */
    <T> CompletableFuture<T> onManagementLoop(java.util.function.Supplier<CompletableFuture<T>> task) {
        CompletableFuture<T> f = new CompletableFuture<>();
        mgmt.eventLoop().execute(() -> task.get().whenComplete((v, err) -> {
            if (err != null) {
                f.completeExceptionally(unwrap(err));
            } else {
                f.complete(v);
            }
        }));
        return f;
    }

    /** Why the association last failed, or {@code null}. */
    String lastFailure() {
        return lastFailure;
    }

    /** The first connect; completes once LIVE, or fails (the controller then is DEAD). */
    CompletableFuture<Void> start() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        mgmt.eventLoop().execute(() -> {
            states.changeState(ControllerState.CONNECTING, "connect");
            establish().whenCompleteAsync((v, err) -> {
                if (err == null) {
                    states.changeState(ControllerState.LIVE, "connected");
                    afterLive();
                    done.complete(null);
                } else {
                    Throwable cause = unwrap(err);
                    lastFailure = cause.getMessage();
                    teardown("connect failed");
                    states.changeState(ControllerState.DELETING, cause.getMessage());
                    states.changeState(ControllerState.DEAD, cause.getMessage());
                    done.completeExceptionally(cause);
                }
            }, mgmt.eventLoop());
        });
        return done;
    }

    /** The association's set-up, then asynchronous event configuration as its last step. */
    private CompletableFuture<Void> establish() {
        return association.establish().thenComposeAsync(gen -> {
            association.requireCurrent(gen);
            return asyncEvents.configure();
        }, mgmt.eventLoop());
    }

    private void afterLive() {
        reconnect.connected();
        asyncEvents.arm();
        keepAlive.start();
        reauthentication.start();
        held.live();
    }

    /** Resets a LIVE controller as an error would; nothing in any other state. Any thread. */
    void reset(String reason) {
        mgmt.eventLoop().execute(() -> startReset(reason));
    }

    private void queueFailed(int generation, String reason) {
        if (association.isCurrent(generation) && states.state() == ControllerState.LIVE) {
            startReset(reason);
        }
    }

    /** LIVE -> RESETTING: tear the association down, abort everything outstanding, reconnect. */
    private void startReset(String reason) {
        if (states.state() != ControllerState.LIVE) {
            return;
        }
        lastFailure = reason;
        reconnect.lost();
        held.lost();
        states.changeState(ControllerState.RESETTING, reason);
        teardown(reason);
        states.changeState(ControllerState.CONNECTING, "reconnecting");
        reconnectNow();
    }

    private void teardown(String reason) {
        keepAlive.stop();
        reauthentication.stop();
        association.teardown(reason);
    }

    private void reconnectNow() {
        reconnect.attempting();
        if (states.state() != ControllerState.CONNECTING) {
            return;
        }
        establish().whenCompleteAsync((v, err) -> {
            if (states.state() != ControllerState.CONNECTING) {
                return;
            }
            if (err == null) {
                states.changeState(ControllerState.LIVE, "reconnected");
                afterLive();
                return;
            }
            Throwable cause = unwrap(err);
            String why = cause.getMessage();
            lastFailure = why;
            teardown(why);
            if (cause instanceof AuthenticationException) {
                // the same secrets fail the same way: no retry storm (the portal's owner backs off)
                log.warn("{}: {}; not reconnecting", controller, why);
                delete(why);
            } else if (!reconnect.retryLater(why, this::reconnectNow)) {
                delete("ctrl_loss_tmo expired: " + why);
            }
        }, mgmt.eventLoop());
    }

    private void delete(String reason) {
        reconnect.cancel();
        ControllerState s = states.state();
        if (s != ControllerState.DELETING && s != ControllerState.DEAD) {
            states.changeState(ControllerState.DELETING, reason);
        }
        teardown(reason);
        held.failAll();
        states.changeState(ControllerState.DEAD, reason);
    }

    /** Disconnect: CC.SHN when LIVE, then every queue closes. Completes when DEAD. Any thread. */
    CompletableFuture<Void> shutdown() {
        mgmt.eventLoop().execute(() -> {
            ControllerState s = states.state();
            if (s == ControllerState.DELETING || s == ControllerState.DEAD) {
                return;
            }
            boolean wasLive = s == ControllerState.LIVE;
            reconnect.cancel();
            states.changeState(ControllerState.DELETING, "disconnect");
            keepAlive.stop();
            reauthentication.stop();
            if (!wasLive || association.adminQueue() == null) {
                delete("disconnect");
                return;
            }
            association.closeIoQueues("disconnect");
            association.notifyShutdown().whenCompleteAsync((v, err) -> {
                if (err != null) {
                    log.debug("{}: shutdown notification incomplete: {}", controller, unwrap(err).getMessage());
                }
                delete("disconnect");
            }, mgmt.eventLoop());
        });
        return states.deadFuture();
    }
}
