package io.nvmpath.fabric.host;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.nvmpath.fabric.nvme.Cqe;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.fabric.tcp.PduType;
import io.nvmpath.fabric.testing.ManualScheduler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The host side of one queue against a scripted controller: the test plays the target by writing
 * PDUs into an EmbeddedChannel and reading what the host sends.
 */
class HostQueueTest {
    private final ManualScheduler clock = new ManualScheduler();
    private final ControllerOptions options = new ControllerOptions().ioTimeout(Duration.ofMillis(500)).scheduler(clock);
    private QueueFixture fx;
    private HostQueue queue;

    @BeforeEach
    void connect() {
        fx = new QueueFixture(1, 8, options);
        queue = fx.initialize();
        queue.ioInCapsule(4096);
    }

    @AfterEach
    void tearDown() {
        fx.close();
    }

    private static ByteBuf pattern(int len) {
        ByteBuf b = Unpooled.buffer(len);
        for (int i = 0; i < len; i++) {
            b.writeByte(i * 7);
        }
        return b;
    }

    @Test
    void small_write_travels_in_the_capsule_as_the_callers_bytes() {
        ByteBuf data = pattern(4096);
        NvmeRequest w = fx.submit(Commands.write(1, 10, 8, data, true));
        Pdu.CapsuleCmd cmd = (Pdu.CapsuleCmd) fx.readFromHost();
        assertThat(cmd.sqe().sglIdentifier()).isEqualTo(Sqe.SGL_DATA_BLOCK_OFFSET);
        assertThat(cmd.sqe().cdw(12) & (1 << 30)).as("FUA").isNotZero();
        assertThat(ByteBufUtil.equals(cmd.data(), data)).isTrue();
        cmd.release();
        fx.sendToHost(new Pdu.CapsuleResp(new Cqe(0, 0, 0, 1, cmd.sqe().cid(), 0)));
        assertThat(fx.completed).containsExactly(w);
        assertThat(w.ok()).isTrue();
        data.release();
    }

    @Test
    void large_write_answers_each_r2t_with_h2c_data_no_larger_than_maxh2cdata() {
        ByteBuf data = pattern(20000 / 512 * 512 + 512);
        int len = data.readableBytes();
        NvmeRequest w = fx.submit(Commands.write(1, 0, len / 512, data, false));
        Pdu.CapsuleCmd cmd = (Pdu.CapsuleCmd) fx.readFromHost();
        assertThat(cmd.sqe().sglIdentifier()).isEqualTo(Sqe.SGL_TRANSPORT_DATA_BLOCK);
        assertThat(cmd.data().readableBytes()).isZero();
        cmd.release();
        int cid = cmd.sqe().cid();
        ByteBuf reassembled = Unpooled.buffer(len);
        // two R2Ts, the first for 12 KiB, the second for the rest
        int[][] r2ts = {{0, 12288}, {12288, len - 12288}};
        for (int[] r2t : r2ts) {
            fx.sendToHost(new Pdu.R2T(cid, 7, r2t[0], r2t[1]));
            int got = 0;
            while (got < r2t[1]) {
                Pdu.H2CData d = (Pdu.H2CData) fx.readFromHost();
                assertThat(d.ttag()).isEqualTo(7);
                assertThat(d.datao()).isEqualTo(r2t[0] + got);
                assertThat(d.data().readableBytes()).isLessThanOrEqualTo(8192);
                got += d.data().readableBytes();
                assertThat(d.last()).isEqualTo(got == r2t[1]);
                reassembled.writeBytes(d.data());
                d.release();
            }
        }
        assertThat(ByteBufUtil.equals(reassembled, data)).isTrue();
        fx.sendToHost(new Pdu.CapsuleResp(new Cqe(0, 0, 0, 1, cid, 0)));
        assertThat(w.ok()).isTrue();
        reassembled.release();
        data.release();
    }

    @Test
    void read_data_from_several_c2h_pdus_arrives_whole_and_success_flag_completes_it() {
        NvmeRequest r = fx.submit(Commands.read(1, 0, 16, 512));
        Pdu.CapsuleCmd cmd = (Pdu.CapsuleCmd) fx.readFromHost();
        cmd.release();
        ByteBuf expected = pattern(8192);
        fx.sendToHost(new Pdu.C2HData(cmd.sqe().cid(), 0, expected.retainedSlice(0, 3000), false, false));
        fx.sendToHost(new Pdu.C2HData(cmd.sqe().cid(), 3000, expected.retainedSlice(3000, 5192), true, true));
        assertThat(fx.completed).containsExactly(r);
        assertThat(r.ok()).isTrue();
        ByteBuf got = r.takeReadData();
        assertThat(ByteBufUtil.equals(got, expected)).isTrue();
        got.release();
        expected.release();
    }

