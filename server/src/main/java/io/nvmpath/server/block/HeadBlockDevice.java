package io.nvmpath.server.block;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.NvmeException;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.multipath.NamespaceHead;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;

/**
 * A namespace head served as a byte-addressed block device: where an NBD request becomes NVMe
 * commands.
 *
 * <p>A request larger than the head's transfer limit is split into commands sent together; the read
 * pieces come back as one buffer, the transport's own (one piece) or a composite of them (several),
 * never a copy. A write or zeroing that starts or ends inside a block reads that edge block, merges
 * and writes it back (the edge blocks are the only bytes copied); {@link RangeLock} keeps every other
 * write to those blocks out meanwhile. While none is in progress, whole-block writes pay only an
 * increment and a decrement of one counter for that (so that a merge starting later waits for them).
 *
 * <p>Flush is sent even when no controller reports a volatile write cache: the paths, and so the
 * caches behind them, can change after the export advertised its flags, and a Flush costs one round
 * trip where there is no cache. Capabilities (Dataset Management, Write Zeroes, transfer limit) are
 * re-read from the head on each request, since paths come and go: a trim while no path offers Dataset
 * Management succeeds without I/O (it is a hint), and zeroing falls back to writing zeroes.
 *
 * <p>Failures: a command that fails completes the request with an {@link NvmeException} carrying its
 * status; a request of several commands completes once, after all its commands finished, with the
 * first failure. A head that has left its subsystem fails requests with {@link BlockException.Kind#SHUTDOWN}
 * before any I/O (a head that leaves during a request fails its commands with Host Pathing Error).
 */
public final class HeadBlockDevice implements BlockDevice {
    private static final Logger log = LoggerFactory.getLogger(HeadBlockDevice.class);

    /** NLB is 16 bits: the most blocks one Write Zeroes names. */
    static final int MAX_WRITE_ZEROES_BLOCKS = 65536;
    /** A Dataset Management range's length is 32 bits. */
    static final long MAX_DSM_RANGE_BLOCKS = 0xFFFF_FFFFL;
    /** A Dataset Management command carries at most 256 ranges (NR is 8 bits, 0's based). */
    static final int MAX_DSM_RANGES = 256;
    /** Commands of one request outstanding at once; the rest are sent as these complete. */
    static final int MAX_IN_FLIGHT = 64;
    /** The most one command writes when zeroes must be written as data. */
    static final int MAX_ZERO_BUFFER = 1 << 20;
    /** The page size an NBD client's cache works in: the least preferred block size offered. */
    static final int PAGE_SIZE = 4096;

    private final NamespaceHead head;
    private final int nsid;
    private final int lbaSize;
    private final int lbaShift;
    private final long size;
    private final ByteBufAllocator alloc;
    private final RangeLock order = new RangeLock();

    public HeadBlockDevice(NamespaceHead head) {
        this(head, ByteBufAllocator.DEFAULT);
    }

    /** @param alloc for merged edge blocks, DSM range lists, zero buffers and read composites */
    public HeadBlockDevice(NamespaceHead head, ByteBufAllocator alloc) {
        int lba = head.lbaSize();
        if (lba <= 0 || Integer.bitCount(lba) != 1) {
            throw new IllegalArgumentException("LBA size " + lba + " of " + head + " is not a power of two");
        }
        this.head = head;
        this.nsid = head.nsid();
        this.lbaSize = lba;
        this.lbaShift = Integer.numberOfTrailingZeros(lba);
        this.size = head.sizeBytes();
        this.alloc = alloc;
    }

    /**
     * The pieces of a read as one buffer without copying: a flat composite of their own components (a
     * piece that spanned socket reads is itself a composite), so the NBD reply is one gathering write.
     */
    private ByteBuf flatten(ByteBuf[] parts) {
        CompositeByteBuf whole = alloc.compositeBuffer(Integer.MAX_VALUE);
        for (ByteBuf part : parts) {
            whole.addFlattenedComponents(true, part);
        }
        return whole;
    }

    public NamespaceHead head() {
        return head;
    }

