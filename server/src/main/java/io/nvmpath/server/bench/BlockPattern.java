package io.nvmpath.server.bench;

import io.netty.buffer.ByteBuf;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The verify pattern: every logical block's content follows from its LBA and a seed, so any block
 * can be checked on its own whenever it is read. The first 8 bytes hold the LBA (little-endian), the
 * rest a SplitMix64 stream seeded by (seed, LBA). A block that comes back from the wrong LBA, stale,
 * torn or zeroed fails the check.
 *
 * <p>The pattern is built and compared in a per-thread scratch array and moves to or from the buffer
 * in one bulk copy: one buffer operation per I/O, not one per 8 bytes (which, under Netty's paranoid
 * leak detection, would record a stack trace each).
 */
final class BlockPattern {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final ThreadLocal<byte[]> SCRATCH = ThreadLocal.withInitial(() -> new byte[64 << 10]);

    private BlockPattern() {
    }

    private static byte[] scratch(int len) {
        byte[] s = SCRATCH.get();
        if (s.length < len) {
            s = new byte[len];
            SCRATCH.set(s);
        }
        return s;
    }

    /** Appends {@code blocks} blocks of {@code lbaSize} bytes from {@code lba} to {@code out}. */
    static void write(ByteBuf out, long seed, long lba, int blocks, int lbaSize) {
        int len = blocks * lbaSize;
        byte[] s = scratch(len);
        for (int b = 0; b < blocks; b++) {
            fill(s, b * lbaSize, seed, lba + b, lbaSize);
        }
        out.writeBytes(s, 0, len);
    }

    /**
     * Checks {@code blocks} blocks read from {@code lba}, starting at {@code in}'s reader index.
     *
     * @return the number of blocks that differ from the pattern
     */
    static int check(ByteBuf in, long seed, long lba, int blocks, int lbaSize) {
        int len = blocks * lbaSize;
        byte[] s = scratch(len);
        in.getBytes(in.readerIndex(), s, 0, len);
        int bad = 0;
        for (int b = 0; b < blocks; b++) {
            if (firstDifference(s, b * lbaSize, seed, lba + b, lbaSize) >= 0) {
                bad++;
            }
        }
        return bad;
    }

    /** The first byte offset within the block at {@code at} of {@code in} that differs, or -1. */
    static int firstDifference(ByteBuf in, int at, long seed, long lba, int lbaSize) {
        byte[] s = scratch(lbaSize);
        in.getBytes(at, s, 0, lbaSize);
        return firstDifference(s, 0, seed, lba, lbaSize);
    }

    private static void fill(byte[] s, int at, long seed, long lba, int lbaSize) {
        long x = start(seed, lba);
        LONG_LE.set(s, at, lba);
        for (int i = 8; i < lbaSize; i += 8) {
            x += GOLDEN;
            LONG_LE.set(s, at + i, mix(x));
        }
    }

    private static int firstDifference(byte[] s, int at, long seed, long lba, int lbaSize) {
        if ((long) LONG_LE.get(s, at) != lba) {
            return 0;
        }
        long x = start(seed, lba);
        for (int i = 8; i < lbaSize; i += 8) {
            x += GOLDEN;
            if ((long) LONG_LE.get(s, at + i) != mix(x)) {
                return i;
            }
        }
        return -1;
    }

    private static long start(long seed, long lba) {
        return mix(seed ^ (lba * GOLDEN));
    }

    /** SplitMix64's finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
