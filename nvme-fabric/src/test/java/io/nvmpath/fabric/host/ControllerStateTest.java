package io.nvmpath.fabric.host;

import org.junit.jupiter.api.Test;

import static io.nvmpath.fabric.host.ControllerState.*;
import static org.assertj.core.api.Assertions.assertThat;

class ControllerStateTest {
    @Test
    void transition_table_follows_the_linux_controller_life_cycle() {
        assertThat(NEW.canMoveTo(CONNECTING)).isTrue();
        assertThat(CONNECTING.canMoveTo(LIVE)).isTrue();
        assertThat(LIVE.canMoveTo(RESETTING)).isTrue();
        assertThat(RESETTING.canMoveTo(CONNECTING)).isTrue();
        assertThat(LIVE.canMoveTo(DELETING)).isTrue();
        assertThat(DELETING.canMoveTo(DEAD)).isTrue();
        // never straight back to LIVE without connecting, never out of DEAD
        assertThat(RESETTING.canMoveTo(LIVE)).isFalse();
        assertThat(NEW.canMoveTo(LIVE)).isFalse();
        for (ControllerState s : values()) {
            assertThat(DEAD.canMoveTo(s)).isFalse();
        }
        assertThat(DELETING.canMoveTo(CONNECTING)).isFalse();
    }

    @Test
    void only_states_before_deletion_may_come_back() {
        assertThat(RESETTING.mayComeBack()).isTrue();
        assertThat(CONNECTING.mayComeBack()).isTrue();
        assertThat(DELETING.mayComeBack()).isFalse();
        assertThat(DEAD.mayComeBack()).isFalse();
    }
}
