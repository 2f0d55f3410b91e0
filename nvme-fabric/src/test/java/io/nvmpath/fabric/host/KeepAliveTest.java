package io.nvmpath.fabric.host;

import io.nvmpath.fabric.nvme.Opcodes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** Keep Alive on a manual clock: when it is sent, what counts instead, and what a silent one does. */
class KeepAliveTest {
    private ControllerFixture f;

    @BeforeEach
    void start() throws Exception {
        f = new ControllerFixture();
    }

    @AfterEach
    void stop() {
        f.close();
    }

    @Test
    void should_send_keep_alive_every_half_kato_and_stay_live_while_idle() throws Exception {
        Controller c = f.connect(f.options().keepAliveTimeout(Duration.ofSeconds(4)));
        ScriptedTarget.Received connect = f.target.awaitCommand(Opcodes.FABRICS);
        assertThat(connect.cdw12()).as("KATO in the admin Connect, ms").isEqualTo(4000);
        for (int period = 1; period <= 4; period++) {
            f.clock.advance(Duration.ofMillis(1999));
            f.fence(c);
            assertThat(f.target.count(Opcodes.ADMIN_KEEP_ALIVE)).as("before period " + period).isEqualTo(period - 1);
            f.clock.advance(Duration.ofMillis(1));
            f.target.awaitCommand(Opcodes.ADMIN_KEEP_ALIVE);
            f.fence(c);
        }
        assertThat(c.state()).isEqualTo(ControllerState.LIVE);
        assertThat(f.states.changes()).containsExactly("NEW->CONNECTING", "CONNECTING->LIVE");
        assertThat(c.stats().keepAliveRttMicros()).as("a Keep Alive completed").isNotNegative();
    }

    @Test
    void should_reset_the_controller_when_a_keep_alive_is_unanswered_for_half_kato() throws Exception {
        f.target.answerKeepAlive(false);
        Controller c = f.connect(f.options().keepAliveTimeout(Duration.ofSeconds(4)));
        f.states.clear();
        f.clock.advance(Duration.ofSeconds(2));
        f.target.awaitCommand(Opcodes.ADMIN_KEEP_ALIVE);
        // due at 4 s: not overdue yet when the 250 ms sweep passes at exactly its deadline
        f.clock.advance(Duration.ofSeconds(2));
        f.settle();
        assertThat(c.state()).isEqualTo(ControllerState.LIVE);
        f.clock.advance(Duration.ofMillis(250));
        f.states.await("LIVE->RESETTING");
        assertThat(c.lastFailure()).contains("Keep Alive").contains("timed out");
        f.states.await("RESETTING->CONNECTING");
        f.states.await("CONNECTING->LIVE");
    }

    @Test
    void should_count_io_completions_as_keep_alive_when_the_controller_is_traffic_based() throws Exception {
        f.target.trafficBasedKeepAlive(true);
        Controller c = f.connect(f.options().keepAliveTimeout(Duration.ofSeconds(4)));
        assertThat(c.identity().trafficBasedKeepAlive()).isTrue();
        f.clock.advance(Duration.ofMillis(1500));
        assertThat(ControllerFixture.await(ControllerFixture.submit(c, Commands.flush(1))).ok()).isTrue();
        f.clock.advance(Duration.ofMillis(500));
        f.fence(c);
        assertThat(f.target.count(Opcodes.ADMIN_KEEP_ALIVE)).as("a completion 0.5 s ago stands in").isZero();
        f.clock.advance(Duration.ofSeconds(2));
        f.target.awaitCommand(Opcodes.ADMIN_KEEP_ALIVE);
        assertThat(c.state()).isEqualTo(ControllerState.LIVE);
    }

    @Test
    void should_send_no_keep_alive_when_kato_is_zero() throws Exception {
        Controller c = f.connect(f.options().keepAliveTimeout(Duration.ZERO));
        f.clock.advance(Duration.ofMinutes(5));
        f.fence(c);
        assertThat(f.target.count(Opcodes.ADMIN_KEEP_ALIVE)).isZero();
        assertThat(f.target.awaitCommand(Opcodes.FABRICS).cdw12()).as("KATO in the admin Connect").isZero();
    }
}
