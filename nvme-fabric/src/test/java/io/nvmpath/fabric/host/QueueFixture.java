package io.nvmpath.fabric.host;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.embedded.EmbeddedChannel;
import io.nvmpath.fabric.tcp.ConnectionParams;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.fabric.tcp.PduDecoder;
import io.nvmpath.fabric.tcp.PduEncoder;
import io.nvmpath.fabric.tcp.PduType;
import io.nvmpath.fabric.testing.PduWire;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One host queue on an EmbeddedChannel, set up by {@link ConnectionInit}, with the test as its
 * controller: the test writes C2H PDUs into the channel and reads the H2C PDUs the host sends, both
 * through the project's own codec. It keeps what the queue reports failed and the commands submitted
 * through it that completed; {@link #close} releases the channel's buffers and their read data, so a
 * leak the leak detector finds is the code's, not the test's.
 */
final class QueueFixture implements AutoCloseable {
    /** What the queue told its owner, in order. */
    final List<String> failures = new ArrayList<>();
    /** Commands {@link #submit}ted here that completed, in order. */
    final List<NvmeRequest> completed = new ArrayList<>();
    /** The controller side's view of the wire: it receives H2C PDUs and sends C2H ones. */
    final ConnectionParams targetParams = new ConnectionParams();
    final EmbeddedChannel ch;
    /** Completes with the queue once ICResp is accepted. */
    final CompletableFuture<HostQueue> ready;

    /** Queue {@code qid} of {@code size} entries; its ICReq is waiting to be read. */
    QueueFixture(int qid, int size, ControllerOptions options) {
        List<CompletableFuture<HostQueue>> attached = new ArrayList<>(1);
        ch = new EmbeddedChannel(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel c) {
                attached.add(ConnectionInit.attach(c, qid, size, options, (q, reason) -> failures.add(reason)));
            }
        });
        ready = attached.get(0);
    }

    /**
     * Answers the host's ICReq with a plain ICResp (no digests, MAXH2CDATA 8 KiB) and returns the
     * queue, which now takes commands.
     */
    HostQueue initialize() {
        assertThat(readFromHost()).as("the host opens with ICReq").isInstanceOf(Pdu.ICReq.class);
        sendToHost(new Pdu.ICResp(0, 0, false, false, 8192));
        assertThat(ready).isCompleted();
        return ready.join();
    }

    /** The bytes a controller sends for {@code pdu}, in one buffer. */
    ByteBuf encode(Pdu pdu) {
        return PduWire.encode(pdu, targetParams);
    }

    /** Encodes a C2H PDU as a controller would and feeds the bytes to the host, as the encoder wrote them. */
    void sendToHost(Pdu pdu) {
        EmbeddedChannel enc = new EmbeddedChannel(new PduEncoder(targetParams));
        enc.writeOutbound(pdu);
        ByteBuf b;
        while ((b = enc.readOutbound()) != null) {
            ch.writeInbound(b);
        }
        enc.finishAndReleaseAll();
        ch.runPendingTasks();
    }

    /** Decodes the next PDU the host wrote, as the controller would; null when it wrote nothing more. */
    Pdu readFromHost() {
        ch.runPendingTasks();
        EmbeddedChannel dec = new EmbeddedChannel(new PduDecoder(PduType.Direction.H2C, targetParams));
        ByteBuf b;
        Object pdu = null;
        while (pdu == null && (b = ch.readOutbound()) != null) {
            dec.writeInbound(b);
            pdu = dec.readInbound();
        }
        dec.finishAndReleaseAll();
        return (Pdu) pdu;
    }

    /** Submits {@code r} to the queue, noting its completion in {@link #completed}, and lets the host send it. */
    NvmeRequest submit(NvmeRequest r) {
        r.callback(completed::add);
        ready.join().submit(r);
        ch.runPendingTasks();
        return r;
    }

    @Override
    public void close() {
        ch.finishAndReleaseAll();
        for (NvmeRequest r : completed) {
            ByteBuf b = r.takeReadData();
            if (b != null) {
                b.release();
            }
        }
    }
}
