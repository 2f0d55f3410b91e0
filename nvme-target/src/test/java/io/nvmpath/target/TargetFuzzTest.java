package io.nvmpath.target;

import com.code_intelligence.jazzer.api.BugDetectors;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.tcp.ConnectionParams;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.fabric.testing.LogCapture;
import io.nvmpath.fabric.testing.PduWire;
import io.nvmpath.target.config.TargetConfig;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The project's target fed by a hostile host over loopback TCP: any byte stream, or one that opens
 * with a valid ICReq and admin-queue Connect (so that what follows reaches the controller), then any
 * bytes, or then well-formed PDUs with any content — command capsules of any opcode, Fabrics type,
 * NSID, command dwords, SGL and in-capsule data, and H2CData for any command ID, tag and offset —
 * then end of stream.
 * Whatever comes, the target closes the connection within the bound (no hang), never lets an
 * exception reach the end of a pipeline or its log as an error, and keeps serving: a new host
 * connects and is answered after each input.
 */
class TargetFuzzTest {
    private static final String HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:0c8fd2bb-8a4f-4c3a-9d8c-fuzzfuzzfuzz";
    private static final LogCapture LOGS = LogCapture.start();
    /** Started by the first input, so that the fuzzer's instrumentation covers the target's classes. */
    private static NvmeTarget target;
    /** How much of the captured log earlier inputs produced. */
    private static int logSeen;
    private static final byte[] ICREQ = bytes(new Pdu.ICReq(0, 0, false, false, 0));
    private static final byte[] CONNECT = connect();
    /** Property Set CC.EN: the controller is enabled, so admin commands run. */
    private static final byte[] ENABLE = bytes(new Pdu.CapsuleCmd(Sqe.of(Opcodes.FABRICS)
            .fctype(Opcodes.FCTYPE_PROPERTY_SET).cid(1).cdw(10, 0).cdw(11, Opcodes.PROP_CC)
            .cdw(12, 1 | (6 << 16) | (4 << 20)).sgl(0, 0, Sqe.SGL_TRANSPORT_DATA_BLOCK), Unpooled.EMPTY_BUFFER));

    private static NvmeTarget start() {
        try {
            return NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
        } catch (Exception e) {
            throw new IllegalStateException("the target did not start", e);
        }
    }

    private static byte[] bytes(Pdu pdu) {
        ByteBuf b = PduWire.encode(pdu, new ConnectionParams());
        try {
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }

    private static byte[] connect() {
        ByteBuf data = Unpooled.buffer(Commands.CONNECT_DATA_SIZE);
        Commands.connectData(data, UUID.nameUUIDFromBytes(HOST_NQN.getBytes()), 0xFFFF, TargetConfig.DEMO_NQN, HOST_NQN);
        NvmeRequest r = Commands.connect(0, 31, 0, data);
        return bytes(new Pdu.CapsuleCmd(r.sqe(), data));
    }

    @FuzzTest(maxDuration = "60s")
    void host(FuzzedDataProvider in) throws Exception {
        // the connections are the test's own, to the target on loopback (Jazzer's SSRF detector would flag them)
        try (var allowed = BugDetectors.allowNetworkConnections()) {
            exchange(in);
        }
    }

    private void exchange(FuzzedDataProvider in) throws Exception {
        if (target == null) {
            target = start();
        }
        int mode = in.consumeInt(0, 3);
        try (Socket s = new Socket("127.0.0.1", target.port(1))) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            try {
                if (mode >= 1) {
                    out.write(ICREQ);
                }
                if (mode >= 2) {
                    out.write(CONNECT);
                }
                if (mode == 3) {
                    out.write(ENABLE);
                    writePdus(out, in);
                } else {
                    out.write(in.consumeRemainingAsBytes());
                }
                out.flush();
                s.shutdownOutput();
            } catch (java.net.SocketException closedOnUs) {
                // the target ended the connection while the host still wrote (a reset): its answer to a
                // stream it refused; what it sent before is read below
            }
            InputStream answers = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            try {
                for (int n = answers.read(buf); n >= 0; n = answers.read(buf)) {
                    got.write(buf, 0, n);
                    assertThat(got.size()).as("bytes answered to one input").isLessThan(64 << 20);
                }
            } catch (SocketTimeoutException e) {
                String all = LOGS.text();
                throw new AssertionError("the target kept a connection open 10 s after the host's end of stream (mode "
                        + mode + "); its log for this input:\n" + all.substring(Math.min(logSeen, all.length()))
                        + "\nthe socket as the kernel sees it: " + sockets(s.getLocalPort())
                        + "\nits threads:\n" + threads(), e);
            } catch (java.net.SocketException reset) {
                // closed with the host's bytes unread: a reset instead of an orderly end
            }
        }
        assertResponsive();
        String all = LOGS.text();
        String logged = all.substring(Math.min(logSeen, all.length()));
        logSeen = all.length();
        assertThat(logged).as("the target's log for this input").doesNotContain("reached at the tail of the pipeline")
                .doesNotContain("SEVERE:").doesNotContain("Exception in thread");
    }

