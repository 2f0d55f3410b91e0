package io.nvmpath.server.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class BlockPatternTest {
    @Test
    void a_block_reads_back_as_its_lba_followed_by_the_seeded_stream() {
        ByteBuf b = Unpooled.buffer(4 * 512);
        try {
            BlockPattern.write(b, 7, 1000, 4, 512);
            assertThat(b.readableBytes()).isEqualTo(2048);
            assertThat(b.getLongLE(512)).isEqualTo(1001);
            assertThat(BlockPattern.check(b, 7, 1000, 4, 512)).isZero();
            assertThat(BlockPattern.check(b, 8, 1000, 4, 512)).as("another seed").isEqualTo(4);
            assertThat(BlockPattern.check(b, 7, 1001, 4, 512)).as("another LBA").isEqualTo(4);
            b.setByte(512 + 100, b.getByte(512 + 100) ^ 1);
            assertThat(BlockPattern.check(b, 7, 1000, 4, 512)).isEqualTo(1);
            assertThat(BlockPattern.firstDifference(b, 512, 7, 1001, 512)).isEqualTo(96);
        } finally {
            b.release();
        }
    }

    @Test
    void blocks_differ_from_each_other_beyond_the_lba() {
        ByteBuf b = Unpooled.buffer(1024);
        try {
            BlockPattern.write(b, 7, 0, 2, 512);
            assertThat(b.getLongLE(8)).isNotEqualTo(b.getLongLE(512 + 8));
        } finally {
            b.release();
        }
    }
}
