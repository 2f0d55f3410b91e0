package io.nvmpath.server.block;

import io.netty.buffer.ByteBuf;

/**
 * A byte-addressed block device, as one NBD export serves it: a namespace head, or anything else
 * with the same contract.
 *
 * <p>Offsets and lengths are in bytes and need not be aligned to {@link #blockSize()}: the device
 * serves unaligned requests correctly (read-modify-write), and requests larger than one command
 * carries (split). Callers validate ranges against {@link #size()} before calling. Calls never
 * block; a {@link Completion} runs exactly once, on any thread (usually a transport event loop).
 */
public interface BlockDevice {

    /** The outcome of one operation. */
    @FunctionalInterface
    interface Completion {
        /**
         * @param data for reads on success, the bytes read, handed over (the receiver releases it);
         *             otherwise {@code null}
         * @param failure {@code null} on success, else why it failed ({@link BlockException}, or an
         *                {@link io.nvmpath.fabric.host.NvmeException} carrying the NVMe status)
         */
        void done(ByteBuf data, Throwable failure);
    }

    /** Capacity in bytes. */
    long size();

    /** The smallest unit written without read-modify-write: the LBA size. */
    int blockSize();

    /** The size that performs best (a page, or the namespace's optimal I/O size), a multiple of {@link #blockSize()}. */
    int preferredBlockSize();

    /** The most one command carries, in bytes: larger requests are split. */
    int maxTransfer();

    boolean readOnly();

    /** Flush persists completed writes (a volatile write cache is present or its presence is unknown). */
    boolean canFlush();

    /** FUA on writes is honoured. */
    boolean canFua();

    /** {@link #trim} deallocates (else it is not offered). */
    boolean canTrim();

    /** {@link #writeZeroes} is native (Write Zeroes) and never slower than writing zeroes. */
    boolean canFastZero();

    /**
     * A flush on any connection covers writes completed on every connection of this device (true
     * for an NVMe namespace: one Flush covers the namespace, whichever controller it goes to).
     */
    boolean flushCoversAllConnections();

    /** Reads {@code length} bytes at {@code offset}. */
    void read(long offset, int length, Completion done);

    /** Writes the readable bytes of {@code data} at {@code offset}; takes ownership of {@code data}. */
    void write(long offset, ByteBuf data, boolean fua, Completion done);

    void flush(Completion done);

    /** Deallocates the blocks wholly inside the range (a hint: partial blocks at the edges are left). */
    void trim(long offset, long length, Completion done);

    /**
     * Makes the range read as zeroes.
     *
     * @param mayDeallocate the blocks may be deallocated (NBD without NO_HOLE)
     * @param fastOnly fail with {@link BlockException.Kind#NOT_SUPPORTED} rather than write zeroes
     *                 slowly (NBD FAST_ZERO)
     */
    void writeZeroes(long offset, long length, boolean mayDeallocate, boolean fastOnly, boolean fua, Completion done);
}
