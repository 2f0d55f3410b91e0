package io.nvmpath.multipath;

import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.nvme.AnaState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static io.nvmpath.multipath.HeadHarness.io;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Which path each iopolicy picks, over scripted controllers. */
class PathSelectionTest {

    private static HeadHarness with(IoPolicy policy) {
        return new HeadHarness(MultipathOptions.defaults().withIoPolicy(policy));
    }

    // ---- numa / first ---------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(value = IoPolicy.class, names = {"NUMA", "FIRST"})
    void should_stick_to_the_first_optimized_path(IoPolicy policy) {
        HeadHarness h = with(policy);
        h.path("nonopt", AnaState.NON_OPTIMIZED);
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.OPTIMIZED);

        h.readsCompletedAtOnce(20);

        assertThat(h.sentPerPath()).containsExactly(Map.entry("nonopt", 0), Map.entry("a", 20), Map.entry("b", 0));
        assertThat(h.head.choice()).containsExactly(a);
        assertThat(b.usable()).isTrue();
    }

    @ParameterizedTest
    @EnumSource(value = IoPolicy.class, names = {"NUMA", "FIRST"})
    void should_keep_the_sticky_path_until_paths_changed_then_choose_again(IoPolicy policy) {
        HeadHarness h = with(policy);
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.OPTIMIZED);
        io(a).state = ControllerState.RESETTING;
        h.changed();
        h.readsCompletedAtOnce(3);
        assertThat(h.head.choice()).containsExactly(b);

        io(a).state = ControllerState.LIVE; // back, but nobody told the head yet
        h.readsCompletedAtOnce(3);
        assertThat(h.sentPerPath()).as("sticky: still b").containsExactly(Map.entry("a", 0), Map.entry("b", 6));

        h.changed();
        h.readsCompletedAtOnce(3);
        assertThat(h.sentPerPath()).as("re-evaluated: the first optimized path again")
                .containsExactly(Map.entry("a", 3), Map.entry("b", 6));
    }

    @Test
    void should_prefer_optimized_to_non_optimized_and_use_non_optimized_only_when_no_optimized_is_usable() {
        HeadHarness h = with(IoPolicy.NUMA);
        h.path("nonopt", AnaState.NON_OPTIMIZED);
        Path opt = h.path("opt", AnaState.OPTIMIZED);
        h.readsCompletedAtOnce(5);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("nonopt", 0), Map.entry("opt", 5));

        opt.anaState = AnaState.INACCESSIBLE;
        h.changed();
        h.readsCompletedAtOnce(5);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("nonopt", 5), Map.entry("opt", 5));

        opt.anaState = AnaState.OPTIMIZED;
        h.changed();
        h.readsCompletedAtOnce(5);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("nonopt", 5), Map.entry("opt", 10));
    }

    /** Everything that makes a path unusable, one at a time. */
    enum Unusable {
        ANA_INACCESSIBLE(p -> p.anaState = AnaState.INACCESSIBLE),
        ANA_PERSISTENT_LOSS(p -> p.anaState = AnaState.PERSISTENT_LOSS),
        ANA_CHANGE(p -> p.anaState = AnaState.CHANGE),
        ANA_PENDING(p -> p.anaPending = true),
        CONTROLLER_NEW(p -> io(p).state = ControllerState.NEW),
        CONTROLLER_CONNECTING(p -> io(p).state = ControllerState.CONNECTING),
        CONTROLLER_RESETTING(p -> io(p).state = ControllerState.RESETTING),
        CONTROLLER_DELETING(p -> io(p).state = ControllerState.DELETING),
        CONTROLLER_DEAD(p -> io(p).state = ControllerState.DEAD),
        REMOVED_FROM_HEAD(p -> p.removed = true);

        final Consumer<Path> apply;

        Unusable(Consumer<Path> apply) {
            this.apply = apply;
        }
    }

    @ParameterizedTest
    @EnumSource(Unusable.class)
    void should_never_send_to_an_unusable_optimized_path_under_any_iopolicy(Unusable why) {
        for (IoPolicy policy : IoPolicy.values()) {
            HeadHarness h = with(policy);
            Path opt = h.path("opt", AnaState.OPTIMIZED);
            h.path("nonopt", AnaState.NON_OPTIMIZED);
            why.apply.accept(opt);
            h.changed();

            h.readsCompletedAtOnce(10);

            assertThat(opt.usable()).isFalse();
            assertThat(h.sentPerPath()).as(policy.label())
                    .containsExactly(Map.entry("opt", 0), Map.entry("nonopt", 10));
        }
    }

    // ---- round-robin ----------------------------------------------------------------------------

    @Test
    void should_use_every_optimized_path_and_never_a_non_optimized_one_under_round_robin() {
        HeadHarness h = with(IoPolicy.ROUND_ROBIN);
        h.path("a", AnaState.OPTIMIZED);
        h.path("nonopt", AnaState.NON_OPTIMIZED);
        h.path("b", AnaState.OPTIMIZED);
        h.path("c", AnaState.OPTIMIZED);

        h.readsCompletedAtOnce(60);

        Map<String, Integer> sent = h.sentPerPath();
        assertThat(sent.get("nonopt")).isZero();
        assertThat(sent.get("a") + sent.get("b") + sent.get("c")).isEqualTo(60);
        assertThat(sent.values().stream().filter(n -> n > 0)).hasSize(3);
    }

    @Test
    void should_alternate_strictly_between_two_optimized_paths_under_round_robin() {
        HeadHarness h = with(IoPolicy.ROUND_ROBIN);
        h.path("a", AnaState.OPTIMIZED);
        h.path("b", AnaState.OPTIMIZED);

        List<Object> routes = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            routes.add(NamespaceHead.pathOf(h.read().request));
        }

        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 5), Map.entry("b", 5));
        for (int i = 1; i < routes.size(); i++) {
            assertThat(routes.get(i)).as("I/O %d", i).isNotSameAs(routes.get(i - 1));
        }
    }

    @Test
    void should_split_evenly_among_optimized_paths_when_a_non_optimized_one_is_between_them() {
        HeadHarness h = with(IoPolicy.ROUND_ROBIN);
        h.path("a", AnaState.OPTIMIZED);
        h.path("b", AnaState.OPTIMIZED);
        h.path("nonopt", AnaState.NON_OPTIMIZED);

        h.readsCompletedAtOnce(90);

        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 45), Map.entry("b", 45), Map.entry("nonopt", 0));
    }

    @Test
    void should_split_evenly_among_the_usable_optimized_paths_when_one_is_down() {
        HeadHarness h = with(IoPolicy.ROUND_ROBIN);
        h.path("a", AnaState.OPTIMIZED);
        Path down = h.path("down", AnaState.OPTIMIZED);
        h.path("b", AnaState.OPTIMIZED);
        io(down).state = ControllerState.RESETTING;
        h.changed();

        h.readsCompletedAtOnce(90);

        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 45), Map.entry("down", 0), Map.entry("b", 45));
    }

    @Test
    void should_round_robin_among_non_optimized_paths_when_no_optimized_is_usable() {
        HeadHarness h = with(IoPolicy.ROUND_ROBIN);
        Path opt = h.path("opt", AnaState.OPTIMIZED);
        h.path("n1", AnaState.NON_OPTIMIZED);
        h.path("n2", AnaState.NON_OPTIMIZED);
        opt.anaState = AnaState.INACCESSIBLE;
        h.changed();

        h.readsCompletedAtOnce(30);

        assertThat(h.sentPerPath().get("opt")).isZero();
        assertThat(h.sentPerPath().get("n1") + h.sentPerPath().get("n2")).isEqualTo(30);
        assertThat(h.sentPerPath().get("n1")).isPositive();
        assertThat(h.sentPerPath().get("n2")).isPositive();
    }

    // ---- queue-depth and service-time -----------------------------------------------------------

    @Test
    void should_pick_the_path_with_fewest_commands_in_flight_under_queue_depth() {
        HeadHarness h = with(IoPolicy.QUEUE_DEPTH);
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.OPTIMIZED);
        Path c = h.path("c", AnaState.OPTIMIZED);
        h.path("nonopt", AnaState.NON_OPTIMIZED);
        io(a).otherInFlight = 5;
        io(b).otherInFlight = 1;
        io(c).otherInFlight = 3;

        HeadHarness.UserIo first = h.read();
        assertThat(NamespaceHead.pathOf(first.request)).isSameAs(b);

        for (int i = 0; i < 8; i++) {
            h.read(); // nothing completes: each one adds to the depth of the path it went to
        }
        // depths level out at 6 each: b took 5, c took 3, a took 1, the idle non-optimized path none
        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 1), Map.entry("b", 5), Map.entry("c", 3),
                Map.entry("nonopt", 0));
        assertThat(Stream.of(a, b, c).mapToInt(p -> p.io.inFlight())).containsOnly(6);
    }

    @Test
    void should_pick_the_lowest_in_flight_plus_one_times_latency_under_service_time() {
        HeadHarness h = with(IoPolicy.SERVICE_TIME);
        Path fastBusy = h.path("fast-busy", AnaState.OPTIMIZED);
        Path slowIdle = h.path("slow-idle", AnaState.OPTIMIZED);
        io(fastBusy).latencyNanos = 100_000;   // (3 + 1) * 100 us = 400 us
        io(fastBusy).otherInFlight = 3;
        io(slowIdle).latencyNanos = 1_000_000; // (0 + 1) * 1 ms = 1000 us

        assertThat(NamespaceHead.pathOf(h.read().request)).isSameAs(fastBusy);

        io(fastBusy).otherInFlight = 12;       // (12 + 1 + 1) * 100 us = 1400 us > 1000 us
        assertThat(NamespaceHead.pathOf(h.read().request)).isSameAs(slowIdle);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("fast-busy", 1), Map.entry("slow-idle", 1));
    }

    @Test
    void should_try_a_path_without_latency_samples_under_service_time() {
        HeadHarness h = with(IoPolicy.SERVICE_TIME);
        Path measured = h.path("measured", AnaState.OPTIMIZED);
        Path fresh = h.path("fresh", AnaState.OPTIMIZED);
        io(measured).latencyNanos = 50_000;

        assertThat(NamespaceHead.pathOf(h.read().request)).isSameAs(fresh);
    }

    @Test
    void should_keep_service_time_within_the_best_tier() {
        HeadHarness h = with(IoPolicy.SERVICE_TIME);
        Path slowOpt = h.path("slow-opt", AnaState.OPTIMIZED);
        Path fastNonOpt = h.path("fast-nonopt", AnaState.NON_OPTIMIZED);
        io(slowOpt).latencyNanos = 10_000_000;
        io(slowOpt).otherInFlight = 100;
        io(fastNonOpt).latencyNanos = 10_000;

        h.readsCompletedAtOnce(5);

        assertThat(h.sentPerPath()).containsExactly(Map.entry("slow-opt", 5), Map.entry("fast-nonopt", 0));
    }

    // ---- preferred path and run-time switch -----------------------------------------------------

    @Test
    void should_send_to_the_preferred_path_while_it_is_usable() {
        HeadHarness h = with(IoPolicy.NUMA);
        Path opt = h.path(new PathId("10.0.0.1:4420", 1), AnaState.OPTIMIZED);
        Path pref = h.path(new PathId("10.0.0.2:4420", 1), AnaState.NON_OPTIMIZED);
        h.subsystem.preferredPath("10.0.0.2:4420");
        h.changed(); // what the manager does after the change
        h.changed();

        h.readsCompletedAtOnce(4);
        assertThat(h.sentPerPath()).containsExactly(Map.entry(opt.io.name(), 0), Map.entry(pref.io.name(), 4));

        io(pref).state = ControllerState.RESETTING;
        h.changed();
        h.readsCompletedAtOnce(4);
        assertThat(h.sentPerPath()).containsExactly(Map.entry(opt.io.name(), 4), Map.entry(pref.io.name(), 4));

        io(pref).state = ControllerState.LIVE;
        h.changed();
        h.readsCompletedAtOnce(4);
        assertThat(h.sentPerPath()).containsExactly(Map.entry(opt.io.name(), 4), Map.entry(pref.io.name(), 8));

        h.subsystem.preferredPath(null);

        h.changed(); // what the manager does after the change
        h.changed();
        h.readsCompletedAtOnce(4);
        assertThat(h.sentPerPath()).containsExactly(Map.entry(opt.io.name(), 8), Map.entry(pref.io.name(), 8));
    }

    @Test
    void should_match_the_preferred_path_by_whole_address_not_by_string_prefix() {
        HeadHarness h = with(IoPolicy.NUMA);
        Path other = h.path(new PathId("10.0.0.1:44201", 1), AnaState.OPTIMIZED);
        Path pref = h.path(new PathId("10.0.0.1:4420", 2), AnaState.NON_OPTIMIZED);
        h.subsystem.preferredPath("10.0.0.1:4420");
        h.changed(); // what the manager does after the change
        h.changed();

        h.readsCompletedAtOnce(4);

        assertThat(h.sentPerPath()).containsExactly(Map.entry(other.io.name(), 0), Map.entry(pref.io.name(), 4));
    }

    @Test
    void should_switch_iopolicy_at_run_time_with_the_next_io() {
        HeadHarness h = with(IoPolicy.NUMA);
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.OPTIMIZED);
        h.readsCompletedAtOnce(4);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 4), Map.entry("b", 0));

        h.subsystem.ioPolicy(IoPolicy.ROUND_ROBIN);

        h.changed(); // what the manager does after the switch
        h.readsCompletedAtOnce(4);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 6), Map.entry("b", 2));

        h.subsystem.ioPolicy(IoPolicy.QUEUE_DEPTH);

        h.changed(); // what the manager does after the switch
        io(a).otherInFlight = 7; // a is busy with another head's I/O
        h.readsCompletedAtOnce(4);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 6), Map.entry("b", 6));

        h.subsystem.ioPolicy(IoPolicy.FIRST);

        h.changed(); // what the manager does after the switch
        h.readsCompletedAtOnce(4);
        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 10), Map.entry("b", 6));
        assertThat(h.subsystem.view().ioPolicy()).isEqualTo("first");
        assertThat(b.usable()).isTrue();
    }

    @Test
    void should_queue_rather_than_pick_when_nothing_is_usable() {
        HeadHarness h = new HeadHarness(MultipathOptions.defaults().withNoPathTimeout(Duration.ofSeconds(5)));
        Path a = h.path("a", AnaState.OPTIMIZED);
        a.anaState = AnaState.INACCESSIBLE;
        h.changed();

        assertThat(h.head.select()).isNull();
        HeadHarness.UserIo u = h.read();
        assertThat(u.done()).isFalse();
        assertThat(h.head.queuedCount()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(IoPolicy.class)
    void should_choose_once_per_state_change_and_still_move_off_a_chosen_path_that_left_live(IoPolicy policy) {
        HeadHarness h = with(policy);
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.NON_OPTIMIZED);
        assertThat(h.head.choice()).as("worked out when the paths were added").containsExactly(a);

        io(a).state = ControllerState.RESETTING; // the completion path saw it first: the manager has not run
        h.readsCompletedAtOnce(2);

        assertThat(h.sentPerPath()).containsExactly(Map.entry("a", 0), Map.entry("b", 2));
        assertThat(h.head.choice()).as("chosen again on the I/O path when nothing chosen was live").containsExactly(b);
    }

    @Test
    void should_refuse_a_preferred_path_that_is_not_a_portal_address() {
        HeadHarness h = with(IoPolicy.NUMA);
        assertThatThrownBy(() -> h.subsystem.preferredPath("10.0.0.1:4420 cntlid 2"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a portal address");
        assertThat(h.subsystem.preferredPath()).isNull();
    }
}
