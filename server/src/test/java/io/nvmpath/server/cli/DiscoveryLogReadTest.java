package io.nvmpath.server.cli;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.nvmpath.fabric.host.Discovery;
import io.nvmpath.fabric.nvme.DiscoveryLog;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The generation-counter rule of {@link Discovery#readLog}, over a log served from memory. */
class DiscoveryLogReadTest {

    /** A discovery log of {@code records} entries whose generation counter the test moves. */
    private static final class FakeLog implements Discovery.LogPageReader {
        final List<String> reads = new ArrayList<>();
        final int records;
        long generation = 1;
        /** Bumps the generation on the given read numbers (1-based). */
        final List<Integer> bumpOnRead = new ArrayList<>();

        FakeLog(int records) {
            this.records = records;
        }

        @Override
        public CompletableFuture<ByteBuf> read(long offset, int length) {
            reads.add(offset + "+" + length);
            if (bumpOnRead.contains(reads.size())) {
                generation++;
            }
            byte[] log = new byte[DiscoveryLog.HEADER_SIZE + records * DiscoveryLog.ENTRY_SIZE];
            ByteBuf b = Unpooled.wrappedBuffer(log);
            b.setLongLE(0, generation);
            b.setLongLE(8, records);
            for (int i = 0; i < records; i++) {
                int e = DiscoveryLog.HEADER_SIZE + i * DiscoveryLog.ENTRY_SIZE;
                b.setByte(e, 3);
                b.setBytes(e + 256, ("nqn.2014-08.org.example:sub" + i).getBytes(StandardCharsets.US_ASCII));
            }
            ByteBuf slice = Unpooled.copiedBuffer(log, (int) offset, length);
            b.release();
            return CompletableFuture.completedFuture(slice);
        }
    }

    @Test
    void should_read_header_then_whole_log_in_64k_pieces_then_header_again() {
        FakeLog log = new FakeLog(100);

        DiscoveryLog d = Discovery.readLog(log).join();

        assertThat(d.entries()).hasSize(100);
        assertThat(d.entries().get(99).subnqn()).isEqualTo("nqn.2014-08.org.example:sub99");
        assertThat(log.reads).containsExactly("0+1024", "0+65536", "65536+37888", "0+1024");
    }

    @Test
    void should_start_over_when_the_generation_counter_moves_between_reads() {
        FakeLog log = new FakeLog(2);
        log.bumpOnRead.add(3);

        DiscoveryLog d = Discovery.readLog(log).join();

        assertThat(log.reads).containsExactly("0+1024", "0+3072", "0+1024", "0+1024", "0+3072", "0+1024");
        assertThat(d.generation()).isEqualTo(2);
    }

    @Test
    void should_give_up_after_ten_reads_of_a_log_that_keeps_changing() {
        FakeLog log = new FakeLog(1);
        for (int i = 1; i <= 40; i++) {
            log.bumpOnRead.add(i);
        }

        assertThatThrownBy(() -> Discovery.readLog(log).join())
                .hasMessageContaining("changed during each of 10 reads");
        assertThat(log.reads).hasSize(30);
    }
}
