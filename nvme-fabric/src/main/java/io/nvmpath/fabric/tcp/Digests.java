package io.nvmpath.fabric.tcp;

import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * NVMe/TCP header and data digests: CRC32C as the JDK computes it (seed 0xFFFFFFFF, final xor,
 * hardware-accelerated), carried little-endian on the wire.
 */
public final class Digests {
    /** Length of a header or data digest on the wire. */
    public static final int LENGTH = 4;

    private static final ThreadLocal<CRC32C> CRC = ThreadLocal.withInitial(CRC32C::new);

    private Digests() {
    }

    /** CRC32C of {@code length} bytes of {@code buf} from absolute {@code index}, without moving indexes. */
    public static int crc32c(ByteBuf buf, int index, int length) {
        CRC32C crc = CRC.get();
        crc.reset();
        update(crc, buf, index, length);
        return (int) crc.getValue();
    }

    /** CRC32C over several buffers' readable bytes, as if they were one. */
    public static int crc32c(ByteBuf... bufs) {
        CRC32C crc = CRC.get();
        crc.reset();
        for (ByteBuf b : bufs) {
            update(crc, b, b.readerIndex(), b.readableBytes());
        }
        return (int) crc.getValue();
    }

    private static void update(CRC32C crc, ByteBuf buf, int index, int length) {
        if (length == 0) {
            return;
        }
        if (buf.hasArray()) {
            crc.update(buf.array(), buf.arrayOffset() + index, length);
            return;
        }
        if (buf.nioBufferCount() == 1) {
            crc.update(buf.internalNioBuffer(index, length).duplicate());
            return;
        }
        for (ByteBuffer bb : buf.nioBuffers(index, length)) {
            crc.update(bb);
        }
    }
}
