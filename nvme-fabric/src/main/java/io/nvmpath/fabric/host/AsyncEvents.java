package io.nvmpath.fabric.host;

import io.nvmpath.fabric.nvme.AsyncEvent;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;

import static io.nvmpath.fabric.host.CommandFutures.unwrap;

/**
 * Asynchronous events: the notices this host understands (namespace attribute, ANA change, discovery
 * change) enabled as far as the controller supports them (OAES, Set Features 0Bh), and one
 * Asynchronous Event Request kept outstanding per association, re-armed as each completes and its
 * event handed to the listeners (Linux {@code nvme_enable_aen}, {@code nvme_complete_async_event}).
 * Reading the log page a notice points to is the listener's business: it knows why it cares.
 *
 * <p>On the management loop.
 */
final class AsyncEvents {
    /** Logged under the controller's name: these lines are about it. */
    private static final Logger log = LoggerFactory.getLogger(Controller.class);

    private final Controller controller;
    private final ManagementLoop mgmt;
    private final Association association;
    private final ControllerListeners listeners;

    AsyncEvents(Controller controller, ManagementLoop mgmt, Association association, ControllerListeners listeners) {
        this.controller = controller;
        this.mgmt = mgmt;
        this.association = association;
        this.listeners = listeners;
    }

    /** The last step of set-up: enables the supported notices; a refusal is logged, not fatal. */
    CompletableFuture<Void> configure() {
        IdentifyController id = association.identity();
        int cfg = (int) (id.oaes() & (AsyncEvent.CFG_NS_ATTR | AsyncEvent.CFG_ANA_CHANGE
                | AsyncEvent.CFG_CCR_COMPLETED | (AsyncEvent.CFG_DISCOVERY_CHANGE & 0xFFFFFFFFL)));
        CompletableFuture<?> f = cfg == 0 ? CompletableFuture.completedFuture(null)
                : association.internalAdmin(Commands.setFeatures(Opcodes.FEAT_ASYNC_EVENT, cfg),
                        "Set Features Async Event Configuration")
                .exceptionally(e -> {
                    log.warn("{}: async event configuration refused: {}", controller, unwrap(e).getMessage());
                    return null;
                });
        return f.thenApply(x -> null);
    }

    /** Arms one Asynchronous Event Request for the current association, once it is LIVE. */
    void arm() {
        arm(association.generation());
    }

    private void arm(int gen) {
        HostQueue q = association.adminQueue();
        if (q == null || !association.isCurrent(gen)) {
            return;
        }
        NvmeRequest aer = Commands.asyncEventRequest();
        aer.callback(done -> mgmt.execute(() -> {
            if (done.ok()) {
                AsyncEvent ev = AsyncEvent.fromResult(done.result0());
                log.debug("{}: asynchronous event: {}", controller, ev);
                arm(gen);
                listeners.asyncEvent(controller, ev);
            } else if (Status.code(done.status()) != Status.HOST_ABORTED_CMD
                    && Status.code(done.status()) != Status.HOST_PATH_ERROR) {
                log.warn("{}: Asynchronous Event Request failed: {}; events are off until reconnect",
                        controller, done.describeStatus());
            }
        }));
        q.submit(aer);
    }
}
