package io.nvmpath.server.block;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Drives a {@link BlockDevice} from a test: each request gets an {@link Outcome} to wait on, and
 * {@link #assertEachCompletedOnce} checks at the end that no completion ran twice or never.
 */
final class BlockIo {
    private final BlockDevice dev;
    private final List<Outcome> outcomes = new CopyOnWriteArrayList<>();

    BlockIo(BlockDevice dev) {
        this.dev = dev;
    }

    /** One request's completion: what it was given, and how often it ran. */
    static final class Outcome implements BlockDevice.Completion {
        private final CompletableFuture<Void> settled = new CompletableFuture<>();
        final AtomicInteger calls = new AtomicInteger();
        volatile ByteBuf data;
        volatile Throwable failure;

        @Override
        public void done(ByteBuf data, Throwable failure) {
            if (calls.incrementAndGet() > 1) {
                if (data != null) {
                    data.release();
                }
                return;
            }
            this.data = data;
            this.failure = failure;
            settled.complete(null);
        }

        Outcome await() throws Exception {
            settled.get(10, TimeUnit.SECONDS);
            return this;
        }
    }

    Outcome outcome() {
        Outcome o = new Outcome();
        outcomes.add(o);
        return o;
    }

    static ByteBuf buffer(byte[] bytes) {
        return PooledByteBufAllocator.DEFAULT.directBuffer(bytes.length).writeBytes(bytes);
    }

    Outcome read(long offset, int length) throws Exception {
        Outcome o = outcome();
        dev.read(offset, length, o);
        return o.await();
    }

    /** Reads and copies the bytes out; the request must succeed. */
    byte[] readBytes(long offset, int length) throws Exception {
        Outcome o = read(offset, length);
        assertThat(o.failure).as("read of %d bytes at %d", length, offset).isNull();
        try {
            assertThat(o.data.readableBytes()).isEqualTo(length);
            return ByteBufUtil.getBytes(o.data);
        } finally {
            o.data.release();
        }
    }

    /** Sends a write without waiting; the buffer is handed over. */
    Outcome startWrite(long offset, ByteBuf data, boolean fua) {
        Outcome o = outcome();
        dev.write(offset, data, fua, o);
        return o;
    }

    /** Writes and waits; the request must succeed and must have released the buffer. */
    void write(long offset, byte[] bytes) throws Exception {
        ByteBuf b = buffer(bytes);
        Outcome o = startWrite(offset, b, false).await();
        assertThat(o.failure).as("write of %d bytes at %d", bytes.length, offset).isNull();
        assertThat(b.refCnt()).as("the written buffer is released").isZero();
    }

    Outcome writeZeroes(long offset, long length, boolean mayDeallocate, boolean fastOnly) throws Exception {
        Outcome o = outcome();
        dev.writeZeroes(offset, length, mayDeallocate, fastOnly, false, o);
        return o.await();
    }

    Outcome trim(long offset, long length) throws Exception {
        Outcome o = outcome();
        dev.trim(offset, length, o);
        return o.await();
    }

    Outcome flush() throws Exception {
        Outcome o = outcome();
        dev.flush(o);
        return o.await();
    }

    /**
     * Every request completed exactly once: {@code quiesce} returns once nothing can complete any
     * more, so a late second completion would have shown by then.
     */
    void assertEachCompletedOnce(Runnable quiesce) {
        quiesce.run();
        assertThat(outcomes).allSatisfy(o -> assertThat(o.calls.get()).as("completions of one request").isEqualTo(1));
    }
}
