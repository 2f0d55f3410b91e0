package io.nvmpath.fabric.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.nvmpath.fabric.nvme.Cqe;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.testing.PduWire;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class PduCodecTest {

    @Test
    void crc32c_matches_the_standard_check_value() {
        ByteBuf b = Unpooled.copiedBuffer("123456789", StandardCharsets.US_ASCII);
        assertThat(Digests.crc32c(b, 0, 9)).isEqualTo(0xE3069283);
        ByteBuf direct = Unpooled.directBuffer(9).writeBytes(b, 0, 9);
        assertThat(Digests.crc32c(direct)).isEqualTo(0xE3069283);
        ByteBuf composite = Unpooled.wrappedBuffer(Unpooled.copiedBuffer("1234", StandardCharsets.US_ASCII),
                Unpooled.copiedBuffer("56789", StandardCharsets.US_ASCII));
        assertThat(Digests.crc32c(composite)).isEqualTo(0xE3069283);
        b.release();
        direct.release();
        composite.release();
    }

    /** Every PDU type a host or target sends, with data where the type carries it. */
    private static List<Pdu> samples() {
        List<Pdu> l = new ArrayList<>();
        l.add(new Pdu.ICReq(0, 0, true, false, 0));
        l.add(new Pdu.ICResp(0, 0, true, true, 131072));
        Sqe sqe = Sqe.of(0x01).cid(0x1234).nsid(1).cdw(10, 77).cdw(12, 7).sgl(0, 300, Sqe.SGL_DATA_BLOCK_OFFSET);
        l.add(new Pdu.CapsuleCmd(sqe, pattern(300, 3)));
        l.add(new Pdu.CapsuleCmd(Sqe.of(0x18).cid(5), Unpooled.EMPTY_BUFFER));
        l.add(new Pdu.CapsuleResp(new Cqe(0xCAFE, 7, 3, 1, 0x1234, 0x4302)));
        l.add(new Pdu.H2CData(9, 2, 8192, pattern(200, 5), true));
        l.add(new Pdu.C2HData(9, 4096, pattern(333, 7), true, true));
        l.add(new Pdu.C2HData(10, 0, pattern(64, 8), false, false));
        l.add(new Pdu.R2T(9, 2, 8192, 65536));
        l.add(new Pdu.TermReq(PduType.C2H_TERM_REQ, 1, 2, pattern(24, 9)));
        return l;
    }

    private static ByteBuf pattern(int len, int seed) {
        ByteBuf b = Unpooled.buffer(len);
        for (int i = 0; i < len; i++) {
            b.writeByte((i * 31 + seed) & 0xFF);
        }
        return b;
    }

    private static PduType.Direction receiverOf(Pdu pdu) {
        return pdu.type().direction();
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3})
    void every_pdu_round_trips_when_split_at_every_byte(int digestMode) {
        ConnectionParams p = new ConnectionParams().digests((digestMode & 1) != 0, (digestMode & 2) != 0);
        for (Pdu original : samples()) {
            ReferenceCountUtil.retain(original); // the encoder releases what it writes
            ByteBuf wire = PduWire.encode(original, p);
            int n = wire.readableBytes();
            for (int split = 0; split <= n; split++) {
                EmbeddedChannel dec = new EmbeddedChannel(new PduDecoder(receiverOf(original), p));
                dec.writeInbound(wire.retainedSlice(0, split));
                dec.writeInbound(wire.retainedSlice(split, n - split));
                Object got = dec.readInbound();
                assertThat(got).as("%s split at %d", original.type(), split).isInstanceOf(Pdu.class);
                assertSame(original, (Pdu) got);
                ReferenceCountUtil.release(got);
                assertThat((Object) dec.readInbound()).isNull();
                dec.finishAndReleaseAll();
            }
            // and one byte at a time
            EmbeddedChannel dec = new EmbeddedChannel(new PduDecoder(receiverOf(original), p));
            for (int i = 0; i < n; i++) {
                dec.writeInbound(wire.retainedSlice(i, 1));
            }
            Object got = dec.readInbound();
            assertSame(original, (Pdu) got);
            ReferenceCountUtil.release(got);
            dec.finishAndReleaseAll();
            wire.release();
            ReferenceCountUtil.release(original);
        }
    }

    @Test
    void several_pdus_in_one_read_decode_in_order() {
        ConnectionParams p = new ConnectionParams();
        ByteBuf all = Unpooled.buffer();
        for (int cid = 0; cid < 5; cid++) {
            ByteBuf one = PduWire.encode(new Pdu.CapsuleResp(new Cqe(cid, 0, 0, 1, cid, 0)), p);
            all.writeBytes(one);
            one.release();
        }
        EmbeddedChannel dec = new EmbeddedChannel(new PduDecoder(PduType.Direction.C2H, p));
        dec.writeInbound(all);
        for (int cid = 0; cid < 5; cid++) {
            Pdu.CapsuleResp r = dec.readInbound();
            assertThat(r.cqe().cid()).isEqualTo(cid);
        }
        assertThat(dec.finishAndReleaseAll()).isFalse();
    }

    @Test
    void data_sections_are_slices_of_the_received_bytes_not_copies() {
        ConnectionParams p = new ConnectionParams();
        ByteBuf wire = PduWire.encode(new Pdu.C2HData(1, 0, pattern(4096, 1), true, false), p);
        EmbeddedChannel dec = new EmbeddedChannel(new PduDecoder(PduType.Direction.C2H, p));
        ByteBuf in = Unpooled.directBuffer(wire.readableBytes()).writeBytes(wire);
        wire.release();
        long address = in.memoryAddress();
        dec.writeInbound(in);
        Pdu.C2HData d = dec.readInbound();
        assertThat(d.data().hasMemoryAddress()).isTrue();
        assertThat(d.data().memoryAddress()).isEqualTo(address + 24);
        d.release();
        dec.finishAndReleaseAll();
    }

    @Test
    void encoder_writes_data_as_a_slice_of_the_senders_buffer() {
        ConnectionParams p = new ConnectionParams().digests(true, true);
        ByteBuf payload = Unpooled.directBuffer(8192).writeZero(8192);
        EmbeddedChannel ch = new EmbeddedChannel(new PduEncoder(p));
        ch.writeOutbound(new Pdu.H2CData(1, 1, 0, payload.retainedSlice(), true));
        ByteBuf header = ch.readOutbound();
        ByteBuf data = ch.readOutbound();
        ByteBuf digest = ch.readOutbound();
        assertThat(header.readableBytes()).isEqualTo(28); // 24 + header digest, aligned to 4
        assertThat(data.memoryAddress()).isEqualTo(payload.memoryAddress());
        assertThat(digest.readableBytes()).isEqualTo(4);
        assertThat(digest.getIntLE(0)).isEqualTo(Digests.crc32c(payload));
        header.release();
        data.release();
        digest.release();
        ch.finishAndReleaseAll();
        assertThat(payload.refCnt()).isEqualTo(1);
        payload.release();
    }

    @Test
    void data_is_placed_at_the_peers_requested_alignment() {
        ConnectionParams p = new ConnectionParams().peerDataAlignment(31); // 128-byte alignment
        ByteBuf wire = PduWire.encode(new Pdu.H2CData(1, 1, 0, pattern(100, 1), true), p);
        assertThat((int) wire.getUnsignedByte(3)).as("PDO").isEqualTo(128);
        assertThat(wire.getIntLE(4)).as("PLEN").isEqualTo(228);
        EmbeddedChannel dec = new EmbeddedChannel(new PduDecoder(PduType.Direction.H2C, new ConnectionParams()));
        dec.writeInbound(wire);
        Pdu.H2CData d = dec.readInbound();
        assertThat(d.data().readableBytes()).isEqualTo(100);
        d.release();
        dec.finishAndReleaseAll();
    }

    private static void assertSame(Pdu expected, Pdu actual) {
        assertThat(actual.type()).isEqualTo(expected.type());
        switch (expected) {
            case Pdu.CapsuleCmd e -> {
                Pdu.CapsuleCmd a = (Pdu.CapsuleCmd) actual;
                ByteBuf eb = Unpooled.buffer();
                ByteBuf ab = Unpooled.buffer();
                e.sqe().encode(eb);
                a.sqe().encode(ab);
                assertThat(ByteBufUtilEquals.equal(eb, ab)).isTrue();
                assertThat(ByteBufUtilEquals.equal(e.data(), a.data())).isTrue();
                eb.release();
                ab.release();
            }
            case Pdu.DataPdu e -> {
                Pdu.DataPdu a = (Pdu.DataPdu) actual;
                assertThat(ByteBufUtilEquals.equal(e.data(), a.data())).isTrue();
                assertThat(stripData(a)).isEqualTo(stripData(e));
            }
            default -> assertThat(actual).isEqualTo(expected);
        }
    }

    /** The header fields of a record PDU, everything but its data. */
    private static java.util.List<Object> stripData(Pdu.DataPdu p) {
        java.util.List<Object> fields = new java.util.ArrayList<>();
        for (java.lang.reflect.RecordComponent c : p.getClass().getRecordComponents()) {
            if (!c.getName().equals("data")) {
                try {
                    fields.add(c.getAccessor().invoke(p));
                } catch (ReflectiveOperationException e) {
                    throw new AssertionError(e);
                }
            }
        }
        return fields;
    }

    /** Small helper to compare readable bytes without moving indexes. */
    static final class ByteBufUtilEquals {
        static boolean equal(ByteBuf a, ByteBuf b) {
            return io.netty.buffer.ByteBufUtil.equals(a, b);
        }
    }
}
