package io.nvmpath.server.cli;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.NvmeRequest;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Moves a range of blocks with Read or Write commands, each within the controller's transfer limit
 * and at most {@link #MAX_IN_FLIGHT} at once.
 *
 * <p>The command thread builds, submits and finishes every command; the event loops only hand
 * completions over through a queue, so file and stdout I/O never runs on them. Read data arrives in
 * any order and is written out in block order. Every received buffer is released exactly once; a
 * write buffer is released once its command completed. After the first failure nothing new is sent,
 * and the commands still outstanding are waited for and their buffers released.
 */
final class BlockTransfer {
    static final int MAX_IN_FLIGHT = 16;
    static final long MAX_COMMAND_BYTES = 1 << 20;
    /** NLB is a 16-bit 0's based field. */
    static final int MAX_COMMAND_BLOCKS = 65536;
    /** Longest wait for one completion: the controller's I/O timeout (30 s) resets and aborts before. */
    static final long IO_SECONDS = 60;

    /** The blocks to move: NLB-sized pieces of {@code [startBlock, startBlock + blockCount)}. */
    record Range(int nsid, long startBlock, long blockCount, int lbaSize) {
        long bytes() {
            return Math.multiplyExact(blockCount, (long) lbaSize);
        }
    }

    /** What was moved: blocks, bytes, commands sent, elapsed time. */
    record Result(long blocks, long bytes, long commands, long nanos) {
    }

    /** One command of the transfer, built and finished on the command thread. */
    private interface Step {
        /** Builds the command for {@code nlb} blocks at {@code slba} (a write reads its data here). */
        NvmeRequest start(long slba, int nlb) throws IOException;

        /** A command completed successfully. */
        void done(long index, NvmeRequest r) throws IOException;

        /** A command failed, or completed after the transfer had already failed: release what it holds. */
        void discard(NvmeRequest r);

        /** The transfer is over: release anything still held. */
        void close();
    }

    private record Completion(long index, NvmeRequest request, Throwable error) {
    }

    private BlockTransfer() {
    }

    /** Blocks per command: within MDTS, 1 MiB and NLB's 65536. */
    static int blocksPerCommand(long maxTransferBytes, int lbaSize) {
        long bytes = Math.min(maxTransferBytes, MAX_COMMAND_BYTES);
        long blocks = Math.min(bytes / lbaSize, MAX_COMMAND_BLOCKS);
        if (blocks < 1) {
            throw new Failures.CliException("the controller's maximum transfer of " + maxTransferBytes
                    + " bytes is smaller than one " + lbaSize + "-byte block");
        }
        return (int) blocks;
    }

    /** Reads the range and writes it, in block order, to {@code sink}. */
    static Result read(Controller c, Range range, OutputStream sink) throws IOException {
        TreeMap<Long, ByteBuf> arrived = new TreeMap<>();
        return run(c, range, "Read", new Step() {
            private long nextOut;

            @Override
            public NvmeRequest start(long slba, int nlb) {
                return Commands.read(range.nsid(), slba, nlb, range.lbaSize());
            }

            @Override
            public void done(long index, NvmeRequest r) throws IOException {
                ByteBuf b = r.takeReadData();
                if (b == null || b.readableBytes() != r.dataLength()) {
                    int got = b == null ? 0 : b.readableBytes();
                    if (b != null) {
                        b.release();
                    }
                    throw new Failures.CliException("Read returned " + got + " of " + r.dataLength() + " bytes");
                }
                arrived.put(index, b);
                while ((b = arrived.remove(nextOut)) != null) {
                    nextOut++;
                    try {
                        b.readBytes(sink, b.readableBytes());
                    } finally {
                        b.release();
                    }
                }
            }

            @Override
            public void discard(NvmeRequest r) {
                ByteBuf b = r.takeReadData();
                if (b != null) {
                    b.release();
                }
            }

            @Override
            public void close() {
                arrived.values().forEach(ByteBuf::release);
                arrived.clear();
            }
        });
    }

    /** Writes the range from {@code source}, whose byte 0 goes to the range's first block. */
    static Result write(Controller c, Range range, FileChannel source, boolean fua) throws IOException {
        return run(c, range, "Write", new Step() {
            @Override
            public NvmeRequest start(long slba, int nlb) throws IOException {
                int length = nlb * range.lbaSize();
                long position = (slba - range.startBlock()) * range.lbaSize();
                ByteBuf data = ByteBufAllocator.DEFAULT.buffer(length);
                try {
                    while (data.isWritable()) {
                        int n = data.writeBytes(source, position + data.writerIndex(), data.writableBytes());
                        if (n < 0) {
                            throw new IOException("the data file ended at byte " + (position + data.writerIndex())
                                    + "; it changed while being written");
                        }
                    }
                    return Commands.write(range.nsid(), slba, nlb, data, fua);
                } catch (IOException | RuntimeException e) {
                    data.release();
                    throw e;
                }
            }

            @Override
            public void done(long index, NvmeRequest r) {
                r.writeData().release();
            }

            @Override
            public void discard(NvmeRequest r) {
                r.writeData().release();
            }

            @Override
            public void close() {
            }
        });
    }

    private static Result run(Controller c, Range range, String op, Step step) throws IOException {
        int per = blocksPerCommand(c.maxTransferBytes(), range.lbaSize());
        long commands = (range.blockCount() + per - 1) / per;
        BlockingQueue<Completion> completions = new LinkedBlockingQueue<>();
        long next = 0;
        int inFlight = 0;
        Throwable failure = null;
        long start = System.nanoTime();
        try {
            while (inFlight > 0 || (failure == null && next < commands)) {
                while (failure == null && inFlight < MAX_IN_FLIGHT && next < commands) {
                    long index = next;
                    long slba = range.startBlock() + index * per;
                    int nlb = (int) Math.min(per, range.blockCount() - index * per);
                    NvmeRequest r;
                    try {
                        r = step.start(slba, nlb);
                    } catch (IOException | RuntimeException e) {
                        failure = e;
                        break;
                    }
                    next++;
                    inFlight++;
                    c.io(r, op + " of " + nlb + " blocks at LBA " + slba)
                            .whenComplete((done, err) -> completions.add(new Completion(index, r, err)));
                }
                if (inFlight == 0) {
                    break;
                }
                Completion d = completions.poll(IO_SECONDS, TimeUnit.SECONDS);
                if (d == null) {
                    throw new Failures.CliException(op + ": no completion within " + IO_SECONDS + " s with "
                            + inFlight + " commands outstanding", failure);
                }
                inFlight--;
                if (d.error() != null || failure != null) {
                    step.discard(d.request());
                    if (failure == null) {
                        failure = d.error();
                    }
                    continue;
                }
                try {
                    step.done(d.index(), d.request());
                } catch (IOException | RuntimeException e) {
                    failure = e;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failures.CliException(op + " interrupted");
        } finally {
            step.close();
        }
        if (failure != null) {
            Throwable f = Failures.unwrap(failure);
            if (f instanceof IOException io) {
                throw io;
            }
            if (f instanceof RuntimeException re) {
                throw re;
            }
            throw new Failures.CliException(Failures.message(f), f);
        }
        return new Result(range.blockCount(), range.bytes(), commands, System.nanoTime() - start);
    }
}