    /** The ordering of writes against read-modify-writes (tests: idle once every request completed). */
    RangeLock rangeLock() {
        return order;
    }

    // ---- geometry and capabilities ------------------------------------------------------------

    @Override
    public long size() {
        return size;
    }

    @Override
    public int blockSize() {
        return lbaSize;
    }

    /**
     * A page, or the namespace's optimal write size (NOWS, else NPWG, when OPTPERF says they are
     * valid) if larger; as a power of two (rounded down), at most the transfer limit.
     */
    @Override
    public int preferredBlockSize() {
        long preferred = Math.max(lbaSize, PAGE_SIZE);
        IdentifyNamespace id = head.identity();
        if (id != null && (id.nsfeat() & IdentifyNamespace.NSFEAT_OPTPERF) != 0) {
            long optimal = (long) ((id.nows() != 0 ? id.nows() : id.npwg()) + 1) * lbaSize;
            preferred = Math.max(preferred, Long.highestOneBit(optimal));
        }
        return (int) Math.max(lbaSize, Math.min(preferred, Integer.highestOneBit(maxTransfer())));
    }

    /** The head's limit now: the smallest MDTS of its current paths, whole blocks. */
    @Override
    public int maxTransfer() {
        return head.maxTransferBytes();
    }

    /** The export layer decides read-only; a namespace head takes writes. */
    @Override
    public boolean readOnly() {
        return false;
    }

    @Override
    public boolean canFlush() {
        return true;
    }

    @Override
    public boolean canFua() {
        return true;
    }

    /** Every controller of the head supports Dataset Management (ONCS bit 2). */
    @Override
    public boolean canTrim() {
        return (head.commandSupport() & IdentifyController.ONCS_DSM) != 0;
    }

    /** Every controller of the head supports Write Zeroes (ONCS bit 3). */
    @Override
    public boolean canFastZero() {
        return (head.commandSupport() & IdentifyController.ONCS_WRITE_ZEROES) != 0;
    }

    @Override
    public boolean flushCoversAllConnections() {
        return true;
    }

    // ---- requests -----------------------------------------------------------------------------

    @Override
    public void read(long offset, int length, Completion done) {
        if (offset < 0 || length < 0 || offset > size - length) {
            fail(done, BlockException.Kind.INVALID, "read of " + length + " bytes at " + offset
                    + " is outside the " + size + "-byte device");
            return;
        }
        if (length == 0) {
            complete(done, Unpooled.EMPTY_BUFFER, null);
            return;
        }
        if (head.gone()) {
            gone(done);
            return;
        }
        long first = offset >>> lbaShift;
        long end = (offset + length + lbaSize - 1) >>> lbaShift;
        new BlockRead(first, end, (int) (offset - (first << lbaShift)), length, done).start();
    }

    @Override
    public void write(long offset, ByteBuf data, boolean fua, Completion done) {
        int length = data.readableBytes();
        if (offset < 0 || offset > size - length) {
            data.release();
            fail(done, offset < 0 ? BlockException.Kind.INVALID : BlockException.Kind.NO_SPACE, "write of " + length
                    + " bytes at " + offset + " is outside the " + size + "-byte device");
            return;
        }
        if (length == 0) {
            data.release();
            complete(done, null, null);
            return;
        }
        if (head.gone()) {
            data.release();
            gone(done);
            return;
        }
        if (((offset | length) & (lbaSize - 1)) == 0) {
            long first = offset >>> lbaShift;
            long end = (offset + length) >>> lbaShift;
            inOrder(new BlockWrite(first, end, data, fua, done), first, end);
        } else {
            new MergedWrite(offset, data, fua, done).begin();
        }
    }

    @Override
    public void flush(Completion done) {
        if (head.gone()) {
            gone(done);
            return;
        }
        NvmeRequest r = Commands.flush(nsid);
        r.callback(f -> complete(done, null, f.ok() ? null : new NvmeException(what(f), f)));
        head.submit(r);
    }

