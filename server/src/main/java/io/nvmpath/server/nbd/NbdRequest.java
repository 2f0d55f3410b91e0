package io.nvmpath.server.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.util.AbstractReferenceCounted;

/**
 * One transmission-phase request as the client sent it: the header fields and, for a WRITE whose
 * payload was kept, the payload as a retained slice of the received bytes.
 *
 * <p>Reference counted so that a request nobody handles is still released by the pipeline's tail;
 * the handler takes the payload out with {@link #takePayload()} when it hands it to the device.
 */
final class NbdRequest extends AbstractReferenceCounted {
    final int flags;
    final int type;
    final long handle;
    /** Unsigned 64-bit offset, as sent (may be "negative" as a Java long). */
    final long offset;
    /** Unsigned 32-bit length, widened. */
    final long length;
    /** A WRITE whose payload the decoder read and dropped (too large, or a read-only export). */
    final boolean payloadDiscarded;
    private ByteBuf payload;

    NbdRequest(int flags, int type, long handle, long offset, long length, ByteBuf payload, boolean payloadDiscarded) {
        this.flags = flags;
        this.type = type;
        this.handle = handle;
        this.offset = offset;
        this.length = length;
        this.payload = payload;
        this.payloadDiscarded = payloadDiscarded;
    }

    /** The payload, handed over to the caller (who then owns and releases it); null if none. */
    ByteBuf takePayload() {
        ByteBuf p = payload;
        payload = null;
        return p;
    }

    @Override
    protected void deallocate() {
        ByteBuf p = takePayload();
        if (p != null) {
            p.release();
        }
    }

    @Override
    public NbdRequest touch(Object hint) {
        if (payload != null) {
            payload.touch(hint);
        }
        return this;
    }

    @Override
    public String toString() {
        return Nbd.commandName(type) + " handle=" + Long.toHexString(handle) + " offset=" + Long.toUnsignedString(offset)
                + " length=" + length + " flags=0x" + Integer.toHexString(flags);
    }
}
