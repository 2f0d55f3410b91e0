package io.nvmpath.multipath;

import io.netty.buffer.Unpooled;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Completions;
import io.nvmpath.fabric.host.ControllerInstance;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.Status;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static io.nvmpath.multipath.HeadHarness.io;
import static org.assertj.core.api.Assertions.assertThat;

/** Writes lost with their path wait until the controller they went to can no longer execute them. */
class WriteFenceTest {
    private static final Duration KATO = Duration.ofSeconds(1);
    /** 2 × KATO (command-based keep-alive) + the quiesce time assumed when CQT is 0 (1 s). */
    private static final Duration HOLD = Duration.ofSeconds(3);

    private static ControllerInstance instance(HeadHarness h, long katoMillis) {
        return Completions.instance(new TransportAddress("127.0.0.1", 4420), HeadHarness.NQN, 1, katoMillis, null, h.sched);
    }

    private static HeadHarness.UserIo write(HeadHarness h) {
        return h.submit(Commands.write(1, 0, 8, Unpooled.wrappedBuffer(new byte[4096]), false));
    }

    @Test
    void should_hold_a_lost_write_until_kato_and_quiesce_time_passed_but_send_a_lost_read_at_once() {
        HeadHarness h = new HeadHarness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.NON_OPTIMIZED);
        HeadHarness.UserIo w = write(h);
        HeadHarness.UserIo r = h.read();
        ControllerInstance lost = instance(h, KATO.toMillis());

        io(a).loseNext(lost);
        io(a).loseNext(lost);
        h.sched.runDue();

        assertThat(io(b).submitted).as("the read fails over at once, the write waits").containsExactly(r.request);
        assertThat(h.head.fencedCount()).isEqualTo(1);
        h.advance(HOLD.minusMillis(1));
        assertThat(io(b).submitted).hasSize(1);
        assertThat(w.done()).isFalse();

        h.advance(Duration.ofMillis(1));

        assertThat(io(b).submitted).containsExactly(r.request, w.request);
        io(b).succeedAll();
        assertThat(w.status).isEqualTo(Status.SUCCESS);
        assertThat(w.callbacks).isEqualTo(1);
        assertThat(h.head.fencedWrites.sum()).isEqualTo(1);
        assertThat(h.head.fencedCount()).isZero();
    }

    @Test
    void should_fail_over_a_lost_write_at_once_with_immediate_write_failover() {
        HeadHarness h = new HeadHarness(MultipathOptions.defaults().withWriteFailover(WriteFailover.IMMEDIATE));
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.NON_OPTIMIZED);
        HeadHarness.UserIo w = write(h);

        io(a).loseNext(instance(h, KATO.toMillis()));
        h.sched.runDue();

        assertThat(io(b).submitted).containsExactly(w.request);
        assertThat(h.head.fencedWrites.sum()).isZero();
    }

    @Test
    void should_fail_over_a_write_that_got_an_answer_at_once() {
        HeadHarness h = new HeadHarness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.NON_OPTIMIZED);
        HeadHarness.UserIo w = write(h);

        io(a).completeNext(Status.ANA_INACCESSIBLE); // the controller answered: it will not execute it
        h.sched.runDue();

        assertThat(io(b).submitted).containsExactly(w.request);
    }

    @Test
    void should_fail_a_fenced_write_cleanly_when_the_no_path_timeout_comes_first() {
        HeadHarness h = new HeadHarness(MultipathOptions.defaults().withNoPathTimeout(Duration.ofSeconds(2)));
        Path a = h.path("a", AnaState.OPTIMIZED);
        h.path("b", AnaState.NON_OPTIMIZED);
        HeadHarness.UserIo w = write(h);
        io(a).loseNext(instance(h, KATO.toMillis()));
        h.sched.runDue();

        h.advance(Duration.ofSeconds(2));
        h.tick();

        assertThat(w.status).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(w.error).contains("no_path_timeout");
        h.advance(HOLD);
        assertThat(w.callbacks).as("never resent after it was failed").isEqualTo(1);
    }

    @Test
    void should_hold_a_write_lost_on_a_controller_without_kato_until_the_no_path_timeout() {
        HeadHarness h = new HeadHarness(MultipathOptions.defaults().withNoPathTimeout(Duration.ofSeconds(30)));
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.NON_OPTIMIZED);
        HeadHarness.UserIo w = write(h);
        io(a).loseNext(instance(h, 0));
        h.sched.runDue();

        h.advance(Duration.ofSeconds(29));
        h.tick();
        assertThat(io(b).submitted).as("no time can say it stopped").isEmpty();
        h.advance(Duration.ofSeconds(1));
        h.tick();

        assertThat(w.status).isEqualTo(Status.HOST_PATH_ERROR);
    }
}
