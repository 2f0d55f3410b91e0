package io.nvmpath.server.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.nvmpath.server.block.BlockDevice;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A {@link BlockDevice} in memory, for tests: honours the contract (exactly one completion, read
 * data handed over in a pooled buffer, write data released), records every call, completes inline,
 * on another thread, alternately, or holds completions until the test lets them go, and fails the
 * calls an injector picks.
 */
final class MemoryBlockDevice implements BlockDevice {

    /** Where and when completions run. */
    enum Mode {
        /** On the calling thread, before the call returns. */
        INLINE,
        /** On the device's own thread. */
        OTHER_THREAD,
        /** Inline and on the device's thread in turn. */
        MIXED,
        /** Held until {@link #releaseHeld} or {@link #releaseHeldInReverse}; the effect happens then. */
        HOLD
    }

    /** One call as the device received it. */
    record Call(String op, long offset, long length, boolean fua, boolean mayDeallocate, boolean fastOnly) {
    }

    private final byte[] bytes;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "memory-device");
        t.setDaemon(true);
        return t;
    });
    private final List<Call> calls = new CopyOnWriteArrayList<>();
    private final List<Runnable> held = new ArrayList<>();
    private final AtomicInteger outstanding = new AtomicInteger();
    private final AtomicInteger maxOutstanding = new AtomicInteger();
    private final AtomicInteger turn = new AtomicInteger();

    volatile Mode mode = Mode.MIXED;
    volatile int blockSize = 512;
    volatile int preferredBlockSize = 4096;
    volatile boolean readOnly;
    volatile boolean canFlush = true;
    volatile boolean canFua = true;
    volatile boolean canTrim = true;
    volatile boolean canFastZero = true;
    volatile boolean flushCoversAllConnections = true;
    /** The buffer the last successful read handed over (for identity checks only: not owned here). */
    volatile ByteBuf lastReadData;
    /** Picks the failure of a call, or null to let it succeed. */
    volatile Function<Call, Throwable> failures = c -> null;

    MemoryBlockDevice(int size) {
        this.bytes = new byte[size];
    }

    @Override
    public long size() {
        return bytes.length;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public int preferredBlockSize() {
        return preferredBlockSize;
    }

    @Override
    public int maxTransfer() {
        return 128 * 1024;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public boolean canFlush() {
        return canFlush;
    }

    @Override
    public boolean canFua() {
        return canFua;
    }

    @Override
    public boolean canTrim() {
        return canTrim;
    }

    @Override
    public boolean canFastZero() {
        return canFastZero;
    }

    @Override
    public boolean flushCoversAllConnections() {
        return flushCoversAllConnections;
    }

    @Override
    public void read(long offset, int length, Completion done) {
        Call call = record(new Call("read", offset, length, false, false, false));
        run(call, done, () -> {
            ByteBuf data = PooledByteBufAllocator.DEFAULT.directBuffer(length);
            synchronized (bytes) {
                data.writeBytes(bytes, (int) offset, length);
            }
            lastReadData = data;
            return data;
        });
    }

    @Override
    public void write(long offset, ByteBuf data, boolean fua, Completion done) {
        Call call = record(new Call("write", offset, data.readableBytes(), fua, false, false));
        run(call, done, () -> {
            try {
                synchronized (bytes) {
                    data.getBytes(data.readerIndex(), bytes, (int) offset, data.readableBytes());
                }
            } finally {
                data.release();
            }
            return null;
        }, data);
    }

    @Override
    public void flush(Completion done) {
        run(record(new Call("flush", 0, 0, false, false, false)), done, () -> null);
    }

    @Override
    public void trim(long offset, long length, Completion done) {
        run(record(new Call("trim", offset, length, false, false, false)), done, () -> null);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayDeallocate, boolean fastOnly, boolean fua,
                            Completion done) {
        Call call = record(new Call("write_zeroes", offset, length, fua, mayDeallocate, fastOnly));
        run(call, done, () -> {
            synchronized (bytes) {
                java.util.Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
            }
            return null;
        });
    }

    /** The effect of one call: returns the read data, or null. */
    private interface Effect {
        ByteBuf apply();
    }

    private void run(Call call, Completion done, Effect effect) {
        run(call, done, effect, null);
    }

    /** Runs {@code effect} and completes, where {@link #mode} says; {@code owned} is released if the call fails. */
    private void run(Call call, Completion done, Effect effect, ByteBuf owned) {
        int now = outstanding.incrementAndGet();
        maxOutstanding.accumulateAndGet(now, Math::max);
        Runnable complete = () -> {
            Throwable failure = failures.apply(call);
            outstanding.decrementAndGet();
            if (failure != null) {
                if (owned != null) {
                    owned.release();
                }
                done.done(null, failure);
            } else {
                done.done(effect.apply(), null);
            }
        };
        Mode m = mode;
        if (m == Mode.MIXED) {
            m = turn.getAndIncrement() % 2 == 0 ? Mode.INLINE : Mode.OTHER_THREAD;
        }
        switch (m) {
            case INLINE -> complete.run();
            case OTHER_THREAD -> thread.execute(complete);
            case HOLD -> {
                synchronized (held) {
                    held.add(complete);
                    held.notifyAll();
                }
            }
            default -> throw new IllegalStateException(m.name());
        }
    }

    private Call record(Call call) {
        calls.add(call);
        return call;
    }

    List<Call> calls() {
        return calls;
    }

    /** The calls of one operation ("read", "write", "flush", "trim", "write_zeroes"). */
    List<Call> calls(String op) {
        return calls.stream().filter(c -> c.op().equals(op)).toList();
    }

    /** The most calls outstanding at once so far. */
    int maxOutstanding() {
        return maxOutstanding.get();
    }

    int outstanding() {
        return outstanding.get();
    }

    /** Waits until {@code n} completions are held (at most 10 s). */
    void awaitHeld(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        synchronized (held) {
            while (held.size() < n) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("expected " + n + " held completions, have " + held.size());
                }
                TimeUnit.NANOSECONDS.timedWait(held, left);
            }
        }
    }

    int heldCount() {
        synchronized (held) {
            return held.size();
        }
    }

    /** Completes the held calls in the order they came, on the device's thread. */
    void releaseHeld() {
        List<Runnable> run = takeHeld();
        run.forEach(thread::execute);
    }

    /** Completes the held calls last first, on the device's thread. */
    void releaseHeldInReverse() {
        List<Runnable> run = takeHeld();
        Collections.reverse(run);
        run.forEach(thread::execute);
    }

    /** Completes the held calls in the order they came, on the calling thread (for embedded channels). */
    void runHeldHere() {
        takeHeld().forEach(Runnable::run);
    }

    private List<Runnable> takeHeld() {
        synchronized (held) {
            List<Runnable> run = new ArrayList<>(held);
            held.clear();
            return run;
        }
    }

    /** A copy of {@code length} bytes at {@code offset}. */
    byte[] contents(int offset, int length) {
        synchronized (bytes) {
            return java.util.Arrays.copyOfRange(bytes, offset, offset + length);
        }
    }

    void fill(int offset, byte[] data) {
        synchronized (bytes) {
            System.arraycopy(data, 0, bytes, offset, data.length);
        }
    }

    /** Completes what is held, waits for the device thread, and stops it. */
    void shutdown() throws InterruptedException {
        releaseHeld();
        thread.shutdown();
        thread.awaitTermination(10, TimeUnit.SECONDS);
    }
}
