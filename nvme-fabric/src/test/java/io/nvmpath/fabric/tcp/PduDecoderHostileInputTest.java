package io.nvmpath.fabric.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Malformed PDUs end in one fatal error describing them, and everything after is dropped. */
class PduDecoderHostileInputTest {
    private final ConnectionParams params = new ConnectionParams();

    private PduException decodeExpectingError(PduType.Direction dir, ByteBuf bytes) {
        EmbeddedChannel dec = new EmbeddedChannel(new PduDecoder(dir, params));
        dec.writeInbound(bytes);
        Object first = dec.readInbound();
        assertThat(first).isInstanceOf(PduException.class);
        // whatever follows on a broken stream is discarded, not decoded
        ByteBuf valid = Unpooled.buffer();
        header(valid, 0x05, 0, 24, 0, 24);
        valid.writeZero(16);
        dec.writeInbound(valid);
        assertThat((Object) dec.readInbound()).isNull();
        assertThat(dec.finishAndReleaseAll()).isFalse();
        return (PduException) first;
    }

    private static ByteBuf header(ByteBuf b, int type, int flags, int hlen, int pdo, long plen) {
        b.writeByte(type).writeByte(flags).writeByte(hlen).writeByte(pdo).writeIntLE((int) plen);
        return b;
    }

    @Test
    void unknown_pdu_type_is_an_invalid_header_field_at_offset_0() {
        PduException e = decodeExpectingError(PduType.Direction.C2H, header(Unpooled.buffer(), 0x08, 0, 24, 0, 24).writeZero(16));
        assertThat(e.status()).isEqualTo(TermReqStatus.INVALID_HEADER_FIELD);
        assertThat(e.fei()).isEqualTo(0);
        assertThat(e.getMessage()).contains("unknown PDU type 0x08");
    }

    @Test
    void pdu_sent_in_the_wrong_direction_is_refused() {
        PduException e = decodeExpectingError(PduType.Direction.C2H, header(Unpooled.buffer(), 0x04, 0, 72, 0, 72).writeZero(64));
        assertThat(e.getMessage()).contains("CAPSULE_CMD PDU sent the wrong way");
    }

    @Test
    void wrong_hlen_is_refused_at_offset_2() {
        PduException e = decodeExpectingError(PduType.Direction.C2H, header(Unpooled.buffer(), 0x05, 0, 20, 0, 24).writeZero(16));
        assertThat(e.fei()).isEqualTo(2);
    }

    @Test
    void plen_smaller_than_the_header_is_refused_at_offset_4() {
        PduException e = decodeExpectingError(PduType.Direction.C2H, header(Unpooled.buffer(), 0x05, 0, 24, 0, 12).writeZero(16));
        assertThat(e.fei()).isEqualTo(4);
    }

    @Test
    void plen_beyond_the_limit_is_refused_before_buffering_it() {
        PduException e = decodeExpectingError(PduType.Direction.C2H,
                header(Unpooled.buffer(), 0x07, 0, 24, 24, 0xFFFFFFF0L).writeZero(16));
        assertThat(e.fei()).isEqualTo(4);
        assertThat(e.getMessage()).contains("PLEN 4294967280");
    }

    @Test
    void response_capsule_with_trailing_bytes_is_refused() {
        PduException e = decodeExpectingError(PduType.Direction.C2H, header(Unpooled.buffer(), 0x05, 0, 24, 0, 40).writeZero(32));
        assertThat(e.fei()).isEqualTo(4);
    }

    @Test
    void pdo_past_plen_is_refused_at_offset_3() {
        PduException e = decodeExpectingError(PduType.Direction.C2H,
                header(Unpooled.buffer(), 0x07, 0x04, 24, 200, 100).writeZero(92));
        assertThat(e.fei()).isEqualTo(3);
        assertThat(e.getMessage()).contains("past PLEN");
    }

    @Test
    void pdo_inside_the_header_is_refused() {
        PduException e = decodeExpectingError(PduType.Direction.C2H,
                header(Unpooled.buffer(), 0x07, 0x04, 24, 16, 40).writeZero(32));
        assertThat(e.fei()).isEqualTo(3);
    }

    @Test
    void datal_that_disagrees_with_plen_is_refused() {
        ByteBuf b = header(Unpooled.buffer(), 0x07, 0x04, 24, 24, 24 + 16);
        b.writeShortLE(1).writeShortLE(0).writeIntLE(0).writeIntLE(4096).writeZero(4).writeZero(16);
        PduException e = decodeExpectingError(PduType.Direction.C2H, b);
        assertThat(e.fei()).isEqualTo(16);
    }

    @Test
    void ic_resp_of_the_wrong_length_is_refused() {
        PduException e = decodeExpectingError(PduType.Direction.C2H, header(Unpooled.buffer(), 0x01, 0, 128, 0, 132).writeZero(124));
        assertThat(e.fei()).isEqualTo(4);
    }

    @Test
    void header_digest_flag_without_negotiated_digests_is_refused() {
        PduException e = decodeExpectingError(PduType.Direction.C2H, header(Unpooled.buffer(), 0x05, 0x01, 24, 0, 28).writeZero(20));
        assertThat(e.fei()).isEqualTo(1);
    }

    @Test
    void wrong_header_digest_is_a_header_digest_error() {
        params.digests(true, false);
        ByteBuf b = header(Unpooled.buffer(), 0x05, 0x01, 24, 0, 28).writeZero(16);
        b.writeIntLE(Digests.crc32c(b, 0, 24) ^ 1);
        PduException e = decodeExpectingError(PduType.Direction.C2H, b);
        assertThat(e.status()).isEqualTo(TermReqStatus.HEADER_DIGEST_ERROR);
    }

    @Test
    void missing_header_digest_when_negotiated_is_refused() {
        params.digests(true, false);
        PduException e = decodeExpectingError(PduType.Direction.C2H, header(Unpooled.buffer(), 0x05, 0, 24, 0, 24).writeZero(16));
        assertThat(e.fei()).isEqualTo(1);
    }

    @Test
    void wrong_data_digest_is_fatal_without_a_term_req_status() {
        params.digests(false, true);
        ByteBuf data = Unpooled.buffer().writeZero(64);
        ByteBuf b = header(Unpooled.buffer(), 0x07, 0x02 | 0x04, 24, 24, 24 + 64 + 4);
        b.writeShortLE(1).writeShortLE(0).writeIntLE(0).writeIntLE(64).writeZero(4);
        b.writeBytes(data).writeIntLE(Digests.crc32c(data) ^ 0x100);
        data.release();
        PduException e = decodeExpectingError(PduType.Direction.C2H, b);
        assertThat(e.status()).isNull();
        assertThat(e.getMessage()).contains("data digest");
    }

    @Test
    void success_without_last_pdu_is_refused() {
        ByteBuf b = header(Unpooled.buffer(), 0x07, 0x08, 24, 24, 24 + 8);
        b.writeShortLE(1).writeShortLE(0).writeIntLE(0).writeIntLE(8).writeZero(4).writeZero(8);
        PduException e = decodeExpectingError(PduType.Direction.C2H, b);
        assertThat(e.getMessage()).contains("SUCCESS but not LAST_PDU");
    }

    @Test
    void term_req_with_too_much_data_is_refused() {
        PduException e = decodeExpectingError(PduType.Direction.C2H, header(Unpooled.buffer(), 0x03, 0, 24, 0, 24 + 200).writeZero(216));
        assertThat(e.fei()).isEqualTo(4);
    }
}
