package io.nvmpath.server.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The command handler alone, on an embedded channel: buffers, back-pressure, draining. */
class NbdCommandHandlerTest {
    private static final int FLAGS = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA | Nbd.FLAG_SEND_TRIM
            | Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_SEND_CACHE;

    private MemoryBlockDevice device;
    private NbdExport export;
    private EmbeddedChannel channel;

    @BeforeEach
    void setUp() {
        device = new MemoryBlockDevice(1 << 20);
        device.mode = MemoryBlockDevice.Mode.INLINE;
        export = new NbdExport("disk", "", device, false, List.of(), new ExportStats());
    }

    @AfterEach
    void tearDown() throws Exception {
        device.shutdown();
        if (channel != null) {
            channel.finishAndReleaseAll();
        }
    }

    private EmbeddedChannel channel(boolean structured, int maxInFlight) {
        NbdSession session = new NbdSession(export, FLAGS | (structured ? Nbd.FLAG_SEND_DF : 0), structured, false,
                32 << 20);
        channel = new EmbeddedChannel(new NbdCommandHandler(session, maxInFlight));
        return channel;
    }

    private static NbdRequest read(long handle, long offset, int length) {
        return new NbdRequest(0, Nbd.CMD_READ, handle, offset, length, null, false);
    }

    private static NbdRequest write(long handle, long offset, int length) {
        ByteBuf payload = PooledByteBufAllocator.DEFAULT.directBuffer(length).writeZero(length);
        return new NbdRequest(0, Nbd.CMD_WRITE, handle, offset, length, payload, false);
    }

    @Test
    void should_write_the_devices_read_buffer_to_the_channel_as_is() {
        EmbeddedChannel ch = channel(false, 8);
        ch.writeInbound(read(1, 0, 4096));
        ByteBuf header = ch.readOutbound();
        ByteBuf data = ch.readOutbound();
        try {
            assertThat(header.readableBytes()).isEqualTo(Nbd.SIMPLE_REPLY_LENGTH);
            assertThat(header.getInt(0)).isEqualTo(Nbd.SIMPLE_REPLY_MAGIC);
            assertThat(data).as("the device's own buffer, not a copy").isSameAs(device.lastReadData);
        } finally {
            header.release();
            data.release();
        }
    }

    @Test
    void should_follow_a_structured_data_chunk_header_with_the_devices_buffer() {
        EmbeddedChannel ch = channel(true, 8);
        ch.writeInbound(read(1, 512, 1024));
        ByteBuf header = ch.readOutbound();
        ByteBuf data = ch.readOutbound();
        try {
            assertThat(header.readableBytes()).isEqualTo(Nbd.STRUCTURED_HEADER_LENGTH + 8);
            assertThat(header.getInt(16)).as("chunk length").isEqualTo(8 + 1024);
            assertThat(header.getLong(20)).as("offset").isEqualTo(512);
            assertThat(data).isSameAs(device.lastReadData);
        } finally {
            header.release();
            data.release();
        }
    }

    @Test
    void should_release_data_that_completes_after_the_channel_closed() throws Exception {
        device.mode = MemoryBlockDevice.Mode.HOLD;
        EmbeddedChannel ch = channel(false, 8);
        ch.writeInbound(read(1, 0, 4096));
        ch.writeInbound(read(2, 4096, 4096));
        ch.writeInbound(write(3, 0, 4096));
        device.awaitHeld(3);
        ch.close();
        assertThat(export.stats().connections()).isZero();
        device.runHeldHere();
        assertThat(export.stats().inFlight()).isZero();
        assertThat(export.stats().requests(ExportStats.Op.READ)).isEqualTo(2);
        Object reply = ch.readOutbound();
        assertThat(reply).as("no reply after the close").isNull();
    }

    @Test
    void should_release_the_payloads_of_requests_that_never_started() throws Exception {
        device.mode = MemoryBlockDevice.Mode.HOLD;
        EmbeddedChannel ch = channel(false, 1);
        ch.writeInbound(write(1, 0, 4096));
        ch.writeInbound(write(2, 4096, 4096));
        ch.writeInbound(write(3, 8192, 4096));
        device.awaitHeld(1);
        assertThat(device.calls()).hasSize(1);
        ch.close(); // requests 2 and 3 wait in the handler with their payloads
        device.runHeldHere();
        assertThat(device.calls()).hasSize(1);
    }

    @Test
    void should_stop_reading_while_max_in_flight_requests_are_on_the_device() throws Exception {
        device.mode = MemoryBlockDevice.Mode.HOLD;
        EmbeddedChannel ch = channel(false, 2);
        assertThat(ch.config().isAutoRead()).isTrue();
        ch.writeInbound(read(1, 0, 512));
        assertThat(ch.config().isAutoRead()).isTrue();
        ch.writeInbound(read(2, 0, 512));
        assertThat(ch.config().isAutoRead()).as("limit reached").isFalse();
        ch.writeInbound(read(3, 0, 512)); // decoded from bytes already read: waits
        device.awaitHeld(2);
        assertThat(device.calls()).hasSize(2);

        device.runHeldHere();
        assertThat(device.heldCount()).as("the third started").isEqualTo(1);
        assertThat(device.calls()).hasSize(3);
        device.runHeldHere();
        assertThat(ch.config().isAutoRead()).isTrue();
        releaseOutbound(ch);
    }

