package io.nvmpath.fabric.host;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.nvmpath.fabric.nvme.Cqe;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.fabric.tcp.PduType;

import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A host I/O queue fed by a hostile controller: reads, writes and a flush are outstanding, and the
 * controller answers with any sequence of well-formed PDUs — response capsules, C2HData (any offset,
 * length, LAST/SUCCESS flags), R2Ts (any offset and length), termination requests — for the live
 * command IDs and for unknown ones, or with raw bytes. Whatever it sends, the queue never throws past
 * its pipeline, completes every command exactly once (at the latest when the connection goes), never
 * completes a read as successful with other than its length of data, and releases every buffer.
 *
 * <p>{@code bin/fuzz} runs it coverage-guided; every build replays {@code HostQueueFuzzTestInputs/controller}.
 */
class HostQueueFuzzTest {
    private static final int BLOCK = 512;

    @FuzzTest(maxDuration = "60s")
    void controller(FuzzedDataProvider in) {
        ControllerOptions options = new ControllerOptions().ioTimeout(Duration.ofHours(1));
        List<ByteBuf> writeData = new ArrayList<>();
        Map<NvmeRequest, Integer> completions = new IdentityHashMap<>();
        try (QueueFixture fx = new QueueFixture(1, 16, options)) {
            fx.initialize();
            List<NvmeRequest> sent = new ArrayList<>();
            List<Integer> cids = new ArrayList<>();
            int commands = in.consumeInt(1, 6);
            for (int i = 0; i < commands; i++) {
                NvmeRequest r;
                int nlb = in.consumeInt(1, 16);
                switch (in.consumeInt(0, 2)) {
                    case 0 -> r = Commands.read(1, i * 16L, nlb, BLOCK);
                    case 1 -> {
                        ByteBuf data = PooledByteBufAllocator.DEFAULT.directBuffer(nlb * BLOCK).writeZero(nlb * BLOCK);
                        writeData.add(data);
                        r = Commands.write(1, i * 16L, nlb, data, false);
                    }
                    default -> r = Commands.flush(1);
                }
                r.callback(done -> completions.merge(done, 1, Integer::sum));
                fx.ready.join().submit(r);
                fx.ch.runPendingTasks();
                sent.add(r);
                Pdu cmd = fx.readFromHost();
                if (cmd instanceof Pdu.CapsuleCmd c) {
                    cids.add(c.sqe().cid());
                    c.release();
                }
            }
            while (in.remainingBytes() > 0 && fx.ch.isOpen()) {
                int cid = in.consumeBoolean() && !cids.isEmpty() ? cids.get(in.consumeInt(0, cids.size() - 1))
                        : in.consumeInt(0, 0xFFFF);
                Pdu pdu = switch (in.consumeInt(0, 4)) {
                    case 0 -> new Pdu.CapsuleResp(new Cqe(in.consumeInt(), in.consumeInt(), 0, 1, cid,
                            in.consumeInt(0, 0xFFFF) & 0xFFFE));
                    case 1 -> new Pdu.C2HData(cid, in.consumeLong(0, 20000),
                            Unpooled.wrappedBuffer(in.consumeBytes(in.consumeInt(0, 9000))), in.consumeBoolean(),
                            in.consumeBoolean());
                    case 2 -> new Pdu.R2T(cid, in.consumeInt(0, 0xFFFF), in.consumeLong(0, 20000),
                            in.consumeLong(0, 20000));
                    case 3 -> new Pdu.TermReq(PduType.C2H_TERM_REQ, in.consumeInt(0, 6), in.consumeInt(),
                            Unpooled.wrappedBuffer(in.consumeBytes(in.consumeInt(0, 64))));
                    default -> null;
                };
                // one buffer per PDU (the encoder takes the PDU's data), or raw bytes: the queue may close
                // the connection on any of them
                ByteBuf wire = pdu != null ? fx.encode(pdu)
                        : Unpooled.wrappedBuffer(in.consumeBytes(in.consumeInt(1, 300)));
                fx.ch.writeInbound(wire);
                fx.ch.runPendingTasks();
                drainHostPdus(fx);
                fx.ch.checkException();
            }
            fx.ch.close();
            fx.ch.runPendingTasks();
            drainHostPdus(fx);
            for (NvmeRequest r : sent) {
                assertThat(completions.get(r)).as("completions of %s", r).isEqualTo(1);
                ByteBuf read = r.takeReadData();
                if (read != null) {
                    try {
                        assertThat(r.ok()).isTrue();
                        assertThat(read.readableBytes()).as("read data of a successful read").isEqualTo(r.dataLength());
                    } finally {
                        read.release();
                    }
                }
            }
        } finally {
            for (ByteBuf b : writeData) {
                assertThat(b.refCnt()).as("write data the queue kept").isEqualTo(1);
                b.release();
            }
        }
    }

    /** The host's answers (H2CData for R2Ts, its TermReq): read and released, as a controller would. */
    private static void drainHostPdus(QueueFixture fx) {
        for (Pdu p = fx.readFromHost(); p != null; p = fx.readFromHost()) {
            if (p instanceof Pdu.DataPdu d) {
                d.release();
            }
        }
    }
}
