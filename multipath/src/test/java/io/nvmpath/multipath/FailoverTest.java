package io.nvmpath.multipath;

import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.Status;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static io.nvmpath.multipath.HeadHarness.io;
import static org.assertj.core.api.Assertions.assertThat;

/** What the head does with a failed completion: fail over, retry, or give it to the caller. */
class FailoverTest {

    @Test
    void should_fail_over_the_same_request_to_the_other_path_when_its_controller_aborts_it() {
        HeadHarness h = new HeadHarness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.NON_OPTIMIZED);
        HeadHarness.UserIo u = h.read();
        assertThat(io(a).submitted).containsExactly(u.request);

        io(a).state = ControllerState.RESETTING; // a reset aborts what was in flight
        io(a).completeNext(Status.HOST_ABORTED_CMD);
        assertThat(u.callbacks).as("the failure is not the caller's").isZero();
        h.sched.runDue();

        assertThat(io(b).submitted).hasSize(1);
        assertThat(io(b).submitted.get(0)).as("the same object, no copy").isSameAs(u.request);
        assertThat(u.callbacks).isZero();

        io(b).completeNext(Status.SUCCESS);
        assertThat(u.callbacks).isEqualTo(1);
        assertThat(u.status).isEqualTo(Status.SUCCESS);
        assertThat(u.completedOn).isSameAs(b);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 1), Map.entry("b", 1));
        assertThat(h.head.failovers.sum()).isEqualTo(1);
        assertThat(a.failoversFrom.sum()).isEqualTo(1);
        assertThat(b.failoversFrom.sum()).isZero();
    }

    @Test
    void should_not_send_a_failed_over_request_back_to_a_path_whose_transport_just_aborted_it() {
        HeadHarness h = new HeadHarness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.NON_OPTIMIZED);
        HeadHarness.UserIo u = h.read();

        // the connection dropped: commands are aborted while the controller is still LIVE for a moment
        io(a).completeNext(Status.HOST_ABORTED_CMD);
        h.sched.runDue();
        assertThat(io(b).submitted).as("not bounced back to the dying path").containsExactly(u.request);
        assertThat(a.heldBack()).isTrue();

        // once its controller has left LIVE and come back, the path is used again at once
        io(a).state = ControllerState.RESETTING;
        h.changed();
        io(a).state = ControllerState.LIVE;
        h.changed();
        assertThat(a.heldBack()).isFalse();
        assertThat(h.head.select()).isSameAs(a);
    }

    @Test
    void should_fail_over_to_non_optimized_path_when_optimized_goes_inaccessible() {
        HeadHarness h = new HeadHarness();
        Path opt = h.path("opt", AnaState.OPTIMIZED);
        Path nonOpt = h.path("nonopt", AnaState.NON_OPTIMIZED);
        HeadHarness.UserIo u = h.read();

        io(opt).completeNext(Status.ANA_INACCESSIBLE); // the controller is still LIVE
        h.sched.runDue();

        assertThat(opt.anaPending).as("ANA pending until the log is read again").isTrue();
        assertThat(opt.usable()).isFalse();
        assertThat(opt.anaState()).as("the state itself comes from the ANA log only").isEqualTo(AnaState.OPTIMIZED);
        assertThat(io(nonOpt).submitted).containsExactly(u.request);
        io(nonOpt).succeedAll();
        assertThat(u.callbacks).isEqualTo(1);
        assertThat(u.status).isEqualTo(Status.SUCCESS);

        h.readsCompletedAtOnce(3);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("opt", 1), Map.entry("nonopt", 4));
    }

    @Test
    void should_give_the_caller_the_path_error_once_failovers_are_exhausted() {
        HeadHarness h = new HeadHarness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.OPTIMIZED);
        HeadHarness.UserIo u = h.read();

        // a controller pathing error leaves both paths usable: the request bounces until the limit
        int sent = 0;
        while (!u.done()) {
            Path on = NamespaceHead.pathOf(u.request);
            io(on).completeNext(Status.CTRL_PATH_ERROR);
            h.sched.runDue();
            sent++;
            assertThat(sent).isLessThanOrEqualTo(h.options.maxFailovers() + 1);
        }

        assertThat(sent).isEqualTo(h.options.maxFailovers() + 1);
        assertThat(u.callbacks).isEqualTo(1);
        assertThat(u.status).isEqualTo(Status.CTRL_PATH_ERROR);
        assertThat(u.error).contains("Controller Pathing Error");
        assertThat(h.head.failovers.sum()).isEqualTo(h.options.maxFailovers());
        assertThat(io(a).submitted.size() + io(b).submitted.size()).isEqualTo(h.options.maxFailovers() + 1);
    }

    @Test
    void should_give_the_caller_a_media_error_without_retry_or_failover() {
        HeadHarness h = new HeadHarness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        h.path("b", AnaState.NON_OPTIMIZED);
        HeadHarness.UserIo u = h.read();

        io(a).completeNext(Status.READ_ERROR);
        h.sched.runDue();

        assertThat(u.callbacks).isEqualTo(1);
        assertThat(u.status).isEqualTo(Status.READ_ERROR);
        assertThat(u.error).contains("Unrecovered Read Error");
        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 1), Map.entry("b", 0));
        assertThat(h.head.failovers.sum() + h.head.retries.sum()).isZero();
    }

    @Test
    void should_retry_on_the_same_path_after_the_command_retry_delay() {
        HeadHarness h = new HeadHarness(MultipathOptions.defaults().withIoPolicy(IoPolicy.ROUND_ROBIN));
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.OPTIMIZED);
        io(a).crdtMillis = new long[] {0, 250, 1000, 5000};
        io(b).crdtMillis = io(a).crdtMillis;
        HeadHarness.UserIo u = h.read();
        Path first = NamespaceHead.pathOf(u.request);

        io(first).completeNext(Status.INTERNAL | (1 << 11)); // CRD 1
        assertThat(io(first).crdAsked).containsExactly(1);
        h.advance(Duration.ofMillis(249));
        assertThat(h.sentPerPath().values()).as("not before CRDT1").containsExactlyInAnyOrder(1, 0);

        h.advance(Duration.ofMillis(1));
        assertThat(io(first).submitted).as("same path, though round-robin would move on")
                .containsExactly(u.request, u.request);
        assertThat(u.callbacks).isZero();
        io(first).completeNext(Status.SUCCESS);

        assertThat(u.callbacks).isEqualTo(1);
        assertThat(u.status).isEqualTo(Status.SUCCESS);
        assertThat(h.head.retries.sum()).isEqualTo(1);
        assertThat(h.head.failovers.sum()).isZero();
        assertThat(io(first == a ? b : a).submitted).isEmpty();
    }

    @Test
    void should_give_the_caller_the_error_when_retries_are_exhausted() {
        HeadHarness h = new HeadHarness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        HeadHarness.UserIo u = h.read();

        for (int i = 0; i < h.options.maxRetries(); i++) {
            io(a).completeNext(Status.INTERNAL);
            assertThat(u.callbacks).isZero();
            h.sched.runDue();
        }
        io(a).completeNext(Status.INTERNAL);

        assertThat(u.callbacks).isEqualTo(1);
        assertThat(u.status).isEqualTo(Status.INTERNAL);
        assertThat(u.error).contains("Internal Error");
        assertThat(io(a).submitted).hasSize(h.options.maxRetries() + 1);
        assertThat(h.head.retries.sum()).isEqualTo(h.options.maxRetries());
    }

    @Test
    void should_retry_elsewhere_when_the_path_went_away_during_the_retry_delay() {
        HeadHarness h = new HeadHarness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.NON_OPTIMIZED);
        io(a).crdtMillis = new long[] {0, 100, 0, 0};
        HeadHarness.UserIo u = h.read();

        io(a).completeNext(Status.INTERNAL | (1 << 11));
        io(a).state = ControllerState.RESETTING;
        h.changed();
        h.advance(Duration.ofMillis(100));

        assertThat(io(b).submitted).containsExactly(u.request);
        io(b).succeedAll();
        assertThat(u.callbacks).isEqualTo(1);
        assertThat(u.status).isEqualTo(Status.SUCCESS);
    }

    @Test
    void should_reset_the_failover_budget_for_each_new_submission() {
        HeadHarness h = new HeadHarness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        h.path("b", AnaState.OPTIMIZED);
        HeadHarness.UserIo u = h.read();
        io(a).completeNext(Status.CTRL_PATH_ERROR);
        h.sched.runDue();
        Path on = NamespaceHead.pathOf(u.request);
        io(on).completeNext(Status.SUCCESS);
        assertThat(((HeadRequest) u.request.interceptor()).failovers).as("failovers are counted per submission").isOne();

        // the caller reuses the request object for its next I/O
        u.callbacks = 0;
        h.head.submit(u.request);
        assertThat(((HeadRequest) u.request.interceptor()).failovers).isZero();
    }
}
