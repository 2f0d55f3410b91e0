package io.nvmpath.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.tcp.ConnectionParams;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.fabric.tcp.PduDecoder;
import io.nvmpath.fabric.tcp.PduType;
import io.nvmpath.fabric.testing.PduWire;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;

/**
 * A host that writes whatever bytes a test wants, well-formed or not, over a plain socket, and
 * decodes what the target answers. For hostile-host tests.
 */
final class RawHost implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;
    private final ConnectionParams params = new ConnectionParams();
    private final EmbeddedChannel decoder = new EmbeddedChannel(new PduDecoder(PduType.Direction.C2H, params));
    private boolean eof;

    RawHost(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setTcpNoDelay(true);
        in = socket.getInputStream();
    }

    void send(ByteBuf bytes) throws IOException {
        try {
            socket.getOutputStream().write(ByteBufUtil.getBytes(bytes));
            socket.getOutputStream().flush();
        } finally {
            bytes.release();
        }
    }

    /** Encodes and sends a well-formed PDU. */
    void send(Pdu pdu) throws IOException {
        send(PduWire.encode(pdu, params));
    }

    /** The next PDU the target sent (a PduException if it was malformed), or null at EOF/timeout. */
    Object next(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Object got = decoder.readInbound();
        byte[] buf = new byte[65536];
        while (got == null && !eof && System.nanoTime() < deadline) {
            socket.setSoTimeout((int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            int n;
            try {
                n = in.read(buf);
            } catch (SocketTimeoutException e) {
                break;
            } catch (IOException e) {
                eof = true;
                break;
            }
            if (n < 0) {
                eof = true;
                break;
            }
            decoder.writeInbound(Unpooled.wrappedBuffer(buf, 0, n).copy());
            got = decoder.readInbound();
        }
        return got;
    }

    /** True once the target closed the connection (reads to EOF, dropping anything still sent). */
    boolean closedByPeer(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!eof && System.nanoTime() < deadline) {
            Object o = next(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            ReferenceCountUtil.release(o);
        }
        return eof;
    }

    /** ICReq/ICResp without digests. */
    Pdu.ICResp initialize() throws IOException {
        send(new Pdu.ICReq(0, 0, false, false, 0));
        return (Pdu.ICResp) next(Duration.ofSeconds(5));
    }

    /** A Connect capsule. */
    void connect(int cid, int qid, int sqsize0, int cntlid, String subnqn, String hostnqn) throws IOException {
        ByteBuf data = Unpooled.buffer(1024).writeZero(1024);
        UUID id = UUID.nameUUIDFromBytes(hostnqn.getBytes(StandardCharsets.UTF_8));
        data.setLong(0, id.getMostSignificantBits()).setLong(8, id.getLeastSignificantBits());
        data.setShortLE(16, cntlid);
        data.setBytes(256, subnqn.getBytes(StandardCharsets.UTF_8));
        data.setBytes(512, hostnqn.getBytes(StandardCharsets.UTF_8));
        Sqe sqe = Sqe.of(0x7F).fctype(0x01).cid(cid).cdw(10, qid << 16).cdw(11, sqsize0)
                .sgl(0, 1024, Sqe.SGL_DATA_BLOCK_OFFSET);
        send(new Pdu.CapsuleCmd(sqe, data));
    }

    @Override
    public void close() throws IOException {
        socket.close();
        decoder.finishAndReleaseAll();
    }
}
