package io.nvmpath.server.cli;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BlockTransferTest {

    @Test
    void should_split_at_one_mebibyte_when_mdts_is_unlimited() {
        assertThat(BlockTransfer.blocksPerCommand(Long.MAX_VALUE, 512)).isEqualTo(2048);
        assertThat(BlockTransfer.blocksPerCommand(Long.MAX_VALUE, 4096)).isEqualTo(256);
    }

    @Test
    void should_split_at_mdts_when_it_is_below_one_mebibyte() {
        assertThat(BlockTransfer.blocksPerCommand(128 * 1024, 512)).isEqualTo(256);
    }

    @Test
    void should_never_exceed_65536_blocks_per_command() {
        assertThat(BlockTransfer.blocksPerCommand(Long.MAX_VALUE, 1)).isEqualTo(65536);
    }

    @Test
    void should_fail_when_one_block_exceeds_mdts() {
        assertThatThrownBy(() -> BlockTransfer.blocksPerCommand(2048, 4096))
                .hasMessageContaining("smaller than one 4096-byte block");
    }
}
