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

/** Which failed commands carry the association they were lost on: only those the target may still execute. */
class LostCommandsTest {
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
    void should_mark_a_command_outstanding_when_the_connection_drops_as_lost_on_that_controller_instance()
            throws Exception {
        Controller c = f.connect(f.options().keepAliveTimeout(Duration.ofSeconds(5)).reconnectDelay(Duration.ofSeconds(3)));
        ControllerInstance before = c.instance();
        f.target.answerIo(false);
        CompletableFuture<NvmeRequest> write = submit(c, Commands.flush(1));
        f.target.awaitCommand(Opcodes.NVM_FLUSH);

        f.target.dropConnections();
        NvmeRequest r = await(write);

        assertThat(r.status()).isEqualTo(Status.HOST_ABORTED_CMD);
        assertThat(r.lostOn()).as("reached the wire, no answer: the target may still run it").isSameAs(before);
        assertThat(before.cntlid()).isEqualTo(c.cntlid());
        assertThat(before.identity()).isNotNull();
        assertThat(before.katoMillis()).isEqualTo(5000);
        assertThat(before.lostAtNanos()).isNotZero();
        assertThat(before.lossCause()).isEqualTo(LossCause.TRANSPORT_CLOSED);
        assertThat(before.lossReason()).contains("closed by the peer");
        assertThat(before.nanosSinceLastSent()).isGreaterThanOrEqualTo(0);
    }

    @Test
    void should_not_mark_a_command_that_got_an_answer_or_never_left_the_host() throws Exception {
        Controller c = f.connect(f.options().keepAliveTimeout(Duration.ofSeconds(5)).reconnectDelay(Duration.ofSeconds(3)));
        NvmeRequest answered = await(submit(c, Commands.flush(1)));
        assertThat(answered.ok()).isTrue();
        assertThat(answered.lostOn()).isNull();

        f.target.refuse(true);
        f.target.dropConnections();
        f.states.await("LIVE->RESETTING");
        NvmeRequest notSent = await(submit(c, Commands.flush(1)));
        assertThat(notSent.status()).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(notSent.lostOn()).as("never on the wire").isNull();
    }

    @Test
    void should_say_a_keep_alive_that_timed_out_lost_the_association() throws Exception {
        Controller c = f.connect(f.options().keepAliveTimeout(Duration.ofSeconds(2)).reconnectDelay(Duration.ofSeconds(30)));
        ControllerInstance before = c.instance();
        f.target.answerIo(false);
        f.target.answerKeepAlive(false);
        CompletableFuture<NvmeRequest> w = submit(c, Commands.flush(1));
        f.target.awaitCommand(Opcodes.NVM_FLUSH);

        f.clock.advance(Duration.ofSeconds(3)); // a Keep Alive at KATO/2, unanswered for its KATO/2

        NvmeRequest r = await(w);
        assertThat(r.lostOn()).isSameAs(before);
        assertThat(before.lossCause()).isEqualTo(LossCause.KEEP_ALIVE_TIMEOUT);
        assertThat(before.lossReason()).contains("Keep Alive");
    }

    @Test
    void should_tell_how_long_ago_the_host_last_sent_to_the_lost_instance_on_the_controller_clock() throws Exception {
        Controller c = f.connect(f.options().keepAliveTimeout(Duration.ZERO).reconnectDelay(Duration.ofSeconds(30)));
        f.target.answerIo(false);
        CompletableFuture<NvmeRequest> w = submit(c, Commands.flush(1));
        f.target.awaitCommand(Opcodes.NVM_FLUSH);
        f.target.refuse(true);
        f.target.dropConnections();
        ControllerInstance lost = await(w).lostOn();
        long at = lost.nanosSinceLastSent();

        f.clock.advance(Duration.ofSeconds(2));

        assertThat(lost.nanosSinceLastSent() - at).isEqualTo(Duration.ofSeconds(2).toNanos());
    }
}
