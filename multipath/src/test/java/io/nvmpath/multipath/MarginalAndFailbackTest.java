package io.nvmpath.multipath;

import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.nvme.AnaState;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static io.nvmpath.multipath.HeadHarness.io;
import static org.assertj.core.api.Assertions.assertThat;

/** Paths that come back: marginal damping of flapping paths, and the failback modes. */
class MarginalAndFailbackTest {
    private static final Duration WINDOW = Duration.ofSeconds(10);
    private static final Duration HOLD = Duration.ofSeconds(30);

    private static HeadHarness marginal() {
        return new HeadHarness(MultipathOptions.defaults().withMarginal(3, WINDOW, HOLD));
    }

    private static HeadHarness failback(FailbackMode mode, Duration delay) {
        return new HeadHarness(MultipathOptions.defaults().withFailback(mode, delay));
    }

    /** The controller resets and reconnects, each step reported to the head, {@code gap} apart. */
    private static void flap(HeadHarness h, Path p, Duration gap) {
        io(p).state = ControllerState.RESETTING;
        h.changed();
        h.advance(gap);
        io(p).state = ControllerState.LIVE;
        h.changed();
    }

    private static void down(HeadHarness h, Path p) {
        io(p).state = ControllerState.RESETTING;
        h.changed();
    }

    private static void up(HeadHarness h, Path p) {
        io(p).state = ControllerState.LIVE;
        h.changed();
    }

    // ---- marginal damping -----------------------------------------------------------------------

