package io.nvmpath.fabric.nvme;

import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;

/** Field readers shared by the data-structure parsers: fixed-width ASCII and byte ranges. */
final class Wire {
    private Wire() {
    }

    /** An ASCII field, space- or NUL-padded, trimmed. */
    static String ascii(ByteBuf b, int index, int length) {
        int end = index + length;
        int last = index;
        for (int i = index; i < end; i++) {
            byte c = b.getByte(i);
            if (c == 0) {
                break;
            }
            last = i + 1;
        }
        return b.toString(index, last - index, StandardCharsets.US_ASCII).trim();
    }

    static byte[] bytes(ByteBuf b, int index, int length) {
        byte[] out = new byte[length];
        b.getBytes(index, out);
        return out;
    }

    static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) {
            sb.append(Character.forDigit((x >> 4) & 0xF, 16)).append(Character.forDigit(x & 0xF, 16));
        }
        return sb.toString();
    }

    /** Writes {@code s} as ASCII into a zero-filled field of {@code length} bytes at {@code index}. */
    static void putAscii(ByteBuf b, int index, int length, String s, byte pad) {
        byte[] v = s.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < length; i++) {
            b.setByte(index + i, i < v.length ? v[i] : pad);
        }
    }

    static void require(ByteBuf b, int length, String what) {
        if (b.readableBytes() < length) {
            throw new IllegalArgumentException(what + " needs " + length + " bytes, got " + b.readableBytes());
        }
    }
}
