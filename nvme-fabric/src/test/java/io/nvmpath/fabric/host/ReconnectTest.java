package io.nvmpath.fabric.host;

import io.nvmpath.fabric.nvme.Status;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** Reconnect after a lost association on a manual clock: at once, then every reconnect_delay, until ctrl_loss_tmo. */
class ReconnectTest {
    private static final Duration DELAY = Duration.ofSeconds(3);
    private ControllerFixture f;

    @BeforeEach
    void start() throws Exception {
        f = new ControllerFixture();
    }

    @AfterEach
    void stop() {
        f.close();
    }

    private ControllerOptions options() {
        return f.options().keepAliveTimeout(Duration.ZERO).reconnectDelay(DELAY);
    }

    @Test
    void should_reconnect_at_once_when_the_connections_drop() throws Exception {
        Controller c = f.connect(options());
        long t0 = f.clock.nanoTime();
        int before = f.target.connectionsAccepted();
        f.states.clear();
        f.target.dropConnections();
        f.states.await("CONNECTING->LIVE");
        assertThat(f.states.changes()).containsExactly("LIVE->RESETTING", "RESETTING->CONNECTING", "CONNECTING->LIVE");
        assertThat(f.clock.nanoTime()).as("no time passed").isEqualTo(t0);
        assertThat(f.target.connectionsAccepted() - before).as("admin and I/O queue again").isEqualTo(2);
        assertThat(ControllerFixture.await(ControllerFixture.submit(c, Commands.flush(1))).ok()).isTrue();
    }

    @Test
    void should_retry_every_reconnect_delay_and_delete_the_controller_after_ctrl_loss_tmo() throws Exception {
        Controller c = f.connect(options().ctrlLossTimeout(Duration.ofSeconds(9)));
        f.states.clear();
        f.target.refuse(true);
        int before = f.target.connectionsAccepted();
        f.target.dropConnections();
        f.target.awaitConnections(before + 1); // the attempt at once
        for (int attempt = 1; attempt <= 3; attempt++) {
            f.clock.awaitTaskIn(DELAY);
            assertThat(f.target.connectionsAccepted() - before).as("attempts before delay " + attempt).isEqualTo(attempt);
            assertThat(c.state()).isEqualTo(ControllerState.CONNECTING);
            f.clock.advance(DELAY);
            f.target.awaitConnections(before + 1 + attempt);
        }
        f.states.await("DELETING->DEAD");
        assertThat(f.states.changes()).containsExactly("LIVE->RESETTING", "RESETTING->CONNECTING",
                "CONNECTING->DELETING", "DELETING->DEAD");
        assertThat(c.closeFuture()).isDone();
        assertThat(c.lastFailure()).isNotNull();
        NvmeRequest late = Commands.flush(1);
        c.submit(late);
        assertThat(late.status()).isEqualTo(Status.HOST_PATH_ERROR);
    }

    @Test
    void should_come_back_when_the_target_answers_again_within_ctrl_loss_tmo() throws Exception {
        Controller c = f.connect(options().ctrlLossTimeout(Duration.ofSeconds(9)));
        f.states.clear();
        f.target.refuse(true);
        int before = f.target.connectionsAccepted();
        f.target.dropConnections();
        f.target.awaitConnections(before + 1);
        f.clock.awaitTaskIn(DELAY);
        f.clock.advance(DELAY);
        f.target.awaitConnections(before + 2);
        f.clock.awaitTaskIn(DELAY);
        f.target.refuse(false);
        f.clock.advance(DELAY);
        f.states.await("CONNECTING->LIVE");
        assertThat(ControllerFixture.await(ControllerFixture.submit(c, Commands.flush(1))).ok()).isTrue();

        // the next loss has the whole ctrl_loss_tmo again: three delayed attempts, not one
        f.states.clear();
        f.target.refuse(true);
        before = f.target.connectionsAccepted();
        f.target.dropConnections();
        f.target.awaitConnections(before + 1);
        for (int attempt = 1; attempt <= 3; attempt++) {
            f.clock.awaitTaskIn(DELAY);
            assertThat(c.state()).isEqualTo(ControllerState.CONNECTING);
            f.clock.advance(DELAY);
            f.target.awaitConnections(before + 1 + attempt);
        }
        f.states.await("DELETING->DEAD");
    }

    @Test
    void should_fail_io_at_once_with_host_path_error_while_reconnecting_when_holding_is_off() throws Exception {
        Controller c = f.connect(options());
        f.target.refuse(true);
        f.target.dropConnections();
        f.states.await("RESETTING->CONNECTING");
        NvmeRequest r = Commands.flush(1);
        c.submit(r);
        assertThat(r.status()).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(r.cause()).hasMessageContaining("connecting");
    }
}