    @Override
    public void trim(long offset, long length, Completion done) {
        if (offset < 0 || length < 0 || offset > size - length) {
            fail(done, BlockException.Kind.INVALID, "trim of " + length + " bytes at " + offset
                    + " is outside the " + size + "-byte device");
            return;
        }
        long first = (offset + lbaSize - 1) >>> lbaShift;
        long end = (offset + length) >>> lbaShift;
        if (first >= end) {
            complete(done, null, null);
            return;
        }
        if (head.gone()) {
            gone(done);
            return;
        }
        if (!canTrim()) {
            complete(done, null, null);
            return;
        }
        inOrder(new Deallocate(first, end, done), first, end);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayDeallocate, boolean fastOnly, boolean fua,
                            Completion done) {
        if (offset < 0 || length < 0 || offset > size - length) {
            fail(done, offset < 0 || length < 0 ? BlockException.Kind.INVALID : BlockException.Kind.NO_SPACE,
                    "zeroing of " + length + " bytes at " + offset + " is outside the " + size + "-byte device");
            return;
        }
        if (length == 0) {
            complete(done, null, null);
            return;
        }
        if (head.gone()) {
            gone(done);
            return;
        }
        boolean writeZeroes = canFastZero();
        if (!writeZeroes && fastOnly) {
            fail(done, BlockException.Kind.NOT_SUPPORTED, "a controller of " + head
                    + " lacks Write Zeroes: zeroing would write zeroes");
            return;
        }
        if (((offset | length) & (lbaSize - 1)) == 0) {
            long first = offset >>> lbaShift;
            long end = (offset + length) >>> lbaShift;
            inOrder(new ZeroBlocks(first, end, writeZeroes, mayDeallocate, fua, null, 0, null, 0, done), first, end);
        } else {
            new MergedZeroes(offset, length, writeZeroes, mayDeallocate, fua, done).begin();
        }
    }

    // ---- ordering against read-modify-write ---------------------------------------------------

    /** Starts a whole-block write once no read-modify-write holds its blocks: at once on the fast path. */
    private void inOrder(Pieces op, long first, long end) {
        op.inOrder = true;
        if (order.tryEnterShared()) {
            op.start();
            return;
        }
        op.hold = new RangeLock.Hold(first, end, false, op::start);
        order.acquire(op.hold);
    }

    private void leaveOrder(Pieces op) {
        if (!op.inOrder) {
            return;
        }
        if (op.hold == null) {
            order.leaveShared();
        } else {
            order.release(op.hold);
        }
    }

    // ---- commands of one request --------------------------------------------------------------

    private static final AtomicIntegerFieldUpdater<Pieces> NEXT =
            AtomicIntegerFieldUpdater.newUpdater(Pieces.class, "next");
    private static final AtomicIntegerFieldUpdater<Pieces> OUTSTANDING =
            AtomicIntegerFieldUpdater.newUpdater(Pieces.class, "outstanding");
    private static final AtomicReferenceFieldUpdater<Pieces, Throwable> FAILURE =
            AtomicReferenceFieldUpdater.newUpdater(Pieces.class, Throwable.class, "failure");

    /**
     * The commands of one request: at most {@link #MAX_IN_FLIGHT} outstanding, the next sent as one
     * completes; none sent after a failure; {@link #finish} runs once, after the last outstanding one
     * completed, on the thread that completed it.
     */
    private abstract class Pieces implements NvmeRequest.Callback {
        /** Set by the subclass's constructor. */
        int count;
        volatile int next;
        volatile int outstanding;
        volatile Throwable failure;
        /** This request holds its blocks in {@link #order} (registered when {@link #hold} is set). */
        boolean inOrder;
        RangeLock.Hold hold;

        /** Command {@code i} of {@link #count}, not yet submitted. */
        abstract NvmeRequest piece(int i);

        /** Sees each command as it completes, successful or not (before {@link #finish}). */
        void pieceDone(NvmeRequest r) {
        }

        /** Once, when all sent commands completed; {@code failure} is the first, or null. */
        abstract void finish(Throwable failure);

