package io.nvmpath.server.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Framing of transmission requests, fed byte by byte and in odd splits. */
class NbdRequestDecoderTest {
    private EmbeddedChannel channel;

    @AfterEach
    void tearDown() {
        if (channel != null) {
            channel.finishAndReleaseAll();
        }
    }

    private EmbeddedChannel channel(int maxPayload, long maxDiscard, boolean keepWrites) {
        channel = new EmbeddedChannel(new NbdRequestDecoder(maxPayload, maxDiscard, keepWrites));
        return channel;
    }

    private static void header(ByteBuf b, int magic, int flags, int type, long handle, long offset, long length) {
        b.writeInt(magic);
        b.writeShort(flags);
        b.writeShort(type);
        b.writeLong(handle);
        b.writeLong(offset);
        b.writeInt((int) length);
    }

    private static ByteBuf stream() {
        return PooledByteBufAllocator.DEFAULT.directBuffer();
    }

    @Test
    void should_frame_requests_split_at_every_byte() {
        EmbeddedChannel ch = channel(1 << 20, 1 << 21, true);
        ByteBuf all = stream();
        header(all, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_READ, 0x1122334455667788L, 0xFFFFFFFF00000000L, 4096);
        header(all, Nbd.REQUEST_MAGIC, Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 2, 512, 5);
        all.writeBytes(new byte[]{1, 2, 3, 4, 5});
        header(all, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_FLUSH, 3, 0, 0);
        while (all.isReadable()) {
            ch.writeInbound(all.readRetainedSlice(1));
        }
        all.release();

        List<NbdRequest> requests = drain(ch);
        assertThat(requests).hasSize(3);
        NbdRequest read = requests.get(0);
        assertThat(read.type).isEqualTo(Nbd.CMD_READ);
        assertThat(read.handle).isEqualTo(0x1122334455667788L);
        assertThat(read.offset).isEqualTo(0xFFFFFFFF00000000L);
        assertThat(read.length).isEqualTo(4096);
        NbdRequest write = requests.get(1);
        assertThat(write.flags).isEqualTo(Nbd.CMD_FLAG_FUA);
        ByteBuf payload = write.takePayload();
        assertThat(ByteBufUtil.getBytes(payload)).containsExactly(1, 2, 3, 4, 5);
        payload.release();
        assertThat(requests.get(2).type).isEqualTo(Nbd.CMD_FLUSH);
        requests.forEach(NbdRequest::release);
    }

    @Test
    void should_hand_over_the_write_payload_as_a_slice_of_the_received_bytes() {
        EmbeddedChannel ch = channel(1 << 20, 1 << 21, true);
        ByteBuf received = stream();
        header(received, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_WRITE, 1, 0, 4);
        received.writeBytes(new byte[]{9, 9, 9, 9});
        int payloadAt = received.writerIndex() - 4;
        received.retain(); // the test keeps a view of it to prove the payload is not a copy
        ch.writeInbound(received);

        NbdRequest write = drain(ch).get(0);
        ByteBuf payload = write.takePayload();
        write.release();
        received.setByte(payloadAt, 42);
        assertThat(payload.getByte(payload.readerIndex())).as("same memory as the received buffer").isEqualTo((byte) 42);
        received.release();
        assertThat(payload.refCnt()).as("still alive through the retained slice").isPositive();
        payload.release();
        assertThat(received.refCnt()).isZero();
    }

    @Test
    void should_keep_a_payload_that_spans_reads_without_losing_bytes() {
        EmbeddedChannel ch = channel(1 << 20, 1 << 21, true);
        byte[] data = NbdTransmissionTest.random(100_000, 7);
        ByteBuf first = stream();
        header(first, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_WRITE, 1, 0, data.length);
        first.writeBytes(data, 0, 30_000);
        ch.writeInbound(first);
        ByteBuf second = stream();
        second.writeBytes(data, 30_000, 70_000);
        header(second, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_READ, 2, 0, 512);
        ch.writeInbound(second);

        List<NbdRequest> requests = drain(ch);
        assertThat(requests).extracting(r -> r.type).containsExactly(Nbd.CMD_WRITE, Nbd.CMD_READ);
        ByteBuf payload = requests.get(0).takePayload();
        assertThat(ByteBufUtil.getBytes(payload)).isEqualTo(data);
        payload.release();
        requests.forEach(NbdRequest::release);
    }

    @Test
    void should_drain_a_payload_it_does_not_keep_and_stay_in_sync() {
        EmbeddedChannel ch = channel(1024, 1 << 20, true);
        ByteBuf b = stream();
        header(b, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_WRITE, 1, 0, 5000);
        b.writeZero(3000);
        ch.writeInbound(b);
        List<NbdRequest> first = drain(ch);
        assertThat(first).hasSize(1);
        assertThat(first.get(0).payloadDiscarded).isTrue();
        assertThat(first.get(0).takePayload()).isNull();
        first.get(0).release();

        ByteBuf rest = stream();
        rest.writeZero(2000);
        header(rest, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_READ, 2, 0, 512);
        ch.writeInbound(rest);
        List<NbdRequest> next = drain(ch);
        assertThat(next).extracting(r -> r.handle).containsExactly(2L);
        next.forEach(NbdRequest::release);
    }

    @Test
    void should_drain_writes_to_a_read_only_export_instead_of_buffering_them() {
        EmbeddedChannel ch = channel(1 << 20, 1 << 21, false);
        ByteBuf b = stream();
        header(b, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_WRITE, 1, 0, 100);
        b.writeZero(100);
        header(b, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_WRITE, 2, 0, 0);
        header(b, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_READ, 3, 0, 512);
        ch.writeInbound(b);
        List<NbdRequest> requests = drain(ch);
        assertThat(requests).extracting(r -> r.payloadDiscarded).containsExactly(true, true, false);
        requests.forEach(NbdRequest::release);
    }

    @Test
    void should_close_on_a_bad_magic_and_decode_nothing_more() {
        EmbeddedChannel ch = channel(1 << 20, 1 << 21, true);
        ByteBuf b = stream();
        header(b, 0x12345678, 0, Nbd.CMD_READ, 1, 0, 512);
        header(b, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_READ, 2, 0, 512);
        ch.writeInbound(b);
        assertThat(drain(ch)).isEmpty();
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void should_close_on_a_write_length_beyond_the_drain_bound() {
        EmbeddedChannel ch = channel(1024, 1 << 20, true);
        ByteBuf b = stream();
        header(b, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_WRITE, 1, 0, (1 << 20) + 1);
        ch.writeInbound(b);
        assertThat(drain(ch)).isEmpty();
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void should_drop_whatever_follows_disc() {
        EmbeddedChannel ch = channel(1 << 20, 1 << 21, true);
        ByteBuf b = stream();
        header(b, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_DISC, 1, 0, 0);
        header(b, Nbd.REQUEST_MAGIC, 0, Nbd.CMD_READ, 2, 0, 512);
        b.writeZero(77);
        ch.writeInbound(b);
        List<NbdRequest> requests = drain(ch);
        assertThat(requests).extracting(r -> r.type).containsExactly(Nbd.CMD_DISC);
        requests.forEach(NbdRequest::release);
        assertThat(ch.isOpen()).isTrue();
    }

    private static List<NbdRequest> drain(EmbeddedChannel ch) {
        List<NbdRequest> out = new ArrayList<>();
        Object m;
        while ((m = ch.readInbound()) != null) {
            out.add((NbdRequest) m);
        }
        return out;
    }
}