    /** Well-formed PDUs of fuzzed content, up to 16 of them. */
    private static void writePdus(OutputStream out, FuzzedDataProvider in) throws java.io.IOException {
        for (int i = 0; i < 16 && in.remainingBytes() > 0; i++) {
            Pdu pdu;
            if (in.consumeBoolean()) {
                Sqe sqe = Sqe.of(in.consumeInt(0, 0xFF))
                        .cid(in.consumeInt(0, 0xFFFF)).nsid(in.consumeInt());
                if (in.consumeBoolean()) {
                    sqe.fctype(in.consumeInt(0, 0xFF));
                }
                for (int dw = 10; dw <= 15; dw++) {
                    sqe.cdw(dw, in.consumeInt());
                }
                byte[] data = in.consumeBytes(in.consumeInt(0, 4096));
                sqe.sgl(in.consumeLong(), in.consumeBoolean() ? data.length : in.consumeInt(),
                        in.pickValue(new int[] {Sqe.SGL_DATA_BLOCK_OFFSET,
                                Sqe.SGL_TRANSPORT_DATA_BLOCK, in.consumeInt(0, 0xFF)}));
                pdu = new Pdu.CapsuleCmd(sqe, Unpooled.wrappedBuffer(data));
            } else {
                pdu = new Pdu.H2CData(in.consumeInt(0, 0xFFFF), in.consumeInt(0, 0xFFFF), in.consumeLong(0, 1 << 20),
                        Unpooled.wrappedBuffer(in.consumeBytes(in.consumeInt(0, 8192))), in.consumeBoolean());
            }
            out.write(bytes(pdu));
        }
    }

    /** {@code ss -tan} for the connection from {@code localPort}: which side has closed. */
    private static String sockets(int localPort) {
        try {
            Process p = new ProcessBuilder("ss", "-tan").redirectErrorStream(true).start();
            String all = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
            return all.lines().filter(l -> l.contains(":" + localPort + " ")).reduce("", (a, b) -> a + "\n  " + b);
        } catch (Exception e) {
            return "(ss: " + e + ")";
        }
    }

    /** Where the target's threads are, for a finding that is a hang. */
    private static String threads() {
        StringBuilder b = new StringBuilder();
        Thread.getAllStackTraces().forEach((t, stack) -> {
            if (t.getName().contains("EventLoop") || t.getName().contains("nvmpath")) {
                b.append('"').append(t.getName()).append("\" ").append(t.getState()).append('\n');
                for (int i = 0; i < Math.min(stack.length, 25); i++) {
                    b.append("    at ").append(stack[i]).append('\n');
                }
            }
        });
        return b.toString();
    }

    /** A new host still gets its ICResp. */
    private static void assertResponsive() throws Exception {
        try (Socket s = new Socket("127.0.0.1", target.port(1))) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(ICREQ);
            byte[] head = s.getInputStream().readNBytes(8);
            assertThat(head.length).as("ICResp header from a fresh connection").isEqualTo(8);
            assertThat(head[0]).as("PDU type ICResp").isEqualTo((byte) 0x01);
        }
    }
}
