package io.nvmpath.fabric.tcp;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The NVMe/TCP PDU decoder fed any byte stream from a hostile peer, in either direction, with or
 * without digests, cut into reads of any size (pooled direct or heap buffers): it never throws past
 * the pipeline, reports at most one {@link PduException} and then decodes nothing more, never emits a
 * data section beyond the connection's PLEN limit, and every buffer it was given or emitted is released
 * once the caller has released what it emitted.
 *
 * <p>{@code bin/fuzz} runs it coverage-guided; every build replays the inputs kept under
 * {@code PduDecoderFuzzTestInputs/decode}.
 */
class PduDecoderFuzzTest {
    /** A small limit, so that oversized data sections are within the fuzzer's reach. */
    private static final int MAX_RX_DATA = 8192;

    @FuzzTest(maxDuration = "60s")
    void decode(FuzzedDataProvider in) {
        PduType.Direction dir = in.consumeBoolean() ? PduType.Direction.C2H : PduType.Direction.H2C;
        ConnectionParams params = new ConnectionParams().digests(in.consumeBoolean(), in.consumeBoolean())
                .maxRxData(MAX_RX_DATA);
        boolean direct = in.consumeBoolean();
        EmbeddedChannel ch = new EmbeddedChannel(new PduDecoder(dir, params));
        List<ByteBuf> given = new ArrayList<>();
        List<Object> out = new ArrayList<>();
        try {
            while (in.remainingBytes() > 0) {
                int n = in.consumeInt(1, 512);
                byte[] chunk = in.consumeBytes(n);
                if (chunk.length == 0) {
                    break;
                }
                ByteBuf b = direct ? PooledByteBufAllocator.DEFAULT.directBuffer(chunk.length).writeBytes(chunk)
                        : Unpooled.wrappedBuffer(chunk);
                given.add(b);
                ch.writeInbound(b);
                drain(ch, out);
            }
            ch.checkException();
            ch.finish();
            drain(ch, out);
            int errors = 0;
            for (int i = 0; i < out.size(); i++) {
                Object o = out.get(i);
                if (o instanceof PduException) {
                    errors++;
                    assertThat(i).as("nothing decoded after the fatal error").isEqualTo(out.size() - 1);
                } else {
                    assertThat(o).isInstanceOf(Pdu.class);
                    if (o instanceof Pdu.DataPdu d) {
                        // PLEN is refused beyond header + digests + the limit: a data section is bounded by it
                        assertThat(d.data().readableBytes()).as("data section within the PLEN limit")
                                .isLessThanOrEqualTo(255 + MAX_RX_DATA + 2 * Digests.LENGTH);
                    }
                }
            }
            assertThat(errors).isLessThanOrEqualTo(1);
        } finally {
            out.forEach(ReferenceCountUtil::release);
            ch.finishAndReleaseAll();
        }
        for (ByteBuf b : given) {
            assertThat(b.refCnt()).as("a read the decoder kept").isZero();
        }
    }

    private static void drain(EmbeddedChannel ch, List<Object> out) {
        for (Object o = ch.readInbound(); o != null; o = ch.readInbound()) {
            out.add(o);
        }
    }
}