    @Test
    void should_answer_eshutdown_to_requests_arriving_during_a_drain_and_close_when_done() throws Exception {
        device.mode = MemoryBlockDevice.Mode.HOLD;
        EmbeddedChannel ch = channel(false, 8);
        ch.writeInbound(read(1, 0, 512));
        device.awaitHeld(1);
        ch.pipeline().fireUserEventTriggered(NbdServer.DrainEvent.INSTANCE);
        assertThat(ch.config().isAutoRead()).isFalse();
        ch.writeInbound(read(2, 0, 512));
        ByteBuf refused = ch.readOutbound();
        assertThat(refused.getInt(4)).isEqualTo(NbdError.ESHUTDOWN.value());
        assertThat(refused.getLong(8)).isEqualTo(2);
        refused.release();
        assertThat(ch.isOpen()).isTrue();

        device.runHeldHere();
        ByteBuf header = ch.readOutbound();
        assertThat(header.getInt(4)).isZero();
        assertThat(header.getLong(8)).isEqualTo(1);
        header.release();
        ByteBuf data = ch.readOutbound();
        data.release();
        ch.runPendingTasks();
        assertThat(ch.isOpen()).as("closed once everything was answered").isFalse();
    }

    @Test
    void should_answer_a_device_that_throws_instead_of_completing() {
        EmbeddedChannel ch = channel(false, 8);
        device.mode = MemoryBlockDevice.Mode.INLINE;
        NbdSession session = new NbdSession(new NbdExport("bad", "", new ThrowingDevice(device), false, List.of(),
                new ExportStats()), FLAGS, false, false, 32 << 20);
        ch.pipeline().replace(NbdCommandHandler.class, "h", new NbdCommandHandler(session, 8));
        ch.writeInbound(write(1, 0, 512));
        ByteBuf reply = ch.readOutbound();
        assertThat(reply.getInt(4)).isEqualTo(NbdError.EIO.value());
        reply.release();
    }

    @Test
    void should_log_a_refused_request_with_its_cause_export_and_client_once_a_second_and_tell_a_structured_client()
            throws Exception {
        RecordingLogger log = new RecordingLogger();
        long[] now = {0};
        NbdSession session = new NbdSession(export, FLAGS | Nbd.FLAG_SEND_DF, true, false, 32 << 20);
        channel = new EmbeddedChannel(new NbdCommandHandler(session, 8,
                new io.nvmpath.fabric.log.WarnLimiter(log, 1_000_000_000L, () -> now[0])));
        NbdRequest tooLong = new NbdRequest(0, Nbd.CMD_READ, 7, 0, 64L << 20, null, false);

        channel.writeInbound(tooLong);
        ByteBuf reply = channel.readOutbound();

        assertThat(reply.getShort(6)).as("structured error chunk").isEqualTo((short) Nbd.REPLY_TYPE_ERROR);
        assertThat(reply.getInt(20)).isEqualTo(NbdError.EINVAL.value());
        String told = reply.toString(26, reply.getShort(24), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(told).isEqualTo("EINVAL: READ past the end of the export");
        reply.release();
        assertThat(log.lines).singleElement().asString()
                .startsWith("WARN NBD client embedded on export disk: READ at 0+67108864 refused with EINVAL: ")
                .endsWith("READ past the end of the export");

        channel.writeInbound(new NbdRequest(0, Nbd.CMD_READ, 8, 0, 64L << 20, null, false));
        releaseOutbound(channel);
        assertThat(log.lines).as("a second refusal within the second is held back").hasSize(1);
        now[0] += 1_000_000_000L;
        channel.writeInbound(new NbdRequest(0, 99, 9, 0, 0, null, false));
        releaseOutbound(channel);
        assertThat(log.lines).hasSize(2);
        assertThat(log.lines.get(1)).contains("command 99 refused with EINVAL: unknown command 99")
                .contains("(1 similar warning(s) suppressed)");
    }

    private static void releaseOutbound(EmbeddedChannel ch) {
        Object m;
        while ((m = ch.readOutbound()) != null) {
            ((ByteBuf) m).release();
        }
    }

    /** A device whose write throws (and releases the data it was handed, as its owner). */
    private static final class ThrowingDevice extends ForwardingDevice {
        ThrowingDevice(MemoryBlockDevice d) {
            super(d);
        }

        @Override
        public void write(long offset, ByteBuf data, boolean fua, Completion done) {
            data.release();
            throw new IllegalStateException("broken device");
        }
    }
}
