package io.nvmpath.multipath;

import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.Status;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.nvmpath.multipath.HeadHarness.io;
import static org.assertj.core.api.Assertions.assertThat;

/** I/O while no path is usable: it waits (bounded in time and bytes) or fails at once. */
class NoPathRequeueTest {
    private static final Duration NO_PATH_TIMEOUT = Duration.ofSeconds(5);

    private static HeadHarness harness() {
        return new HeadHarness(MultipathOptions.defaults().withNoPathTimeout(NO_PATH_TIMEOUT));
    }

    @Test
    void should_hold_io_while_every_controller_reconnects_and_send_it_when_one_is_live_again() {
        HeadHarness h = harness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.NON_OPTIMIZED);
        io(a).state = ControllerState.RESETTING;
        io(b).state = ControllerState.CONNECTING;
        h.changed();

        List<HeadHarness.UserIo> waiting = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            waiting.add(h.read());
        }
        h.advance(Duration.ofSeconds(1));
        h.head.expire();

        assertThat(waiting).allSatisfy(u -> assertThat(u.callbacks).isZero());
        assertThat(h.head.queuedCount()).isEqualTo(3);
        assertThat(h.head.queuedBytes()).isEqualTo(3 * 8 * HeadHarness.LBA);
        assertThat(h.head.noPathWaits.sum()).isEqualTo(3);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 0), Map.entry("b", 0));

        io(b).state = ControllerState.LIVE;
        h.changed();

        assertThat(h.head.queuedCount()).isZero();
        assertThat(h.head.queuedBytes()).isZero();
        assertThat(io(b).submitted).as("in the order they were submitted")
                .containsExactly(waiting.get(0).request, waiting.get(1).request, waiting.get(2).request);
        io(b).succeedAll();
        assertThat(waiting).allSatisfy(u -> {
            assertThat(u.callbacks).isEqualTo(1);
            assertThat(u.status).isEqualTo(Status.SUCCESS);
        });
        assertThat(h.head.noPathFailures.sum()).isZero();
    }

    @Test
    void should_send_waiting_io_on_the_next_kick_even_without_a_state_change_notice() {
        HeadHarness h = harness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        io(a).state = ControllerState.RESETTING;
        h.changed();
        HeadHarness.UserIo u = h.read();
        assertThat(h.head.queuedCount()).isEqualTo(1);

        io(a).state = ControllerState.LIVE;
        h.head.kick(); // the manager's 100 ms tick

        assertThat(io(a).submitted).containsExactly(u.request);
        io(a).succeedAll();
        assertThat(u.status).isEqualTo(Status.SUCCESS);
    }

    @Test
    void should_fail_waiting_io_with_host_path_error_naming_no_path_timeout_once_it_expires() {
        HeadHarness h = harness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        io(a).state = ControllerState.RESETTING;
        h.changed();
        HeadHarness.UserIo early = h.read();
        h.advance(Duration.ofSeconds(2));
        HeadHarness.UserIo late = h.read();

        h.advance(NO_PATH_TIMEOUT.minusSeconds(2).minusMillis(1));
        h.head.expire();
        assertThat(early.callbacks).isZero();

        h.advance(Duration.ofMillis(1));
        h.head.expire();
        assertThat(early.callbacks).isEqualTo(1);
        assertThat(early.status).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(early.error).contains("Host Pathing Error").contains("no_path_timeout")
                .contains("namespace 1 of " + HeadHarness.NQN);
        assertThat(late.callbacks).as("waited only 3 s").isZero();
        assertThat(h.head.queuedCount()).isEqualTo(1);

        h.advance(Duration.ofSeconds(2));
        h.head.expire();
        assertThat(late.status).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(h.head.queuedCount()).isZero();
        assertThat(h.head.queuedBytes()).isZero();
        assertThat(h.head.noPathFailures.sum()).isEqualTo(2);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 0));
    }

    @Test
    void should_queue_forever_without_a_no_path_timeout() {
        HeadHarness h = new HeadHarness(MultipathOptions.defaults().withNoPathTimeout(null));
        Path a = h.path("a", AnaState.OPTIMIZED);
        io(a).state = ControllerState.CONNECTING;
        h.changed();
        HeadHarness.UserIo u = h.read();

        h.advance(Duration.ofDays(1));
        h.head.expire();

        assertThat(u.callbacks).isZero();
        assertThat(h.head.queuedCount()).isEqualTo(1);
    }

    @Test
    void should_fail_at_once_when_every_controller_is_dead() {
        HeadHarness h = harness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.NON_OPTIMIZED);
        io(a).state = ControllerState.DEAD;
        io(b).state = ControllerState.DELETING;
        h.changed();

        HeadHarness.UserIo u = h.read();

        assertThat(u.callbacks).isEqualTo(1);
        assertThat(u.status).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(u.error).contains("no controller left that could come back");
        assertThat(h.head.queuedCount()).isZero();
        assertThat(h.head.noPathFailures.sum()).isEqualTo(1);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 0), Map.entry("b", 0));
    }

    @Test
    void should_fail_what_waits_once_the_last_controller_that_could_come_back_is_dead() {
        HeadHarness h = harness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        io(a).state = ControllerState.RESETTING;
        h.changed();
        HeadHarness.UserIo u = h.read();
        assertThat(u.callbacks).isZero();

        io(a).state = ControllerState.DEAD;
        h.changed();
        h.head.expire(); // the next tick, well before the no-path timeout

        assertThat(u.status).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(u.error).contains("no controller left that could come back");
    }

    @Test
    void should_keep_waiting_while_the_only_live_path_is_ana_inaccessible() {
        HeadHarness h = harness();
        Path a = h.path("a", AnaState.INACCESSIBLE);

        HeadHarness.UserIo u = h.read();

        assertThat(u.callbacks).isZero();
        assertThat(h.head.queuedCount()).isEqualTo(1);
        a.anaState = AnaState.OPTIMIZED;
        h.changed();
        assertThat(io(a).submitted).containsExactly(u.request);
        io(a).succeedAll();
        assertThat(u.status).isEqualTo(Status.SUCCESS);
    }

    @Test
    void should_fail_io_at_once_with_a_clear_message_when_the_requeue_byte_limit_is_reached() {
        long limit = 16 * 1024;
        HeadHarness h = new HeadHarness(MultipathOptions.defaults().withNoPathTimeout(NO_PATH_TIMEOUT)
                .withRequeueLimitBytes(limit));
        Path a = h.path("a", AnaState.OPTIMIZED);
        io(a).state = ControllerState.RESETTING;
        h.changed();

        HeadHarness.UserIo first = h.read(16); // 8 KiB
        HeadHarness.UserIo second = h.read(16); // 8 KiB: exactly at the limit
        HeadHarness.UserIo third = h.read(1); // 512 B more: over

        assertThat(first.callbacks + second.callbacks).isZero();
        assertThat(h.head.queuedBytes()).isEqualTo(limit);
        assertThat(third.callbacks).as("backpressure: at once, not queued").isEqualTo(1);
        assertThat(third.status).isEqualTo(Status.INTERNAL | Status.DNR);
        assertThat(third.error).contains("no usable path").contains(limit + " bytes");
        assertThat(h.head.queuedCount()).isEqualTo(2);
        assertThat(h.head.noPathFailures.sum()).isEqualTo(1);

        io(a).state = ControllerState.LIVE;
        h.changed();
        io(a).succeedAll();
        assertThat(first.status).isEqualTo(Status.SUCCESS);
        assertThat(second.status).isEqualTo(Status.SUCCESS);
        assertThat(io(a).submitted).doesNotContain(third.request);
        assertThat(h.head.queuedBytes()).isZero();
    }

    @Test
    void should_requeue_a_failed_over_request_when_its_only_other_path_is_down_too() {
        HeadHarness h = harness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.NON_OPTIMIZED);
        io(b).state = ControllerState.RESETTING;
        h.changed();
        HeadHarness.UserIo u = h.read();

        io(a).state = ControllerState.RESETTING;
        io(a).completeNext(Status.HOST_ABORTED_CMD);
        h.sched.runDue();
        assertThat(u.callbacks).isZero();
        assertThat(h.head.queuedCount()).isEqualTo(1);

        io(a).state = ControllerState.LIVE;
        h.changed();
        assertThat(io(a).submitted).containsExactly(u.request, u.request);
        io(a).succeedAll();
        assertThat(u.callbacks).isEqualTo(1);
        assertThat(u.status).isEqualTo(Status.SUCCESS);
    }

    @Test
    void should_hold_io_on_a_head_in_delayed_removal_until_it_expires() {
        HeadHarness h = new HeadHarness(MultipathOptions.defaults().withNoPathTimeout(null)
                .withDelayedRemoval(Duration.ofSeconds(10)));
        Path a = h.path("a", AnaState.OPTIMIZED);
        io(a).state = ControllerState.DEAD;
        h.head.removePath(a);
        h.head.removeAtNanos = (h.sched.nanoTime() + Duration.ofSeconds(10).toNanos()) | 1; // as Multipath.headMayGo

        HeadHarness.UserIo u = h.submit(Commands.flush(1));
        h.advance(Duration.ofSeconds(9));
        h.head.expire();
        assertThat(u.callbacks).isZero();
        assertThat(h.head.queuedCount()).isEqualTo(1);

        h.advance(Duration.ofMillis(1001));
        h.head.expire();
        assertThat(u.callbacks).isEqualTo(1);
        assertThat(u.status).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(u.error).contains("no controller left");
    }
}
