package io.nvmpath.target.backend;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.util.concurrent.CompletableFuture;

/**
 * Where a namespace's blocks live. Offsets and lengths are in bytes and already checked against the
 * namespace's size. Futures may complete on another thread; callers hop back to their event loop.
 */
public interface Backend extends AutoCloseable {
    /** Reads {@code length} bytes; the buffer handed over is the caller's to release. */
    CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc);

    /** Writes the readable bytes of {@code data}; the caller keeps ownership until the future completes. */
    CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua);

    /** Makes the range read as zeroes (Write Zeroes, and Deallocate: DLFEAT says so). */
    CompletableFuture<Void> zero(long offset, long length);

    /** Makes completed writes durable. */
    CompletableFuture<Void> flush();

    /** Bytes the backend holds. */
    long sizeBytes();

    /** Short description for logs and the admin API ("memory", "file /path"). */
    String describe();

    @Override
    void close();
}
