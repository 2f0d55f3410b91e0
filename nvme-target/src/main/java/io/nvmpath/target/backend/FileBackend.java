package io.nvmpath.target.backend;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * A namespace on a file or block device, through positional {@link FileChannel} I/O on a blocking
 * executor (never on an event loop). FUA forces the data out before completion.
 */
public final class FileBackend implements Backend {
    private static final int ZERO_CHUNK = 1 << 20;

    private final Path path;
    private final FileChannel channel;
    private final long size;
    private final Executor blocking;

    /**
     * Opens {@code path}, creating a sparse file of {@code sizeBytes} when it does not exist.
     *
     * @param sizeBytes the size to use, or 0 for the file's own size
     */
    public FileBackend(Path path, long sizeBytes, Executor blocking) throws IOException {
        this.path = path;
        this.blocking = blocking;
        boolean exists = Files.exists(path);
        if (!exists && sizeBytes <= 0) {
            throw new IOException(path + " does not exist and no size was given to create it");
        }
        this.channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE,
                StandardOpenOption.CREATE);
        long actual = channel.size();
        if (!exists || (Files.isRegularFile(path) && actual < sizeBytes)) {
            try (var raf = new java.io.RandomAccessFile(path.toFile(), "rw")) {
                raf.setLength(sizeBytes);
            }
            actual = sizeBytes;
        }
        this.size = sizeBytes > 0 ? sizeBytes : actual;
        if (size <= 0) {
            channel.close();
            throw new IOException(path + " has no size (for a block device, give the size)");
        }
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
        return CompletableFuture.supplyAsync(() -> {
            ByteBuf out = alloc.directBuffer(length);
            try {
                ByteBuffer nio = out.nioBuffer(0, length);
                long pos = offset;
                while (nio.hasRemaining()) {
                    int n = channel.read(nio, pos);
                    if (n < 0) {
                        // past the end of a short file: the rest reads as zeroes
                        while (nio.hasRemaining()) {
                            nio.put((byte) 0);
                        }
                        break;
                    }
                    pos += n;
                }
                out.writerIndex(length);
                return out;
            } catch (IOException e) {
                out.release();
                throw new UncheckedIOException(e);
            }
        }, blocking);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        return CompletableFuture.runAsync(() -> {
            try {
                long pos = offset;
                for (ByteBuffer nio : data.nioBuffers()) {
                    while (nio.hasRemaining()) {
                        pos += channel.write(nio, pos);
                    }
                }
                if (fua) {
                    channel.force(false);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, blocking);
    }

    @Override
    public CompletableFuture<Void> zero(long offset, long length) {
        return CompletableFuture.runAsync(() -> {
            try {
                ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(ZERO_CHUNK, length));
                long pos = offset;
                long end = offset + length;
                while (pos < end) {
                    zeros.clear().limit((int) Math.min(zeros.capacity(), end - pos));
                    while (zeros.hasRemaining()) {
                        pos += channel.write(zeros, pos);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, blocking);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return CompletableFuture.runAsync(() -> {
            try {
                channel.force(false);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, blocking);
    }

    @Override
    public long sizeBytes() {
        return size;
    }

    @Override
    public String describe() {
        return "file " + path;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
