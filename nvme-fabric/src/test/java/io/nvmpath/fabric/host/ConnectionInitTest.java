package io.nvmpath.fabric.host;

import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.nvme.Cqe;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.fabric.tcp.PduType;
import io.nvmpath.fabric.tcp.TermReqStatus;
import io.nvmpath.fabric.testing.ManualScheduler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A queue's connection set-up against a scripted controller: ICReq out, ICResp checked, and only
 * then a queue that takes commands; whatever goes wrong before that fails the set-up with a reason.
 */
class ConnectionInitTest {
    private final ManualScheduler clock = new ManualScheduler();
    private QueueFixture fx;

    @AfterEach
    void tearDown() {
        if (fx != null) {
            fx.close();
        }
    }

    private void attach(ControllerOptions options) {
        fx = new QueueFixture(1, 8, options);
    }

    private static String failure(CompletableFuture<HostQueue> f) {
        assertThat(f).isCompletedExceptionally();
        return f.handle((q, e) -> e.getMessage()).join();
    }

    private void assertTerminatedWith(TermReqStatus fes, int fei) {
        Pdu.TermReq term = (Pdu.TermReq) fx.readFromHost();
        assertThat(term.type()).isEqualTo(PduType.H2C_TERM_REQ);
        assertThat(term.fes()).isEqualTo(fes.code());
        assertThat(term.fei()).isEqualTo(fei);
        term.release();
        assertThat(fx.ch.isOpen()).isFalse();
    }

    @Test
    void should_ask_for_the_digests_and_apply_what_icresp_grants_before_handing_the_queue_over() {
        attach(new ControllerOptions().headerDigest(true).dataDigest(true));
        Pdu.ICReq icreq = (Pdu.ICReq) fx.readFromHost();
        assertThat(icreq.pfv()).isZero();
        assertThat(icreq.headerDigest()).isTrue();
        assertThat(icreq.dataDigest()).isTrue();
        assertThat(fx.ready).isNotDone();

        fx.sendToHost(new Pdu.ICResp(0, 0, true, false, 16384));

        assertThat(fx.ready).isCompleted();
        HostQueue queue = fx.ready.join();
        assertThat(queue.headerDigest()).isTrue();
        assertThat(queue.dataDigest()).as("not granted").isFalse();
        assertThat(queue.maxH2CData()).isEqualTo(16384);
        assertThat(fx.ch.pipeline().get("connection-init")).as("the data path does not pass through set-up").isNull();
        assertThat(fx.failures).isEmpty();
    }

    @Test
    void should_refuse_commands_until_icresp_is_accepted() {
        attach(new ControllerOptions());
        fx.readFromHost();
        HostQueue queue = (HostQueue) fx.ch.pipeline().get("queue");
        NvmeRequest early = Commands.flush(1);
        queue.submit(early);
        assertThat(early.status()).isEqualTo(Status.HOST_PATH_ERROR);
        assertThat(early.cause()).hasMessageContaining("not connected");
        assertThat(fx.readFromHost()).as("nothing sent before ICResp").isNull();

        fx.sendToHost(new Pdu.ICResp(0, 0, false, false, 8192));
        NvmeRequest later = Commands.flush(1);
        queue.submit(later);
        Pdu.CapsuleCmd cmd = (Pdu.CapsuleCmd) fx.readFromHost();
        cmd.release();
        fx.sendToHost(new Pdu.CapsuleResp(new Cqe(0, 0, 0, 1, cmd.sqe().cid(), 0)));
        assertThat(later.ok()).isTrue();
    }

    @Test
    void an_icresp_enabling_digests_the_host_did_not_ask_for_is_refused() {
        attach(new ControllerOptions());
        fx.readFromHost();
        fx.sendToHost(new Pdu.ICResp(0, 0, true, false, 8192));
        assertTerminatedWith(TermReqStatus.INVALID_HEADER_FIELD, 11);
        assertThat(fx.failures).singleElement().asString().contains("digest the host did not ask for");
    }

    @Test
    void should_terminate_with_a_pdu_sequence_error_when_a_capsule_response_comes_before_icresp() {
        attach(new ControllerOptions());
        fx.readFromHost();
        fx.sendToHost(new Pdu.CapsuleResp(new Cqe(0, 0, 0, 1, 0, 0)));
        assertTerminatedWith(TermReqStatus.PDU_SEQUENCE_ERROR, 0);
        assertThat(failure(fx.ready)).contains("before ICResp");
        assertThat(fx.failures).singleElement().asString().contains("before ICResp");
    }

    @Test
    void should_terminate_with_a_pdu_sequence_error_on_a_second_icresp() {
        attach(new ControllerOptions());
        fx.readFromHost();
        fx.sendToHost(new Pdu.ICResp(0, 0, false, false, 8192));
        assertThat(fx.ready).isCompleted();
        fx.sendToHost(new Pdu.ICResp(0, 0, false, false, 8192));
        assertTerminatedWith(TermReqStatus.PDU_SEQUENCE_ERROR, 0);
        assertThat(fx.failures).singleElement().asString().contains("second ICResp");
    }

    @Test
    void should_refuse_an_icresp_whose_maxh2cdata_is_below_4_kib_pointing_at_the_field() {
        attach(new ControllerOptions());
        fx.readFromHost();
        fx.sendToHost(new Pdu.ICResp(0, 0, false, false, 1024));
        assertTerminatedWith(TermReqStatus.INVALID_HEADER_FIELD, 12);
        assertThat(failure(fx.ready)).startsWith("embedded:1: ").contains("MAXH2CDATA 1024");
    }

    @Test
    void should_fail_the_setup_with_the_controllers_reason_when_it_terminates_before_icresp() {
        attach(new ControllerOptions());
        fx.readFromHost();
        fx.sendToHost(new Pdu.TermReq(PduType.C2H_TERM_REQ, TermReqStatus.UNSUPPORTED_PARAMETER.code(), 0,
                Unpooled.EMPTY_BUFFER));
        assertThat(fx.ch.isOpen()).isFalse();
        assertThat(failure(fx.ready)).contains("controller terminated the connection").contains("UNSUPPORTED_PARAMETER");
    }

    @Test
    void should_fail_the_setup_when_the_peer_closes_before_icresp() {
        attach(new ControllerOptions());
        fx.readFromHost();
        fx.ch.close();
        fx.ch.runPendingTasks();
        assertThat(failure(fx.ready)).contains("closed by the peer");
        assertThat(fx.failures).singleElement().asString().contains("closed by the peer");
    }

    @Test
    void should_give_up_when_no_icresp_comes_within_the_connect_timeout() throws Exception {
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        // a listener that never accepts: the kernel completes the TCP handshake, nobody answers ICReq
        try (ServerSocket silent = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            ControllerOptions options = new ControllerOptions().scheduler(clock).connectTimeout(Duration.ofSeconds(3));
            CompletableFuture<HostQueue> f = ConnectionInit.open(loops.next(),
                    new TransportAddress("127.0.0.1", silent.getLocalPort()), 0, 8, options, null,
                    (q, reason) -> { });
            clock.advance(Duration.ofMillis(2999));
            assertThat(f).isNotDone();
            clock.advance(Duration.ofMillis(1));
            assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class)
                    .hasMessageContaining("no ICResp within 3000 ms");
        } finally {
            loops.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