    @Test
    void should_hold_back_a_path_that_failed_marginal_failures_times_within_the_window() {
        HeadHarness h = marginal();
        Path flappy = h.path("flappy", AnaState.OPTIMIZED);
        h.path("steady", AnaState.NON_OPTIMIZED);

        flap(h, flappy, Duration.ofSeconds(1));
        flap(h, flappy, Duration.ofSeconds(1));
        assertThat(flappy.marginal()).as("two failures are not enough").isFalse();
        flap(h, flappy, Duration.ofSeconds(1));

        assertThat(flappy.usable()).isTrue();
        assertThat(flappy.marginal()).isTrue();
        assertThat(flappy.heldBack()).isTrue();
        assertThat(flappy.tier()).as("optimized + 2").isEqualTo(2);
        assertThat(flappy.failures).isEqualTo(3);
        assertThat(flappy.marginalHolds).isEqualTo(1);
        h.readsCompletedAtOnce(5);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("flappy", 0), Map.entry("steady", 5));
        assertThat(h.head.view().paths().get(0).marginal()).isTrue();
    }

    @Test
    void should_use_a_held_back_path_only_when_nothing_else_is_usable() {
        HeadHarness h = marginal();
        Path flappy = h.path("flappy", AnaState.OPTIMIZED);
        Path steady = h.path("steady", AnaState.NON_OPTIMIZED);
        for (int i = 0; i < 3; i++) {
            flap(h, flappy, Duration.ofSeconds(1));
        }

        down(h, steady);
        h.readsCompletedAtOnce(4);
        assertThat(h.sentPerPath()).as("last resort").containsExactly(Map.entry("flappy", 4), Map.entry("steady", 0));

        up(h, steady);
        h.readsCompletedAtOnce(4);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("flappy", 4), Map.entry("steady", 4));
    }

    @Test
    void should_use_a_marginal_path_again_after_the_hold_time() {
        HeadHarness h = marginal();
        Path flappy = h.path("flappy", AnaState.OPTIMIZED);
        h.path("steady", AnaState.NON_OPTIMIZED);
        for (int i = 0; i < 3; i++) {
            flap(h, flappy, Duration.ofSeconds(1));
        }
        h.readsCompletedAtOnce(2);

        // held from the third failure, which was 1 s ago
        h.advance(HOLD.minusSeconds(1).minusMillis(1));
        h.readsCompletedAtOnce(2);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("flappy", 0), Map.entry("steady", 4));

        h.advance(Duration.ofMillis(1));
        h.tick(); // no state change needed: the manager's next tick sees the hold run out
        h.readsCompletedAtOnce(2);
        assertThat(flappy.marginal()).isFalse();
        assertThat(flappy.tier()).isZero();
        assertThat(h.sentPerPath()).containsExactly(Map.entry("flappy", 2), Map.entry("steady", 4));
    }

    @Test
    void should_not_hold_back_a_path_whose_failures_are_spread_beyond_the_window() {
        HeadHarness h = marginal();
        Path p = h.path("p", AnaState.OPTIMIZED);
        h.path("other", AnaState.NON_OPTIMIZED);

        for (int i = 0; i < 6; i++) {
            flap(h, p, Duration.ofSeconds(1));
            h.advance(Duration.ofSeconds(5)); // 3 failures always span 12 s > 10 s
        }

        assertThat(p.failures).isEqualTo(6);
        assertThat(p.marginal()).isFalse();
        assertThat(p.marginalHolds).isZero();
        h.readsCompletedAtOnce(2);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("p", 2), Map.entry("other", 0));
    }

    @Test
    void should_not_count_ana_flips_as_path_failures_so_the_target_can_move_io_without_marking_a_path_marginal() {
        HeadHarness h = marginal();
        Path p = h.path("p", AnaState.OPTIMIZED);
        h.path("other", AnaState.NON_OPTIMIZED);

        for (int i = 0; i < 3; i++) {
            p.anaState = AnaState.INACCESSIBLE;
            h.changed();
            h.advance(Duration.ofSeconds(1));
            p.anaState = AnaState.OPTIMIZED;
            h.changed();
        }

        // ANA state is the target's decision, not a flapping link: the path is used again at once
        assertThat(p.failures).isZero();
        assertThat(p.marginal()).isFalse();
        assertThat(h.head.select()).isSameAs(p);
    }

    // ---- failback -------------------------------------------------------------------------------

    @Test
    void should_fail_back_to_the_optimized_path_as_soon_as_it_is_usable_with_immediate_failback() {
        HeadHarness h = failback(FailbackMode.IMMEDIATE, Duration.ofSeconds(10));
        Path opt = h.path("opt", AnaState.OPTIMIZED);
        h.path("nonopt", AnaState.NON_OPTIMIZED);
        h.readsCompletedAtOnce(2);

        down(h, opt);
        h.readsCompletedAtOnce(2);
        up(h, opt);
        h.readsCompletedAtOnce(2);

        assertThat(opt.heldBack()).isFalse();
        assertThat(h.sentPerPath()).containsExactly(Map.entry("opt", 4), Map.entry("nonopt", 2));
    }

    @Test
    void should_fail_back_only_after_the_failback_delay_with_delayed_failback() {
        Duration delay = Duration.ofSeconds(10);
        HeadHarness h = failback(FailbackMode.DELAYED, delay);
        Path opt = h.path("opt", AnaState.OPTIMIZED);
        h.path("nonopt", AnaState.NON_OPTIMIZED);
        down(h, opt);
        h.readsCompletedAtOnce(2);

        up(h, opt);
        assertThat(opt.usable()).isTrue();
        assertThat(opt.heldBack()).isTrue();
        h.readsCompletedAtOnce(2);
        h.advance(delay.minusMillis(1));
        h.readsCompletedAtOnce(2);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("opt", 0), Map.entry("nonopt", 6));

        h.advance(Duration.ofMillis(1));
        h.tick();
        h.readsCompletedAtOnce(2);
        assertThat(opt.heldBack()).isFalse();
        assertThat(h.sentPerPath()).containsExactly(Map.entry("opt", 2), Map.entry("nonopt", 6));
    }

    @Test
    void should_fail_back_only_on_the_operators_call_with_manual_failback() {
        HeadHarness h = failback(FailbackMode.MANUAL, Duration.ofSeconds(10));
        Path opt = h.path("opt", AnaState.OPTIMIZED);
        h.path("nonopt", AnaState.NON_OPTIMIZED);
        h.readsCompletedAtOnce(1);
        down(h, opt);
        up(h, opt);

        h.advance(Duration.ofDays(7));
        h.readsCompletedAtOnce(3);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("opt", 1), Map.entry("nonopt", 3));

        // what Multipath.failback(nqn) does on its executor
        for (Path p : h.head.paths()) {
            p.failbackNow();
        }
        h.changed();
        h.readsCompletedAtOnce(3);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("opt", 4), Map.entry("nonopt", 3));
    }

    @Test
    void should_still_use_a_path_waiting_for_manual_failback_when_nothing_else_is_usable() {
        HeadHarness h = failback(FailbackMode.MANUAL, Duration.ofSeconds(10));
        Path opt = h.path("opt", AnaState.OPTIMIZED);
        Path nonOpt = h.path("nonopt", AnaState.NON_OPTIMIZED);
        down(h, opt);
        up(h, opt);
        down(h, nonOpt);

        HeadHarness.UserIo u = h.read();

        assertThat(NamespaceHead.pathOf(u.request)).isSameAs(opt);
        assertThat(h.head.queuedCount()).isZero();
    }

    @Test
    void should_use_paths_present_from_the_start_at_once_whatever_the_failback_mode() {
        for (FailbackMode mode : FailbackMode.values()) {
            HeadHarness h = failback(mode, Duration.ofSeconds(10));
            Path opt = h.path("opt", AnaState.OPTIMIZED);
            h.path("nonopt", AnaState.NON_OPTIMIZED);

            h.readsCompletedAtOnce(2);

            assertThat(opt.heldBack()).as(mode.name()).isFalse();
            assertThat(h.sentPerPath()).as(mode.name()).containsExactly(Map.entry("opt", 2), Map.entry("nonopt", 0));
        }
    }
}
