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
import java.util.List;

import static io.nvmpath.multipath.HeadHarness.io;
import static org.assertj.core.api.Assertions.assertThat;

/** Each failover becomes one record: from where to where, why, what moved, the fence and the stall. */
class FailoverLogTest {
    private static ControllerInstance instance(HeadHarness h) {
        return Completions.instance(new TransportAddress("127.0.0.1", 4420), HeadHarness.NQN, 1, 1000, null, h.sched);
    }

    private static List<FailoverRecord> records(HeadHarness h) {
        return h.subsystem.failoverLog().records();
    }

    @Test
    void should_record_reads_moved_by_a_lost_connection_with_their_stall() {
        HeadHarness h = new HeadHarness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        h.path("b", AnaState.NON_OPTIMIZED);
        h.read();
        h.read();
        ControllerInstance lost = instance(h);
        io(a).loseNext(lost);
        io(a).loseNext(lost);
        h.sched.runDue();
        assertThat(records(h)).as("open while its requests move").isEmpty();

        h.advance(Duration.ofMillis(7));
        io(h.head.paths().get(1)).succeedAll();

        assertThat(records(h)).singleElement().satisfies(r -> {
            assertThat(r.subsystem()).isEqualTo(HeadHarness.NQN);
            assertThat(r.nsid()).isEqualTo(1);
            assertThat(r.from()).isEqualTo("a");
            assertThat(r.to()).isEqualTo("b");
            assertThat(r.cause()).isEqualTo("transport-closed");
            assertThat(r.status()).isEqualTo(Status.HOST_ABORTED_CMD);
            assertThat(r.reads()).isEqualTo(2);
            assertThat(r.writes()).isZero();
            assertThat(r.fenced()).isZero();
            assertThat(r.fenceMethod()).isEqualTo("none");
            assertThat(r.stallMillis()).isEqualTo(7);
        });
        assertThat(h.subsystem.failoverLog().stats()).singleElement().satisfies(s -> {
            assertThat(s.cause()).isEqualTo("transport-closed");
            assertThat(s.count()).isEqualTo(1);
            assertThat(s.buckets()[1]).as("7 ms: in the 5-10 ms bucket").isEqualTo(1);
        });
    }

    @Test
    void should_record_a_fenced_write_with_the_fence_that_released_it() {
        HeadHarness h = new HeadHarness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.NON_OPTIMIZED);
        h.submit(Commands.write(1, 0, 8, Unpooled.wrappedBuffer(new byte[4096]), false));
        io(a).loseNext(instance(h));
        h.sched.runDue();

        h.advance(Duration.ofSeconds(3)); // 2 x KATO + 1 s
        io(b).succeedAll();

        assertThat(records(h)).singleElement().satisfies(r -> {
            assertThat(r.writes()).isEqualTo(1);
            assertThat(r.fenced()).isEqualTo(1);
            assertThat(r.fenceMethod()).isEqualTo("time");
            assertThat(r.fenceWaitMillis()).isEqualTo(3000);
            assertThat(r.stallMillis()).isEqualTo(3000);
        });
    }

    @Test
    void should_record_an_ana_status_as_its_cause_with_the_status() {
        HeadHarness h = new HeadHarness();
        Path a = h.path("a", AnaState.OPTIMIZED);
        Path b = h.path("b", AnaState.NON_OPTIMIZED);
        HeadHarness.UserIo u = h.read();
        io(a).completeNext(Status.ANA_INACCESSIBLE);
        h.sched.runDue();
        io(b).succeedAll();

        assertThat(u.status).isEqualTo(Status.SUCCESS);
        assertThat(records(h)).singleElement().satisfies(r -> {
            assertThat(r.cause()).isEqualTo("ana-state");
            assertThat(r.status()).isEqualTo(Status.ANA_INACCESSIBLE);
            assertThat(r.to()).isEqualTo("b");
        });
    }

    @Test
    void should_record_a_failover_whose_requests_all_failed_without_a_new_path() {
        HeadHarness h = new HeadHarness(MultipathOptions.defaults().withNoPathTimeout(Duration.ofSeconds(1)));
        Path a = h.path("a", AnaState.OPTIMIZED);
        HeadHarness.UserIo u = h.read();
        io(a).state(io.nvmpath.fabric.host.ControllerState.CONNECTING);
        io(a).loseNext(instance(h));
        h.changed();

        h.advance(Duration.ofSeconds(1));
        h.tick();

        assertThat(u.status).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(records(h)).singleElement().satisfies(r -> {
            assertThat(r.to()).isNull();
            assertThat(r.stallMillis()).isEqualTo(-1);
        });
    }
}