        final void start() {
            // start's own share: no finish while it is still sending
            OUTSTANDING.set(this, 1);
            int n = Math.min(count, MAX_IN_FLIGHT);
            NEXT.set(this, n);
            for (int i = 0; i < n && failure == null; i++) {
                send(i);
            }
            arrive();
        }

        private void send(int i) {
            OUTSTANDING.incrementAndGet(this);
            NvmeRequest r;
            try {
                r = piece(i);
            } catch (RuntimeException e) {
                FAILURE.compareAndSet(this, null, new BlockException(BlockException.Kind.IO,
                        "cannot build command " + i + " of " + count + " for " + head, e));
                arrive();
                return;
            }
            head.submit(r.callback(this));
        }

        @Override
        public final void onComplete(NvmeRequest r) {
            pieceDone(r);
            if (!r.ok()) {
                FAILURE.compareAndSet(this, null, new NvmeException(what(r), r));
            } else if (failure == null) {
                int j = NEXT.getAndIncrement(this);
                if (j < count) {
                    send(j);
                }
            }
            arrive();
        }

        private void arrive() {
            if (OUTSTANDING.decrementAndGet(this) == 0) {
                finish(failure);
            }
        }
    }

    private static int pieceCount(long blocks, long pieceBlocks) {
        return Math.toIntExact((blocks + pieceBlocks - 1) / pieceBlocks);
    }

    /** Reads blocks {@code [first, end)} and hands over {@code length} bytes from {@code skip}. */
    private final class BlockRead extends Pieces {
        private final long first;
        private final long end;
        private final int pieceBlocks;
        private final int skip;
        private final int length;
        private final Completion done;
        private final ByteBuf[] parts;

        BlockRead(long first, long end, int skip, int length, Completion done) {
            this.first = first;
            this.end = end;
            this.pieceBlocks = maxTransfer() >>> lbaShift;
            this.skip = skip;
            this.length = length;
            this.done = done;
            this.count = pieceCount(end - first, pieceBlocks);
            this.parts = new ByteBuf[count];
        }

        @Override
        NvmeRequest piece(int i) {
            long lba = first + (long) i * pieceBlocks;
            return Commands.read(nsid, lba, (int) Math.min(pieceBlocks, end - lba), lbaSize);
        }

        @Override
        void pieceDone(NvmeRequest r) {
            if (r.ok()) {
                parts[(int) ((r.sqe().slba() - first) / pieceBlocks)] = r.takeReadData();
            }
        }

        @Override
        void finish(Throwable failure) {
            if (failure == null) {
                for (ByteBuf b : parts) {
                    if (b == null) {
                        failure = new BlockException(BlockException.Kind.IO, "a read of " + head
                                + " completed without data");
                        break;
                    }
                }
            }
            if (failure != null) {
                for (ByteBuf b : parts) {
                    if (b != null) {
                        b.release();
                    }
                }
                complete(done, null, failure);
                return;
            }
            ByteBuf whole = parts.length == 1 ? parts[0]
                    : flatten(parts);
            if (skip != 0 || whole.readableBytes() != length) {
                ByteBuf wanted = whole.retainedSlice(whole.readerIndex() + skip, length);
                whole.release();
                whole = wanted;
            }
            complete(done, whole, null);
        }
    }

    /** Writes the readable bytes of {@code data}, whole blocks from {@code first}; releases it when done. */
    private final class BlockWrite extends Pieces {
        private final long first;
        private final long end;
        private final int pieceBlocks;
        private final ByteBuf data;
        private final boolean fua;
        private final Completion done;

        BlockWrite(long first, long end, ByteBuf data, boolean fua, Completion done) {
            this.first = first;
            this.end = end;
            this.pieceBlocks = maxTransfer() >>> lbaShift;
            this.data = data;
            this.fua = fua;
            this.done = done;
            this.count = pieceCount(end - first, pieceBlocks);
        }

