package io.nvmpath.server.nbd;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An NBD client sending anything: the fixed-newstyle handshake (options, export names, lengths) and,
 * once an export is open, transmission requests (any magic, type, flags, offset, length, payload), cut
 * into reads of any size. The server never throws past its pipeline, answers or closes, never sends
 * more than one reply's worth per request, and releases every buffer it was given once the
 * connection is gone.
 *
 * <p>Half the inputs start with a valid handshake that opens export {@code disk} (read-write, 1 MiB)
 * or {@code ro} (read-only), so the fuzzer reaches transmission at once. {@code bin/fuzz} runs it
 * coverage-guided; every build replays the inputs under {@code NbdSessionFuzzTestInputs/session}.
 */
class NbdSessionFuzzTest {
    private static final int SIZE = 1 << 20;
    private static final int MAX_PAYLOAD = 64 << 10;
    private static final NbdFixture FIXTURE = exports();

    private static NbdFixture exports() {
        NbdFixture f = new NbdFixture(1);
        // completions inline: what an input leaves behind is known when its connection has closed
        f.device(f.add("disk", SIZE, false)).mode = MemoryBlockDevice.Mode.INLINE;
        f.device(f.add("ro", SIZE, true)).mode = MemoryBlockDevice.Mode.INLINE;
        return f;
    }

    @FuzzTest(maxDuration = "60s")
    void session(FuzzedDataProvider in) {
        NbdServer.Config config = NbdServer.Config.defaults().maxPayload(MAX_PAYLOAD);
        EmbeddedChannel ch = new EmbeddedChannel(new NbdHandshakeHandler(config, FIXTURE.lookup));
        List<ByteBuf> given = new ArrayList<>();
        long sent = 0;
        try {
            if (in.consumeBoolean()) {
                given.add(open(in.consumeBoolean() ? "disk" : "ro", in.consumeBoolean()));
                ch.writeInbound(given.get(0));
            }
            while (in.remainingBytes() > 0 && ch.isOpen()) {
                byte[] chunk = in.consumeBytes(in.consumeInt(1, 600));
                if (chunk.length == 0) {
                    break;
                }
                ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(chunk.length).writeBytes(chunk);
                given.add(b);
                ch.writeInbound(b);
                ch.runPendingTasks();
                sent += drainOutbound(ch);
                ch.checkException();
            }
            ch.runPendingTasks();
            sent += drainOutbound(ch);
            ch.checkException();
        } finally {
            ch.close();
            ch.runPendingTasks();
            drainOutbound(ch);
            ch.finishAndReleaseAll();
        }
        for (int i = 0; i < given.size(); i++) {
            assertThat(given.get(i).refCnt()).as("read %d of %d, kept by the server after the connection closed",
                    i + 1, given.size()).isZero();
        }
        // each 28-byte request gets one reply: a header and at most one read's data, which the export's
        // size bounds (a client that did not negotiate block sizes is served up to 32 MiB, as Linux's
        // nbd-client expects, so not the payload bound); option replies are smaller
        long inputBytes = given.stream().mapToLong(ByteBuf::capacity).sum();
        assertThat(sent).as("bytes sent for %d received", inputBytes)
                .isLessThanOrEqualTo(4096 + (inputBytes / 28 + 1) * (long) (SIZE + 64));
    }

    /** Client flags, then NBD_OPT_EXPORT_NAME {@code name} (with or without the 124 zero bytes). */
    private static ByteBuf open(String name, boolean noZeroes) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer();
        b.writeInt(Nbd.FLAG_C_FIXED_NEWSTYLE | (noZeroes ? Nbd.FLAG_C_NO_ZEROES : 0));
        b.writeLong(Nbd.IHAVEOPT).writeInt(Nbd.OPT_EXPORT_NAME).writeInt(n.length).writeBytes(n);
        return b;
    }

    private static long drainOutbound(EmbeddedChannel ch) {
        long n = 0;
        for (Object o = ch.readOutbound(); o != null; o = ch.readOutbound()) {
            if (o instanceof ByteBuf b) {
                n += b.readableBytes();
            } else if (o instanceof io.netty.buffer.ByteBufHolder h) {
                n += h.content().readableBytes();
            }
            ReferenceCountUtil.release(o);
        }
        return n;
    }
}
