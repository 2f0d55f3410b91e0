package io.nvmpath.fabric.nvme;

import io.netty.buffer.ByteBuf;

import java.util.Arrays;

/**
 * The Changed Namespace List log page (LID 04h): up to 1024 NSIDs; a first entry of FFFFFFFFh means
 * more than 1024 changed, so the host must rescan everything.
 */
public record ChangedNamespaces(long[] nsids, boolean overflow) {
    public static final int SIZE = 4096;

    public static ChangedNamespaces parse(ByteBuf b) {
        int r = b.readerIndex();
        int n = Math.min(1024, b.readableBytes() / 4);
        if (n > 0 && b.getUnsignedIntLE(r) == 0xFFFFFFFFL) {
            return new ChangedNamespaces(new long[0], true);
        }
        long[] out = new long[n];
        int count = 0;
        for (int i = 0; i < n; i++) {
            long id = b.getUnsignedIntLE(r + 4 * i);
            if (id == 0) {
                break;
            }
            out[count++] = id;
        }
        return new ChangedNamespaces(Arrays.copyOf(out, count), false);
    }
}