        @Override
        NvmeRequest piece(int i) {
            long lba = first + (long) i * pieceBlocks;
            int nlb = (int) Math.min(pieceBlocks, end - lba);
            // the slices need no reference of their own: data outlives every command
            ByteBuf bytes = count == 1 ? data
                    : data.slice(data.readerIndex() + (int) ((lba - first) << lbaShift), nlb << lbaShift);
            return Commands.write(nsid, lba, nlb, bytes, fua);
        }

        @Override
        void finish(Throwable failure) {
            data.release();
            leaveOrder(this);
            complete(done, null, failure);
        }
    }

    /**
     * Zeroes blocks {@code [first, end)} with Write Zeroes, or by writing a zero buffer when the
     * controllers lack it; writes the merged edge blocks of a {@link MergedZeroes} alongside.
     */
    private final class ZeroBlocks extends Pieces {
        private final long first;
        private final long end;
        private final boolean writeZeroes;
        private final boolean deallocate;
        private final boolean fua;
        private final int pieceBlocks;
        private final int middle;
        private final ByteBuf firstBlock;
        private final long firstLba;
        private final ByteBuf lastBlock;
        private final long lastLba;
        private final Completion done;
        private final ByteBuf zeroes;

        ZeroBlocks(long first, long end, boolean writeZeroes, boolean deallocate, boolean fua, ByteBuf firstBlock,
                   long firstLba, ByteBuf lastBlock, long lastLba, Completion done) {
            this.first = first;
            this.end = end;
            this.writeZeroes = writeZeroes;
            this.deallocate = deallocate;
            this.fua = fua;
            this.firstBlock = firstBlock;
            this.firstLba = firstLba;
            this.lastBlock = lastBlock;
            this.lastLba = lastLba;
            this.done = done;
            int zeroBytes = Math.max(lbaSize, Math.min(maxTransfer(), MAX_ZERO_BUFFER) & -lbaSize);
            this.pieceBlocks = writeZeroes ? MAX_WRITE_ZEROES_BLOCKS : zeroBytes >>> lbaShift;
            this.middle = first < end ? pieceCount(end - first, pieceBlocks) : 0;
            this.count = (firstBlock != null ? 1 : 0) + middle + (lastBlock != null ? 1 : 0);
            if (!writeZeroes && middle > 0) {
                int n = (int) Math.min(zeroBytes, (end - first) << lbaShift);
                this.zeroes = alloc.directBuffer(n, n).writeZero(n);
            } else {
                this.zeroes = null;
            }
        }

        @Override
        NvmeRequest piece(int i) {
            if (firstBlock != null && i-- == 0) {
                return Commands.write(nsid, firstLba, 1, firstBlock, fua);
            }
            if (i >= middle) {
                return Commands.write(nsid, lastLba, 1, lastBlock, fua);
            }
            long lba = first + (long) i * pieceBlocks;
            int nlb = (int) Math.min(pieceBlocks, end - lba);
            if (writeZeroes) {
                return Commands.writeZeroes(nsid, lba, nlb, deallocate, fua);
            }
            return Commands.write(nsid, lba, nlb, zeroes.slice(0, nlb << lbaShift), fua);
        }

        @Override
        void finish(Throwable failure) {
            if (firstBlock != null) {
                firstBlock.release();
            }
            if (lastBlock != null) {
                lastBlock.release();
            }
            if (zeroes != null) {
                zeroes.release();
            }
            leaveOrder(this);
            complete(done, null, failure);
        }
    }

    /** Deallocates blocks {@code [first, end)}: 256 ranges of at most 2^32-1 blocks per command. */
    private final class Deallocate extends Pieces {
        private final long first;
        private final long end;
        private final long ranges;
        private final Completion done;

        Deallocate(long first, long end, Completion done) {
            this.first = first;
            this.end = end;
            this.done = done;
            this.ranges = (end - first + MAX_DSM_RANGE_BLOCKS - 1) / MAX_DSM_RANGE_BLOCKS;
            this.count = pieceCount(ranges, MAX_DSM_RANGES);
        }

