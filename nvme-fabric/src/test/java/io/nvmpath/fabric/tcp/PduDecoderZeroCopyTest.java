package io.nvmpath.fabric.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.internal.PlatformDependent;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.testing.PduWire;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A data PDU that spans socket reads reaches the layer above as the reads' own bytes: every byte of
 * its data section lies, by memory address, inside one of the direct buffers the socket delivered.
 */
class PduDecoderZeroCopyTest {

    private static ByteBuf pattern(int len) {
        ByteBuf b = Unpooled.buffer(len);
        for (int i = 0; i < len; i++) {
            b.writeByte(i * 31 + 7);
        }
        return b;
    }

    /** Cuts {@code wire} at {@code cuts} into separate direct buffers, as separate socket reads would be. */
    private static List<ByteBuf> reads(ByteBuf wire, int[] cuts) {
        List<ByteBuf> reads = new ArrayList<>();
        int from = 0;
        for (int cut : cuts) {
            reads.add(Unpooled.directBuffer(cut - from).writeBytes(wire, from, cut - from));
            from = cut;
        }
        reads.add(Unpooled.directBuffer(wire.readableBytes() - from).writeBytes(wire, from, wire.readableBytes() - from));
        return reads;
    }

    /** Asserts every byte of {@code data} lies in one of {@code reads}' memory. */
    private static void assertBytesAreTheReads(ByteBuf data, List<long[]> readRanges) {
        long covered = 0;
        for (ByteBuffer bb : data.nioBuffers()) {
            assertThat(bb.isDirect()).as("a data component is a heap copy").isTrue();
            long start = PlatformDependent.directBufferAddress(bb) + bb.position();
            long end = start + bb.remaining();
            assertThat(readRanges).as("component [%x, %x) inside a socket read", start, end)
                    .anySatisfy(r -> assertThat(start >= r[0] && end <= r[1]).isTrue());
            covered += bb.remaining();
        }
        assertThat(covered).isEqualTo(data.readableBytes());
    }

    private static List<long[]> ranges(List<ByteBuf> reads) {
        List<long[]> ranges = new ArrayList<>();
        for (ByteBuf r : reads) {
            ranges.add(new long[] {r.memoryAddress(), r.memoryAddress() + r.capacity()});
        }
        return ranges;
    }

    private static void decodeSplit(Pdu original, PduType.Direction receiver, ConnectionParams p, int[] cuts) {
        ByteBuf expected = ((Pdu.DataPdu) original).data().retainedDuplicate();
        ByteBuf wire = PduWire.encode(original, p);
        List<ByteBuf> reads = reads(wire, cuts);
        List<long[]> ranges = ranges(reads);
        wire.release();
        EmbeddedChannel dec = new EmbeddedChannel(new PduDecoder(receiver, p));
        for (ByteBuf r : reads) {
            dec.writeInbound(r);
        }
        Pdu.DataPdu got = dec.readInbound();
        assertThat(got).as("whole PDU after all reads").isNotNull();
        assertThat(ByteBufUtil.equals(got.data(), expected)).as("data intact").isTrue();
        assertBytesAreTheReads(got.data(), ranges);
        got.release();
        expected.release();
        assertThat(dec.finishAndReleaseAll()).isFalse();
        for (ByteBuf r : reads) {
            assertThat(r.refCnt()).as("a socket read still pinned after release").isZero();
        }
    }

    @ParameterizedTest(name = "digests mode {0}")
    @ValueSource(ints = {0, 1, 2, 3})
    void c2h_data_split_inside_header_data_and_digest_is_handed_on_as_the_socket_buffers(int digestMode) {
        ConnectionParams p = new ConnectionParams().digests((digestMode & 1) != 0, (digestMode & 2) != 0);
        int len = 64 << 10;
        int wireLen = encodedLength(new Pdu.C2HData(3, 0, pattern(len), true, true), p);
        // a cut inside the common header, inside the PDU header, just after the header, at several
        // places of the data, and one byte before the end (inside the data digest when there is one)
        int[] cuts = {5, 13, 24 + (digestMode & 1) * 4, 4000, 4001, 30000, 65000, wireLen - 1};
        decodeSplit(new Pdu.C2HData(3, 0, pattern(len), true, true), PduType.Direction.C2H, p, cuts);
    }

    @ParameterizedTest(name = "digests mode {0}")
    @ValueSource(ints = {0, 3})
    void random_splits_of_h2c_data_and_in_capsule_data_are_never_copied(int digestMode) {
        ConnectionParams p = new ConnectionParams().digests((digestMode & 1) != 0, (digestMode & 2) != 0);
        Random random = new Random(20261202L + digestMode);
        for (int round = 0; round < 50; round++) {
            int len = 1 + random.nextInt(32 << 10);
            Pdu pdu = round % 2 == 0
                    ? new Pdu.H2CData(9, 4, 8192, pattern(len), true)
                    : new Pdu.CapsuleCmd(Sqe.of(0x01).cid(7), pattern(len));
            int wireLen = encodedLength(round % 2 == 0 ? new Pdu.H2CData(9, 4, 8192, pattern(len), true)
                    : new Pdu.CapsuleCmd(Sqe.of(0x01).cid(7), pattern(len)), p);
            int pieces = 1 + random.nextInt(12);
            int[] cuts = random.ints(pieces, 1, wireLen).sorted().distinct().toArray();
            decodeSplit(pdu, PduType.Direction.H2C, p, cuts);
        }
    }

    private static int encodedLength(Pdu pdu, ConnectionParams p) {
        ByteBuf wire = PduWire.encode(pdu, p);
        int n = wire.readableBytes();
        wire.release();
        return n;
    }
}
