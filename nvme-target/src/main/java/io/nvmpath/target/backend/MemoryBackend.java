package io.nvmpath.target.backend;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A sparse in-memory namespace: 64 KiB chunks allocated on first write; unwritten and zeroed ranges
 * read as zeroes. Work is a memory copy, done inline on the caller's thread.
 */
public final class MemoryBackend implements Backend {
    private static final int CHUNK_SHIFT = 16;
    private static final int CHUNK = 1 << CHUNK_SHIFT;
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);

    private final long size;
    private final ConcurrentHashMap<Long, byte[]> chunks = new ConcurrentHashMap<>();

    public MemoryBackend(long size) {
        this.size = size;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
        ByteBuf out = alloc.buffer(length);
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long index = pos >>> CHUNK_SHIFT;
            int within = (int) (pos & (CHUNK - 1));
            int n = (int) Math.min(CHUNK - within, end - pos);
            byte[] c = chunks.get(index);
            if (c == null) {
                out.writeZero(n);
            } else {
                out.writeBytes(c, within, n);
            }
            pos += n;
        }
        return CompletableFuture.completedFuture(out);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        int src = data.readerIndex();
        long pos = offset;
        long end = offset + data.readableBytes();
        while (pos < end) {
            long index = pos >>> CHUNK_SHIFT;
            int within = (int) (pos & (CHUNK - 1));
            int n = (int) Math.min(CHUNK - within, end - pos);
            byte[] c = chunks.computeIfAbsent(index, k -> new byte[CHUNK]);
            data.getBytes(src, c, within, n);
            src += n;
            pos += n;
        }
        return DONE;
    }

    @Override
    public CompletableFuture<Void> zero(long offset, long length) {
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long index = pos >>> CHUNK_SHIFT;
            int within = (int) (pos & (CHUNK - 1));
            int n = (int) Math.min(CHUNK - within, end - pos);
            if (n == CHUNK) {
                chunks.remove(index);
            } else {
                byte[] c = chunks.get(index);
                if (c != null) {
                    Arrays.fill(c, within, within + n, (byte) 0);
                }
            }
            pos += n;
        }
        return DONE;
    }

    @Override
    public CompletableFuture<Void> flush() {
        return DONE;
    }

    @Override
    public long sizeBytes() {
        return size;
    }

    /** Bytes of memory in use (allocated chunks). */
    public long allocatedBytes() {
        return (long) chunks.size() * CHUNK;
    }

    @Override
    public String describe() {
        return "memory";
    }

    @Override
    public void close() {
        chunks.clear();
    }
}