        @Override
        NvmeRequest piece(int i) {
            long from = (long) i * MAX_DSM_RANGES;
            int n = (int) Math.min(MAX_DSM_RANGES, ranges - from);
            ByteBuf list = alloc.buffer(16 * n, 16 * n);
            for (long r = from; r < from + n; r++) {
                long slba = first + r * MAX_DSM_RANGE_BLOCKS;
                Commands.dsmRange(list, slba, Math.min(MAX_DSM_RANGE_BLOCKS, end - slba));
            }
            return Commands.deallocate(nsid, n, list);
        }

        @Override
        void pieceDone(NvmeRequest r) {
            r.writeData().release();
        }

        @Override
        void finish(Throwable failure) {
            leaveOrder(this);
            complete(done, null, failure);
        }
    }

    // ---- read-modify-write --------------------------------------------------------------------

    /**
     * A write of {@code [offset, offset + length)} that starts or ends inside a block. Holds the blocks
     * it covers exclusively, reads its edge blocks (the first and/or last, once if they are one block:
     * these are its commands as {@link Pieces}), merges its bytes into copies of them, and hands the
     * merged blocks, with the hold, to the write that follows.
     */
    private abstract class ReadModifyWrite extends Pieces {
        final long offset;
        final long length;
        final boolean fua;
        final Completion done;
        /** Covered blocks, both inclusive. */
        final long first;
        final long last;
        /** The first block is read and merged (it is partial, or the only block and partial at its end). */
        final boolean firstEdge;
        /** The last block, another one than the first, is partial and is read and merged. */
        final boolean lastEdge;
        private final ByteBuf[] edges = new ByteBuf[2];

        ReadModifyWrite(long offset, long length, boolean fua, Completion done) {
            this.offset = offset;
            this.length = length;
            this.fua = fua;
            this.done = done;
            this.first = offset >>> lbaShift;
            long end = offset + length;
            this.last = (end - 1) >>> lbaShift;
            boolean headPartial = (offset & (lbaSize - 1)) != 0;
            boolean tailPartial = (end & (lbaSize - 1)) != 0;
            this.firstEdge = headPartial || (first == last && tailPartial);
            this.lastEdge = last != first && tailPartial;
            this.count = (firstEdge ? 1 : 0) + (lastEdge ? 1 : 0);
        }

        /** The blocks in the middle, written whole: {@code [middleFirst, middleEnd)}, maybe empty. */
        long middleFirst() {
            return firstEdge ? first + 1 : first;
        }

        long middleEnd() {
            return lastEdge ? last : last + 1;
        }

        final void begin() {
            inOrder = true;
            hold = new RangeLock.Hold(first, last + 1, true, this::start);
            order.acquire(hold);
        }

        @Override
        NvmeRequest piece(int i) {
            return Commands.read(nsid, i == 0 && firstEdge ? first : last, 1, lbaSize);
        }

        @Override
        void pieceDone(NvmeRequest r) {
            if (r.ok()) {
                edges[firstEdge && r.sqe().slba() == first ? 0 : 1] = r.takeReadData();
            }
        }

        @Override
        final void finish(Throwable failure) {
            if (failure == null && (firstEdge && edges[0] == null || lastEdge && edges[1] == null)) {
                failure = new BlockException(BlockException.Kind.IO, "a read of " + head + " completed without data");
            }
            if (failure != null) {
                for (ByteBuf b : edges) {
                    if (b != null) {
                        b.release();
                    }
                }
                abandon();
                leaveOrder(this);
                complete(done, null, failure);
                return;
            }
            ByteBuf firstMerged = firstEdge ? merge(edges[0], first) : null;
            ByteBuf lastMerged = lastEdge ? merge(edges[1], last) : null;
            Pieces write = write(firstMerged, lastMerged);
            write.inOrder = true;
            write.hold = hold;
            write.start();
        }

        /** A copy of the block read at {@code lba} with this request's bytes laid over it; releases {@code read}. */
        private ByteBuf merge(ByteBuf read, long lba) {
            ByteBuf merged = alloc.buffer(lbaSize, lbaSize);
            merged.writeBytes(read, read.readerIndex(), lbaSize);
            read.release();
            long blockStart = lba << lbaShift;
            long from = Math.max(offset, blockStart);
            long to = Math.min(offset + length, blockStart + lbaSize);
            overlay(merged, (int) (from - blockStart), from - offset, (int) (to - from));
            return merged;
        }

