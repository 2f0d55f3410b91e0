package io.nvmpath.fabric.host;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.nvmpath.fabric.nvme.DiscoveryLog;
import io.nvmpath.fabric.nvme.Opcodes;

import java.util.concurrent.CompletableFuture;

/**
 * Reads the Discovery log page (LID 70h) whole and consistent, by the generation-counter rule of the
 * specification (and of nvme-cli): read the header, then the header and all NUMREC entries, then the
 * header again; if GENCTR moved meanwhile, the log changed under the reads and they start over.
 */
public final class Discovery {
    /** Reads before giving up on a log that keeps changing; nvme-cli's MAX_DISCOVERY_RETRIES. */
    public static final int MAX_TRIES = 10;
    /** Largest single Get Log Page transfer; longer logs are read in pieces at increasing offsets. */
    public static final int MAX_CHUNK = 64 * 1024;
    /** Bound on NUMREC this host believes: 4096 entries are 4 MiB of log. */
    public static final long MAX_RECORDS = 4096;

    /** Reads {@code length} bytes of the log at byte {@code offset}; the caller releases the buffer. */
    @FunctionalInterface
    public interface LogPageReader {
        CompletableFuture<ByteBuf> read(long offset, int length);
    }

    private Discovery() {
    }

    /** Reads the discovery log of a controller connected to a discovery subsystem. */
    public static CompletableFuture<DiscoveryLog> readLog(Controller c) {
        return readLog((offset, length) -> c.admin(
                        Commands.getLogPage(Opcodes.LOG_DISCOVERY, 0, false, 0, offset, length),
                        "Get Log Page Discovery (offset " + offset + ", " + length + " bytes)")
                .thenApply(NvmeRequest::takeReadData));
    }

    /** As {@link #readLog(Controller)} over any source of log page reads (tests, other transports). */
    public static CompletableFuture<DiscoveryLog> readLog(LogPageReader reader) {
        return attempt(reader, 1);
    }

    private static CompletableFuture<DiscoveryLog> attempt(LogPageReader reader, int tryNo) {
        return readBytes(reader, 0, DiscoveryLog.HEADER_SIZE).thenCompose(header -> {
            long[] h = header(header);
            long generation = h[0];
            long records = h[1];
            if (records < 0 || records > MAX_RECORDS) {
                throw new IllegalStateException("discovery log reports " + Long.toUnsignedString(records)
                        + " records; this host reads at most " + MAX_RECORDS);
            }
            int total = DiscoveryLog.HEADER_SIZE + (int) records * DiscoveryLog.ENTRY_SIZE;
            return readBytes(reader, 0, total)
                    .thenCompose(whole -> readBytes(reader, 0, DiscoveryLog.HEADER_SIZE).thenCompose(again -> {
                        long[] w = header(whole);
                        long[] a = header(again);
                        if (w[0] == generation && a[0] == generation && w[1] == records && a[1] == records) {
                            ByteBuf b = Unpooled.wrappedBuffer(whole);
                            try {
                                return CompletableFuture.completedFuture(DiscoveryLog.parse(b));
                            } finally {
                                b.release();
                            }
                        }
                        if (tryNo >= MAX_TRIES) {
                            throw new IllegalStateException("discovery log changed during each of " + MAX_TRIES
                                    + " reads (generation counter " + Long.toUnsignedString(generation) + " -> "
                                    + Long.toUnsignedString(a[0]) + ")");
                        }
                        return attempt(reader, tryNo + 1);
                    }));
        });
    }

    private static long[] header(byte[] b) {
        ByteBuf buf = Unpooled.wrappedBuffer(b, 0, DiscoveryLog.HEADER_SIZE);
        try {
            return DiscoveryLog.parseHeader(buf);
        } finally {
            buf.release();
        }
    }

    /** Reads {@code [offset, offset + length)} in pieces of at most {@link #MAX_CHUNK} into one array. */
    private static CompletableFuture<byte[]> readBytes(LogPageReader reader, long offset, int length) {
        byte[] out = new byte[length];
        return readInto(reader, offset, out, 0).thenApply(v -> out);
    }

    private static CompletableFuture<Void> readInto(LogPageReader reader, long base, byte[] out, int at) {
        if (at == out.length) {
            return CompletableFuture.completedFuture(null);
        }
        int n = Math.min(MAX_CHUNK, out.length - at);
        return reader.read(base + at, n).thenCompose(b -> {
            try {
                if (b == null || b.readableBytes() < n) {
                    throw new IllegalStateException("discovery log read at offset " + (base + at) + " returned "
                            + (b == null ? 0 : b.readableBytes()) + " of " + n + " bytes");
                }
                b.getBytes(b.readerIndex(), out, at, n);
            } finally {
                if (b != null) {
                    b.release();
                }
            }
            return readInto(reader, base, out, at + n);
        });
    }
}
