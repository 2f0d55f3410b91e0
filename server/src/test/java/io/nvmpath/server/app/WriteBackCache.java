package io.nvmpath.server.app;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.nvmpath.target.backend.Backend;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * A namespace with a volatile write cache, as the target reports one (VWC): writes complete into
 * the cache, reads see them, and only Flush (or FUA) makes them durable; {@link #powerLoss()} drops
 * what was not. One cache per namespace, whichever controller a command came through — as in NVMe.
 */
final class WriteBackCache implements Backend {
    private final Backend durable;
    /** Unflushed writes by offset; later writes win where they overlap. */
    private final TreeMap<Long, byte[]> dirty = new TreeMap<>();
    private int flushes;

    WriteBackCache(Backend durable) {
        this.durable = durable;
    }

    @Override
    public synchronized CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
        ByteBuf b = durable.read(offset, length, alloc).join();
        for (Map.Entry<Long, byte[]> e : dirty.entrySet()) {
            long from = Math.max(offset, e.getKey());
            long to = Math.min(offset + length, e.getKey() + e.getValue().length);
            if (from < to) {
                b.setBytes(b.readerIndex() + (int) (from - offset), e.getValue(), (int) (from - e.getKey()),
                        (int) (to - from));
            }
        }
        return CompletableFuture.completedFuture(b);
    }

    @Override
    public synchronized CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        if (fua) {
            return durable.write(offset, data, true);
        }
        byte[] copy = new byte[data.readableBytes()];
        data.getBytes(data.readerIndex(), copy);
        // kept by offset: unflushed writes that overlap at different offsets are not ordered (the tests
        // that use this write disjoint ranges)
        dirty.put(offset, copy);
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public synchronized CompletableFuture<Void> zero(long offset, long length) {
        flushNow();
        return durable.zero(offset, length);
    }

    @Override
    public synchronized CompletableFuture<Void> flush() {
        flushes++;
        flushNow();
        return durable.flush();
    }

    private void flushNow() {
        for (Map.Entry<Long, byte[]> e : dirty.entrySet()) {
            durable.write(e.getKey(), io.netty.buffer.Unpooled.wrappedBuffer(e.getValue()), false).join();
        }
        dirty.clear();
    }

    /** The power fails: unflushed writes are gone. */
    synchronized void powerLoss() {
        dirty.clear();
    }

    synchronized int flushes() {
        return flushes;
    }

    @Override
    public long sizeBytes() {
        return durable.sizeBytes();
    }

    @Override
    public String describe() {
        return "memory with a volatile write cache";
    }

    @Override
    public void close() {
        durable.close();
    }
}
