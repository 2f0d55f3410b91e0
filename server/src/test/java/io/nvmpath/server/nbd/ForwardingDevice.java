package io.nvmpath.server.nbd;

import io.netty.buffer.ByteBuf;
import io.nvmpath.server.block.BlockDevice;

/** A {@link BlockDevice} passing every call to another; tests override the calls they break. */
class ForwardingDevice implements BlockDevice {
    private final BlockDevice d;

    ForwardingDevice(BlockDevice d) {
        this.d = d;
    }

    @Override
    public long size() {
        return d.size();
    }

    @Override
    public int blockSize() {
        return d.blockSize();
    }

    @Override
    public int preferredBlockSize() {
        return d.preferredBlockSize();
    }

    @Override
    public int maxTransfer() {
        return d.maxTransfer();
    }

    @Override
    public boolean readOnly() {
        return d.readOnly();
    }

    @Override
    public boolean canFlush() {
        return d.canFlush();
    }

    @Override
    public boolean canFua() {
        return d.canFua();
    }

    @Override
    public boolean canTrim() {
        return d.canTrim();
    }

    @Override
    public boolean canFastZero() {
        return d.canFastZero();
    }

    @Override
    public boolean flushCoversAllConnections() {
        return d.flushCoversAllConnections();
    }

    @Override
    public void read(long offset, int length, Completion done) {
        d.read(offset, length, done);
    }

    @Override
    public void write(long offset, ByteBuf data, boolean fua, Completion done) {
        d.write(offset, data, fua, done);
    }

    @Override
    public void flush(Completion done) {
        d.flush(done);
    }

    @Override
    public void trim(long offset, long length, Completion done) {
        d.trim(offset, length, done);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayDeallocate, boolean fastOnly, boolean fua,
                            Completion done) {
        d.writeZeroes(offset, length, mayDeallocate, fastOnly, fua, done);
    }
}