    @Test
    void c2h_data_for_an_unknown_command_terminates_the_connection_and_aborts_what_is_in_flight() {
        NvmeRequest r = fx.submit(Commands.read(1, 0, 1, 512));
        ((Pdu.CapsuleCmd) fx.readFromHost()).release();
        fx.sendToHost(new Pdu.C2HData(0x0FFF, 0, pattern(512), true, true));
        Pdu.TermReq term = (Pdu.TermReq) fx.readFromHost();
        assertThat(term.type()).isEqualTo(PduType.H2C_TERM_REQ);
        assertThat(term.fes()).isEqualTo(0x01);
        term.release();
        assertThat(fx.ch.isOpen()).isFalse();
        assertThat(r.status()).isEqualTo(Status.HOST_ABORTED_CMD);
        assertThat(fx.failures).singleElement().asString().contains("unknown command ID");
    }

    @Test
    void c2h_data_beyond_the_commands_length_is_a_data_out_of_range_error() {
        NvmeRequest r = fx.submit(Commands.read(1, 0, 1, 512));
        Pdu.CapsuleCmd cmd = (Pdu.CapsuleCmd) fx.readFromHost();
        cmd.release();
        fx.sendToHost(new Pdu.C2HData(cmd.sqe().cid(), 0, pattern(1024), true, true));
        Pdu.TermReq term = (Pdu.TermReq) fx.readFromHost();
        assertThat(term.fes()).isEqualTo(0x04);
        term.release();
        assertThat(r.status()).isEqualTo(Status.HOST_ABORTED_CMD);
        assertThat(r.takeReadData()).isNull();
    }

    @Test
    void a_completion_with_a_stale_generation_is_refused_not_matched_to_the_new_command() {
        NvmeRequest first = fx.submit(Commands.flush(1));
        Pdu.CapsuleCmd c1 = (Pdu.CapsuleCmd) fx.readFromHost();
        c1.release();
        fx.sendToHost(new Pdu.CapsuleResp(new Cqe(0, 0, 0, 1, c1.sqe().cid(), 0)));
        assertThat(first.ok()).isTrue();
        NvmeRequest second = fx.submit(Commands.flush(1));
        Pdu.CapsuleCmd c2 = (Pdu.CapsuleCmd) fx.readFromHost();
        c2.release();
        assertThat(c2.sqe().cid() & 0xFFF).isEqualTo(c1.sqe().cid() & 0xFFF);
        assertThat(c2.sqe().cid()).isNotEqualTo(c1.sqe().cid());
        // a duplicate of the first completion must not complete the second command
        fx.sendToHost(new Pdu.CapsuleResp(new Cqe(0, 0, 0, 1, c1.sqe().cid(), 0)));
        assertThat(second.status()).isEqualTo(Status.HOST_ABORTED_CMD);
        assertThat(fx.failures).singleElement().asString().contains("unknown command ID");
    }

    @Test
    void r2t_for_a_read_is_refused() {
        fx.submit(Commands.read(1, 0, 1, 512));
        Pdu.CapsuleCmd cmd = (Pdu.CapsuleCmd) fx.readFromHost();
        cmd.release();
        fx.sendToHost(new Pdu.R2T(cmd.sqe().cid(), 1, 0, 512));
        Pdu.TermReq term = (Pdu.TermReq) fx.readFromHost();
        term.release();
        assertThat(fx.failures).singleElement().asString().contains("R2T for a command that writes nothing");
    }

    @Test
    void controller_term_req_closes_the_queue_with_its_reason() {
        NvmeRequest r = fx.submit(Commands.flush(1));
        ((Pdu.CapsuleCmd) fx.readFromHost()).release();
        fx.sendToHost(new Pdu.TermReq(PduType.C2H_TERM_REQ, 0x03, 0, Unpooled.EMPTY_BUFFER));
        assertThat(fx.ch.isOpen()).isFalse();
        assertThat(r.status()).isEqualTo(Status.HOST_ABORTED_CMD);
        assertThat(fx.failures).singleElement().asString().contains("HEADER_DIGEST_ERROR");
    }

