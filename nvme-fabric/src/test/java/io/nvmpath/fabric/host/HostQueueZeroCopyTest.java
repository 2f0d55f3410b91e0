package io.nvmpath.fabric.host;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.internal.PlatformDependent;
import io.nvmpath.fabric.nvme.Cqe;
import io.nvmpath.fabric.tcp.Pdu;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A read's data reaches the caller as the socket's own receive buffers, however the controller's
 * C2HData PDUs were cut into reads: the test plays the controller and the socket, feeding each read
 * as a separate direct buffer, and checks every byte the caller gets by memory address.
 */
class HostQueueZeroCopyTest {
    private final List<ByteBuf> socketReads = new ArrayList<>();
    private QueueFixture fx;

    @BeforeEach
    void connect() {
        fx = new QueueFixture(1, 8, new ControllerOptions());
        fx.initialize();
    }

    @AfterEach
    void tearDown() {
        fx.close();
    }

    /** Delivers {@code wire} to the host as separate direct-buffer reads, cut at {@code cuts}. */
    private void feed(ByteBuf wire, int[] cuts) {
        int from = 0;
        int n = wire.readableBytes();
        for (int i = 0; i <= cuts.length; i++) {
            int to = i < cuts.length ? cuts[i] : n;
            ByteBuf read = Unpooled.directBuffer(to - from).writeBytes(wire, from, to - from);
            socketReads.add(read.retain()); // the test's own reference, to learn its address afterwards
            fx.ch.writeInbound(read);
            from = to;
        }
        wire.release();
        fx.ch.runPendingTasks();
    }

    private static ByteBuf pattern(int from, int len) {
        ByteBuf b = Unpooled.buffer(len);
        for (int i = 0; i < len; i++) {
            b.writeByte((from + i) * 13 + 1);
        }
        return b;
    }

    @Test
    void should_hand_a_read_over_in_the_socket_buffers_when_its_pdus_span_reads() {
        int length = 64 << 10;
        NvmeRequest r = fx.submit(Commands.read(1, 0, length / 512, 512));
        int cid = ((Pdu.CapsuleCmd) fx.readFromHost()).sqe().cid();

        // two C2HData PDUs of 32 KiB, each cut into reads inside its header and its data
        int half = length / 2;
        feed(fx.encode(new Pdu.C2HData(cid, 0, pattern(0, half), false, false)), new int[] {3, 20, 9000, 30000});
        feed(fx.encode(new Pdu.C2HData(cid, half, pattern(half, half), true, false)), new int[] {24, 100, 16000});
        feed(fx.encode(new Pdu.CapsuleResp(new Cqe(0, 0, 0, 1, cid, 0))), new int[] {7});

        assertThat(fx.completed).containsExactly(r);
        assertThat(r.ok()).isTrue();
        ByteBuf data = r.takeReadData();
        try {
            assertThat(ByteBufUtil.equals(data, pattern(0, length))).as("data intact").isTrue();
            if (data instanceof CompositeByteBuf c) {
                for (int i = 0; i < c.numComponents(); i++) {
                    assertThat(c.internalComponent(i)).as("flat, not nested").isNotInstanceOf(CompositeByteBuf.class);
                }
            }
            long covered = 0;
            for (ByteBuffer bb : data.nioBuffers()) {
                long start = PlatformDependent.directBufferAddress(bb) + bb.position();
                long end = start + bb.remaining();
                assertThat(socketReads).as("bytes [%x, %x) lie in a socket read", start, end).anySatisfy(s ->
                        assertThat(start >= s.memoryAddress() && end <= s.memoryAddress() + s.capacity()).isTrue());
                covered += bb.remaining();
            }
            assertThat(covered).isEqualTo(length);
        } finally {
            data.release();
        }
        for (ByteBuf s : socketReads) {
            assertThat(s.release()).as("only the test still held the read").isTrue();
        }
        socketReads.clear();
    }
}
