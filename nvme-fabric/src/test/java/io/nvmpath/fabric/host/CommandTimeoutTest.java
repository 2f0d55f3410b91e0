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

/** A command outstanding past its timeout resets the controller (Linux nvme_tcp_timeout), on a manual clock. */
class CommandTimeoutTest {
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
    void should_reset_the_controller_and_abort_the_command_when_io_outlives_io_timeout() throws Exception {
        Controller c = f.connect(f.options().keepAliveTimeout(Duration.ZERO).ioTimeout(Duration.ofSeconds(10)));
        f.states.clear();
        f.target.answerIo(false);
        CompletableFuture<NvmeRequest> stuck = submit(c, Commands.flush(1));
        f.target.awaitCommand(Opcodes.NVM_FLUSH);
        f.clock.advance(Duration.ofSeconds(10));
        f.settle();
        assertThat(stuck).as("at its deadline, not past it").isNotDone();
        assertThat(c.state()).isEqualTo(ControllerState.LIVE);
        f.clock.advance(Duration.ofMillis(250)); // the next sweep
        NvmeRequest r = await(stuck);
        assertThat(r.status()).isEqualTo(Status.HOST_ABORTED_CMD);
        assertThat(Status.isPathError(r.status())).as("another path may take it").isTrue();
        f.states.await("LIVE->RESETTING");
        assertThat(c.lastFailure()).contains("Flush").contains("on queue 1 timed out");
        f.states.await("CONNECTING->LIVE");
    }

    @Test
    void should_take_the_default_io_timeout_of_thirty_seconds() throws Exception {
        Controller c = f.connect(f.options().keepAliveTimeout(Duration.ZERO));
        f.target.answerIo(false);
        CompletableFuture<NvmeRequest> stuck = submit(c, Commands.flush(1));
        f.target.awaitCommand(Opcodes.NVM_FLUSH);
        f.clock.advance(Duration.ofSeconds(30));
        f.settle();
        assertThat(stuck).isNotDone();
        f.clock.advance(Duration.ofMillis(250));
        assertThat(await(stuck).status()).isEqualTo(Status.HOST_ABORTED_CMD);
    }
}