    @Test
    void garbage_bytes_close_the_connection_and_abort_in_flight_commands() {
        NvmeRequest r = fx.submit(Commands.flush(1));
        ((Pdu.CapsuleCmd) fx.readFromHost()).release();
        fx.ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {(byte) 0xEE, 0, 24, 0, 24, 0, 0, 0}));
        fx.ch.runPendingTasks();
        Pdu.TermReq term = (Pdu.TermReq) fx.readFromHost();
        term.release();
        assertThat(fx.ch.isOpen()).isFalse();
        assertThat(r.status()).isEqualTo(Status.HOST_ABORTED_CMD);
        assertThat(r.cause()).hasMessageContaining("unknown PDU type 0xee");
    }

    @Test
    void peer_closing_the_connection_aborts_in_flight_commands_with_0x371() {
        NvmeRequest a = fx.submit(Commands.read(1, 0, 1, 512));
        NvmeRequest b = fx.submit(Commands.flush(1));
        fx.ch.close();
        fx.ch.runPendingTasks();
        assertThat(a.status()).isEqualTo(Status.HOST_ABORTED_CMD);
        assertThat(b.status()).isEqualTo(Status.HOST_ABORTED_CMD);
        assertThat(Status.isPathError(a.status())).isTrue();
        // and a submit on the closed queue is a host pathing error
        NvmeRequest late = fx.submit(Commands.flush(1));
        assertThat(late.status()).isEqualTo(Status.HOST_PATH_ERROR);
    }

    @Test
    void commands_beyond_the_queue_depth_wait_and_are_sent_as_slots_free() {
        List<NvmeRequest> rs = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            rs.add(fx.submit(Commands.flush(1)));
        }
        List<Integer> cids = new ArrayList<>();
        Pdu p;
        while ((p = fx.readFromHost()) != null) {
            ((Pdu.CapsuleCmd) p).release();
            cids.add(((Pdu.CapsuleCmd) p).sqe().cid());
        }
        assertThat(cids).hasSize(7); // size 8 -> depth 7
        assertThat(queue.inFlight()).isEqualTo(7);
        fx.sendToHost(new Pdu.CapsuleResp(new Cqe(0, 0, 0, 1, cids.get(0), 0)));
        Pdu.CapsuleCmd next = (Pdu.CapsuleCmd) fx.readFromHost();
        next.release();
        assertThat(next).isNotNull();
        assertThat(fx.completed).containsExactly(rs.get(0));
    }

    @Test
    void a_command_outstanding_past_its_timeout_reports_the_queue_failed_at_the_next_sweep() {
        NvmeRequest r = fx.submit(Commands.flush(1));
        ((Pdu.CapsuleCmd) fx.readFromHost()).release();
        clock.advance(Duration.ofMillis(500)); // sweeps at 250 and 500 ms: at the deadline is not past it
        assertThat(fx.failures).isEmpty();
        clock.advance(Duration.ofMillis(250));
        assertThat(fx.failures).singleElement().asString().contains("Flush").contains("timed out");
        assertThat(fx.completed).as("the owner resets; the queue itself only reports").doesNotContain(r);
    }

    @Test
    void a_command_answered_before_its_timeout_never_fails_the_queue() {
        NvmeRequest r = fx.submit(Commands.flush(1));
        Pdu.CapsuleCmd cmd = (Pdu.CapsuleCmd) fx.readFromHost();
        cmd.release();
        clock.advance(Duration.ofMillis(400));
        fx.sendToHost(new Pdu.CapsuleResp(new Cqe(0, 0, 0, 1, cmd.sqe().cid(), 0)));
        clock.advance(Duration.ofSeconds(5));
        assertThat(r.ok()).isTrue();
        assertThat(fx.failures).isEmpty();
    }

    @Test
    void a_failed_connect_reads_the_same_on_every_transport() {
        java.net.ConnectException nio = new java.net.ConnectException("Connection refused");
        java.net.ConnectException uring = new java.net.ConnectException(
                "io_uring connect(..) failed with error(-111): Connection refused");
        assertThat(HostQueue.rootMessage(new IllegalStateException("wrapped", nio))).isEqualTo("Connection refused");
        assertThat(HostQueue.rootMessage(new IllegalStateException("wrapped", uring))).isEqualTo("Connection refused");
        assertThat(HostQueue.rootMessage(new java.io.IOException("no colon after failed with error(")))
                .isEqualTo("no colon after failed with error(");
        assertThat(HostQueue.rootMessage(new java.io.IOException())).isEqualTo("IOException");
    }
}
