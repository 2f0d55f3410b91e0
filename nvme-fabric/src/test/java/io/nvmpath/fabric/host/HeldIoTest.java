package io.nvmpath.fabric.host;

import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Status;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import static io.nvmpath.fabric.host.ControllerFixture.await;
import static io.nvmpath.fabric.host.ControllerFixture.submit;
import static org.assertj.core.api.Assertions.assertThat;

/** I/O held while a single path reconnects (holdIoWhileReconnecting), on a manual clock. */
class HeldIoTest {
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

    private ControllerOptions holding() {
        return f.options().keepAliveTimeout(Duration.ZERO).reconnectDelay(DELAY).holdIoWhileReconnecting(true);
    }

    /** Drops the association while the target refuses new ones; returns once the attempt at once has failed. */
    private void loseThePath() throws Exception {
        f.states.clear();
        f.target.refuse(true);
        f.target.dropConnections();
        f.clock.awaitTaskIn(DELAY);
    }

    @Test
    void should_hold_io_while_reconnecting_and_send_it_once_live() throws Exception {
        Controller c = f.connect(holding());
        loseThePath();
        CompletableFuture<NvmeRequest> held = submit(c, Commands.flush(1));
        f.settle();
        assertThat(held).as("waits for the reconnect").isNotDone();
        long flushes = f.target.count(Opcodes.NVM_FLUSH);
        f.target.refuse(false);
        f.clock.advance(DELAY);
        NvmeRequest r = await(held);
        assertThat(r.ok()).as(r.describeStatus()).isTrue();
        assertThat(f.target.count(Opcodes.NVM_FLUSH) - flushes).as("sent once, after the reconnect").isEqualTo(1);
        assertThat(c.state()).isEqualTo(ControllerState.LIVE);
    }

    @Test
    void should_fail_held_io_with_host_path_error_when_fast_io_fail_tmo_expires() throws Exception {
        Controller c = f.connect(holding().fastIoFailTimeout(Duration.ofSeconds(5)).ctrlLossTimeout(Duration.ofSeconds(-1)));
        loseThePath();
        CompletableFuture<NvmeRequest> held = submit(c, Commands.flush(1));
        f.clock.advance(DELAY); // an attempt at 3 s, refused
        f.clock.awaitTaskIn(DELAY);
        assertThat(held).as("still within fast_io_fail_tmo").isNotDone();
        f.clock.advance(Duration.ofSeconds(2));
        assertThat(await(held).status()).isEqualTo(Status.HOST_PATH_ERROR);
        // after fast_io_fail_tmo nothing waits any more, but the controller keeps reconnecting
        CompletableFuture<NvmeRequest> late = submit(c, Commands.flush(1));
        assertThat(await(late).status()).isEqualTo(Status.HOST_PATH_ERROR);
        f.target.refuse(false);
        f.clock.advance(Duration.ofSeconds(1));
        f.states.await("CONNECTING->LIVE");
        assertThat(await(submit(c, Commands.flush(1))).ok()).isTrue();
    }

    @Test
    void should_fail_held_io_with_host_path_error_when_the_controller_is_deleted() throws Exception {
        Controller c = f.connect(holding().ctrlLossTimeout(DELAY));
        loseThePath();
        CompletableFuture<NvmeRequest> held = submit(c, Commands.flush(1));
        f.settle();
        assertThat(held).isNotDone();
        f.clock.advance(DELAY); // the one delayed attempt ctrl_loss_tmo allows, refused
        assertThat(await(held).status()).isEqualTo(Status.HOST_PATH_ERROR);
        f.states.await("DELETING->DEAD");
    }
}
