package io.nvmpath.fabric.auth;

import io.netty.buffer.ByteBuf;

/** Bounds and field checks shared by the authentication message codecs. */
final class Fields {
    private Fields() {
    }

    /** Fails unless {@code length} bytes are readable, naming the message and the field that is short. */
    static void require(ByteBuf b, long length, String message, String field) {
        if (b.readableBytes() < length) {
            throw new AuthProtocolException(FailureExplanation.INCORRECT_PAYLOAD, message + ": " + field + " needs "
                    + length + " bytes, " + b.readableBytes() + " given");
        }
    }

    /** Fails unless the message at the reader index has the expected AUTH_TYPE and AUTH_ID. */
    static void expect(ByteBuf b, int type, int id, String message) {
        int r = b.readerIndex();
        int t = b.getUnsignedByte(r);
        int i = b.getUnsignedByte(r + 1);
        if (t != type || i != id) {
            throw new AuthProtocolException(FailureExplanation.INCORRECT_MESSAGE, String.format(
                    "%s: AUTH_TYPE %02xh AUTH_ID %02xh, expected %02xh %02xh", message, t, i, type, id));
        }
    }

    static void header(ByteBuf out, int type, int id, int transactionId) {
        out.writeByte(type).writeByte(id).writeShortLE(0).writeShortLE(transactionId);
    }

    static byte[] bytes(ByteBuf b, int index, int length) {
        byte[] out = new byte[length];
        b.getBytes(index, out);
        return out;
    }

    static void u16(int v, String field) {
        if (v < 0 || v > 0xFFFF) {
            throw new IllegalArgumentException(field + " " + v + " does not fit 16 bits");
        }
    }

    static void u8(int v, String field) {
        if (v < 0 || v > 0xFF) {
            throw new IllegalArgumentException(field + " " + v + " does not fit 8 bits");
        }
    }
}
