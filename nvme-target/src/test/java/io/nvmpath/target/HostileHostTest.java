package io.nvmpath.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.ReferenceCountUtil;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Hosts that break the rules get the specified error or a closed connection; a well-behaved host
 * connected at the same time never notices.
 */
class HostileHostTest {
    private static final String HOST = "nqn.2026-11.test:hostile-host";
    private static final Duration WAIT = Duration.ofSeconds(5);
    private NvmeTarget target;
    private EventLoopGroup loops;
    private Controller bystander;

    @BeforeEach
    void start() throws Exception {
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
        loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        bystander = Controller.connect(new TransportAddress("127.0.0.1", target.port(1)), TargetConfig.DEMO_NQN,
                new ControllerOptions(), loops).get(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws Exception {
        // the well-behaved host was not disturbed
        bystander.io(Commands.flush(1), "flush").get(5, TimeUnit.SECONDS);
        bystander.close();
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        target.close();
    }

    private RawHost raw() throws Exception {
        return new RawHost(target.port(1));
    }

    private static Pdu.TermReq expectTermReq(RawHost h, int fes) throws Exception {
        Object o = h.next(WAIT);
        assertThat(o).isInstanceOf(Pdu.TermReq.class);
        Pdu.TermReq t = (Pdu.TermReq) o;
        t.release();
        assertThat(t.type()).isEqualTo(io.nvmpath.fabric.tcp.PduType.C2H_TERM_REQ);
        assertThat(t.fes()).isEqualTo(fes);
        assertThat(h.closedByPeer(WAIT)).isTrue();
        return t;
    }

    private static Pdu.CapsuleResp expectResp(RawHost h) throws Exception {
        Object o = h.next(WAIT);
        assertThat(o).isInstanceOf(Pdu.CapsuleResp.class);
        return (Pdu.CapsuleResp) o;
    }

    @Test
    void icreq_with_an_unknown_protocol_version_is_refused_as_an_unsupported_parameter() throws Exception {
        try (RawHost h = raw()) {
            h.send(new Pdu.ICReq(1, 0, false, false, 0));
            Pdu.TermReq t = expectTermReq(h, 0x06);
            assertThat(t.fei()).as("offset of PFV").isEqualTo(8);
        }
    }

    @Test
    void garbage_bytes_end_in_a_term_req_naming_the_field() throws Exception {
        try (RawHost h = raw()) {
            h.send(Unpooled.wrappedBuffer(new byte[] {0x42, 0, 24, 0, 24, 0, 0, 0}));
            Pdu.TermReq t = expectTermReq(h, 0x01);
            assertThat(t.fei()).isZero();
        }
    }

    @Test
    void a_capsule_before_icreq_is_a_sequence_error() throws Exception {
        try (RawHost h = raw()) {
            h.send(new Pdu.CapsuleCmd(Sqe.of(0x18).cid(1), Unpooled.EMPTY_BUFFER));
            expectTermReq(h, 0x02);
        }
    }

    @Test
    void a_huge_plen_is_refused_without_buffering_it() throws Exception {
        try (RawHost h = raw()) {
            h.initialize();
            ByteBuf b = Unpooled.buffer();
            b.writeByte(0x06).writeByte(0).writeByte(24).writeByte(24).writeIntLE(0x7FFFFFFF);
            h.send(b);
            Pdu.TermReq t = expectTermReq(h, 0x01);
            assertThat(t.fei()).as("offset of PLEN").isEqualTo(4);
        }
    }

    @Test
    void connect_to_an_unknown_nqn_reports_the_offset_of_subnqn() throws Exception {
        try (RawHost h = raw()) {
            h.initialize();
            h.connect(7, 0, 31, 0xFFFF, "nqn.2026-11.test:nope", HOST);
            Pdu.CapsuleResp r = expectResp(h);
            assertThat(r.cqe().cid()).isEqualTo(7);
            assertThat(Status.code(r.cqe().status())).isEqualTo(Status.CONNECT_INVALID_PARAM);
            assertThat(Status.dnr(r.cqe().status())).isTrue();
            assertThat(r.cqe().dw0()).as("IATTR=1 (data), IPO=256 (SUBNQN)").isEqualTo(0x10100);
        }
    }

    @Test
    void io_queue_connect_with_an_unknown_cntlid_reports_the_offset_of_cntlid() throws Exception {
        try (RawHost h = raw()) {
            h.initialize();
            h.connect(1, 1, 127, 0x1234, TargetConfig.DEMO_NQN, HOST);
            Pdu.CapsuleResp r = expectResp(h);
            assertThat(Status.code(r.cqe().status())).isEqualTo(Status.CONNECT_INVALID_PARAM);
            assertThat(r.cqe().dw0()).isEqualTo(0x10010);
        }
    }

    @Test
    void admin_commands_before_the_controller_is_enabled_are_a_command_sequence_error() throws Exception {
        try (RawHost h = raw()) {
            h.initialize();
            h.connect(1, 0, 31, 0xFFFF, TargetConfig.DEMO_NQN, HOST);
            Pdu.CapsuleResp connected = expectResp(h);
            assertThat(connected.cqe().ok()).isTrue();
            Sqe identify = Sqe.of(0x06).cid(2).cdw(10, 1).sgl(0, 4096, Sqe.SGL_TRANSPORT_DATA_BLOCK);
            h.send(new Pdu.CapsuleCmd(identify, Unpooled.EMPTY_BUFFER));
            Pdu.CapsuleResp r = expectResp(h);
            assertThat(Status.code(r.cqe().status())).isEqualTo(Status.CMD_SEQ_ERROR);
            // and a command before Connect on a fresh queue is one too
            try (RawHost h2 = raw()) {
                h2.initialize();
                h2.send(new Pdu.CapsuleCmd(Sqe.of(0x18).cid(3), Unpooled.EMPTY_BUFFER));
                assertThat(Status.code(expectResp(h2).cqe().status())).isEqualTo(Status.CMD_SEQ_ERROR);
            }
        }
    }

    @Test
    void h2c_data_nobody_asked_for_terminates_the_connection() throws Exception {
        try (RawHost h = raw()) {
            h.initialize();
            h.send(new Pdu.H2CData(1, 99, 0, Unpooled.wrappedBuffer(new byte[512]), true));
            Pdu.TermReq t = expectTermReq(h, 0x01);
            assertThat(t.fei()).as("offset of TTAG").isEqualTo(10);
        }
    }

    @Test
    void more_commands_than_the_queue_holds_is_an_sq_overflow() throws Exception {
        try (RawHost admin = raw(); RawHost io = raw()) {
            admin.initialize();
            admin.connect(1, 0, 31, 0xFFFF, TargetConfig.DEMO_NQN, HOST);
            int cntlid = expectResp(admin).cqe().dw0() & 0xFFFF;
            Sqe enable = Sqe.of(0x7F).fctype(0x00).cid(2).cdw(11, 0x14).cdw(12, 0x460001);
            admin.send(new Pdu.CapsuleCmd(enable, Unpooled.EMPTY_BUFFER));
            assertThat(expectResp(admin).cqe().ok()).isTrue();
            io.initialize();
            io.connect(1, 1, 3, cntlid, TargetConfig.DEMO_NQN, HOST); // a queue of 4 entries
            assertThat(expectResp(io).cqe().ok()).isTrue();
            target.setFault(1, new Fault.Delay(3000)); // completions wait, so commands stay outstanding
            for (int i = 0; i < 6; i++) {
                io.send(new Pdu.CapsuleCmd(Sqe.of(0x00).nsid(1).cid(10 + i), Unpooled.EMPTY_BUFFER));
            }
            expectTermReq(io, 0x02);
            target.setFault(1, Fault.NONE);
        }
    }

    @Test
    void a_host_that_vanishes_in_the_middle_of_a_write_leaves_nothing_behind() throws Exception {
        int cntlid;
        try (RawHost h = raw()) {
            h.initialize();
            h.connect(1, 0, 31, 0xFFFF, TargetConfig.DEMO_NQN, HOST);
            cntlid = expectResp(h).cqe().dw0() & 0xFFFF;
            assertThat(target.controllers()).hasSize(2);
        }
        // the connection is gone; the target drops the controller it made
        target.whenControllerGone(TargetConfig.DEMO_NQN, cntlid).get(5, TimeUnit.SECONDS);
        assertThat(target.controllers()).singleElement()
                .satisfies(ctrl -> assertThat(ctrl.cntlid()).isEqualTo(bystander.cntlid()));
    }
}
