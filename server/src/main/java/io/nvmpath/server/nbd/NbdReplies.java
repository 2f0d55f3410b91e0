package io.nvmpath.server.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;

/**
 * Encodes transmission-phase replies: the simple reply, and the structured reply chunks this server
 * sends (each reply is one chunk carrying {@link Nbd#REPLY_FLAG_DONE}). Data never passes through
 * here: a READ's data follows its header as the device's own buffer.
 */
final class NbdReplies {
    /** Error messages are cut to this many characters (the protocol's limit is 4096 bytes). */
    static final int MAX_MESSAGE_CHARS = 256;

    private NbdReplies() {
    }

    /** Simple reply: magic, error (0 on success), handle; a successful READ's data follows. */
    static ByteBuf simple(ByteBufAllocator alloc, long handle, NbdError error) {
        ByteBuf b = alloc.buffer(Nbd.SIMPLE_REPLY_LENGTH);
        b.writeInt(Nbd.SIMPLE_REPLY_MAGIC);
        b.writeInt(error == null ? 0 : error.value());
        b.writeLong(handle);
        return b;
    }

    /** The final chunk NBD_REPLY_TYPE_NONE: success without data. */
    static ByteBuf none(ByteBufAllocator alloc, long handle) {
        ByteBuf b = alloc.buffer(Nbd.STRUCTURED_HEADER_LENGTH);
        header(b, Nbd.REPLY_TYPE_NONE, handle, 0);
        return b;
    }

    /**
     * The header of a final NBD_REPLY_TYPE_OFFSET_DATA chunk and its offset field; the
     * {@code dataLength} bytes of data follow it.
     */
    static ByteBuf offsetDataHeader(ByteBufAllocator alloc, long handle, long offset, int dataLength) {
        ByteBuf b = alloc.buffer(Nbd.STRUCTURED_HEADER_LENGTH + 8);
        header(b, Nbd.REPLY_TYPE_OFFSET_DATA, handle, 8 + dataLength);
        b.writeLong(offset);
        return b;
    }

    /** A final NBD_REPLY_TYPE_BLOCK_STATUS chunk with one extent. */
    static ByteBuf blockStatus(ByteBufAllocator alloc, long handle, int contextId, long extentLength, int extentFlags) {
        ByteBuf b = alloc.buffer(Nbd.STRUCTURED_HEADER_LENGTH + 12);
        header(b, Nbd.REPLY_TYPE_BLOCK_STATUS, handle, 12);
        b.writeInt(contextId);
        b.writeInt((int) extentLength);
        b.writeInt(extentFlags);
        return b;
    }

    /** A final NBD_REPLY_TYPE_ERROR chunk: the error and a message for a human. */
    static ByteBuf error(ByteBufAllocator alloc, long handle, NbdError error, String message) {
        String text = message == null ? "" : message.length() > MAX_MESSAGE_CHARS
                ? message.substring(0, MAX_MESSAGE_CHARS) : message;
        int textLength = ByteBufUtil.utf8Bytes(text);
        ByteBuf b = alloc.buffer(Nbd.STRUCTURED_HEADER_LENGTH + 6 + textLength);
        header(b, Nbd.REPLY_TYPE_ERROR, handle, 6 + textLength);
        b.writeInt(error.value());
        b.writeShort(textLength);
        ByteBufUtil.reserveAndWriteUtf8(b, text, textLength);
        return b;
    }

    private static void header(ByteBuf b, int type, long handle, int length) {
        b.writeInt(Nbd.STRUCTURED_REPLY_MAGIC);
        b.writeShort(Nbd.REPLY_FLAG_DONE);
        b.writeShort(type);
        b.writeLong(handle);
        b.writeInt(length);
    }
}
