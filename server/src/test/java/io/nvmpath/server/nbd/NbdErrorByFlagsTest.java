package io.nvmpath.server.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.nvmpath.server.block.BlockException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a client reads when zeroing is not supported: ENOTSUP only when it asked with FAST_ZERO,
 * EINVAL otherwise (as nbdkit answers), on the wire of a simple reply.
 */
class NbdErrorByFlagsTest {
    private static final int FLAGS = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_WRITE_ZEROES
            | Nbd.FLAG_SEND_FAST_ZERO;

    private final MemoryBlockDevice memory = new MemoryBlockDevice(1 << 20);
    private EmbeddedChannel channel;

    @AfterEach
    void tearDown() throws Exception {
        memory.shutdown();
        if (channel != null) {
            channel.finishAndReleaseAll();
        }
    }

    /** A connection to a device whose Write Zeroes is never supported, fast or not. */
    private EmbeddedChannel connection() {
        memory.mode = MemoryBlockDevice.Mode.INLINE;
        BlockDeviceWithoutZeroes device = new BlockDeviceWithoutZeroes(memory);
        NbdSession session = new NbdSession(new NbdExport("disk", "", device, false, List.of(), new ExportStats()),
                FLAGS, false, false, 32 << 20);
        channel = new EmbeddedChannel(new NbdCommandHandler(session, 8));
        return channel;
    }

    /** The error field of the simple reply to {@code handle}. */
    private static int replyError(EmbeddedChannel ch, long handle) {
        ByteBuf reply = ch.readOutbound();
        try {
            assertThat(reply.getInt(0)).isEqualTo(Nbd.SIMPLE_REPLY_MAGIC);
            assertThat(reply.getLong(8)).isEqualTo(handle);
            return reply.getInt(4);
        } finally {
            reply.release();
        }
    }

    @Test
    void should_answer_enotsup_to_a_write_zeroes_with_fast_zero() {
        EmbeddedChannel ch = connection();

        ch.writeInbound(new NbdRequest(Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_WRITE_ZEROES, 1, 0, 4096, null, false));

        assertThat(replyError(ch, 1)).isEqualTo(NbdError.ENOTSUP.value());
    }

    @Test
    void should_answer_einval_to_a_write_zeroes_without_fast_zero() {
        EmbeddedChannel ch = connection();

        ch.writeInbound(new NbdRequest(0, Nbd.CMD_WRITE_ZEROES, 2, 0, 4096, null, false));
        ch.writeInbound(new NbdRequest(Nbd.CMD_FLAG_NO_HOLE, Nbd.CMD_WRITE_ZEROES, 3, 0, 4096, null, false));

        assertThat(replyError(ch, 2)).isEqualTo(NbdError.EINVAL.value());
        assertThat(replyError(ch, 3)).isEqualTo(NbdError.EINVAL.value());
    }

    /** Write Zeroes fails as a controller without it makes it fail: not supported. */
    private static final class BlockDeviceWithoutZeroes extends ForwardingDevice {
        BlockDeviceWithoutZeroes(MemoryBlockDevice d) {
            super(d);
        }

        @Override
        public boolean canFastZero() {
            return false;
        }

        @Override
        public void writeZeroes(long offset, long length, boolean mayDeallocate, boolean fastOnly, boolean fua,
                                Completion done) {
            done.done(null, new BlockException(BlockException.Kind.NOT_SUPPORTED, "no Write Zeroes here"));
        }
    }
}
