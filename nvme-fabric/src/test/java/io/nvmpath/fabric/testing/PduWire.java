package io.nvmpath.fabric.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.nvmpath.fabric.tcp.ConnectionParams;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.fabric.tcp.PduEncoder;

/**
 * A PDU as the bytes a peer puts on the wire, made by the project's own encoder: what a test feeds
 * a decoder, cuts into socket reads, or writes to a socket.
 */
public final class PduWire {
    private PduWire() {
    }

    /**
     * The encoded bytes of {@code pdu} with {@code params}' digests, in one heap buffer the caller
     * owns; {@code pdu}'s data is released, as writing it would.
     */
    public static ByteBuf encode(Pdu pdu, ConnectionParams params) {
        EmbeddedChannel enc = new EmbeddedChannel(new PduEncoder(params));
        enc.writeOutbound(pdu);
        ByteBuf all = Unpooled.buffer();
        ByteBuf part;
        while ((part = enc.readOutbound()) != null) {
            all.writeBytes(part);
            part.release();
        }
        enc.finishAndReleaseAll();
        return all;
    }
}