        /** Lays this request's bytes {@code [from, from + n)} (relative to offset) over {@code block} at {@code at}. */
        abstract void overlay(ByteBuf block, int at, long from, int n);

        /** The write of the merged edge blocks and the middle; takes ownership of both blocks. */
        abstract Pieces write(ByteBuf firstMerged, ByteBuf lastMerged);

        /** Releases what the request owns; the edge reads failed. */
        abstract void abandon();
    }

    /** An unaligned write: merged edge blocks and the middle of the data, as one run of blocks. */
    private final class MergedWrite extends ReadModifyWrite {
        private final ByteBuf data;

        MergedWrite(long offset, ByteBuf data, boolean fua, Completion done) {
            super(offset, data.readableBytes(), fua, done);
            this.data = data;
        }

        @Override
        void overlay(ByteBuf block, int at, long from, int n) {
            block.setBytes(at, data, data.readerIndex() + (int) from, n);
        }

        @Override
        Pieces write(ByteBuf firstMerged, ByteBuf lastMerged) {
            CompositeByteBuf all = alloc.compositeBuffer(3);
            if (firstMerged != null) {
                all.addComponent(true, firstMerged);
            }
            long mf = middleFirst();
            long me = middleEnd();
            if (mf < me) {
                all.addComponent(true, data.retainedSlice(data.readerIndex() + (int) ((mf << lbaShift) - offset),
                        (int) ((me - mf) << lbaShift)));
            }
            if (lastMerged != null) {
                all.addComponent(true, lastMerged);
            }
            data.release();
            return new BlockWrite(first, last + 1, all, fua, done);
        }

        @Override
        void abandon() {
            data.release();
        }
    }

    /** An unaligned zeroing: zeroes merged into the edge blocks, the middle zeroed whole. */
    private final class MergedZeroes extends ReadModifyWrite {
        private final boolean writeZeroes;
        private final boolean deallocate;

        MergedZeroes(long offset, long length, boolean writeZeroes, boolean deallocate, boolean fua, Completion done) {
            super(offset, length, fua, done);
            this.writeZeroes = writeZeroes;
            this.deallocate = deallocate;
        }

        @Override
        void overlay(ByteBuf block, int at, long from, int n) {
            block.setZero(at, n);
        }

        @Override
        Pieces write(ByteBuf firstMerged, ByteBuf lastMerged) {
            return new ZeroBlocks(middleFirst(), middleEnd(), writeZeroes, deallocate, fua, firstMerged, first,
                    lastMerged, last, done);
        }

        @Override
        void abandon() {
        }
    }

    // ---- completion ---------------------------------------------------------------------------

    /** "Read of LBA 2048+16" for an NVMe failure; the status follows in {@link NvmeException}'s message. */
    private static String what(NvmeRequest r) {
        Sqe s = r.sqe();
        String name = Opcodes.ioName(s.opcode());
        return switch (s.opcode()) {
            case Opcodes.NVM_READ, Opcodes.NVM_WRITE, Opcodes.NVM_WRITE_ZEROES ->
                    name + " of LBA " + s.slba() + "+" + s.nlb() + " of nsid " + s.nsid();
            default -> name + " of nsid " + s.nsid();
        };
    }

    private void gone(Completion done) {
        fail(done, BlockException.Kind.SHUTDOWN, "namespace head " + head + " is gone (no path left)");
    }

    private static void fail(Completion done, BlockException.Kind kind, String message) {
        complete(done, null, new BlockException(kind, message));
    }

    private static void complete(Completion done, ByteBuf data, Throwable failure) {
        try {
            done.done(data, failure);
        } catch (RuntimeException e) {
            log.warn("a block completion threw", e);
        }
    }

    @Override
    public String toString() {
        return "HeadBlockDevice{" + head + "}";
    }
}
