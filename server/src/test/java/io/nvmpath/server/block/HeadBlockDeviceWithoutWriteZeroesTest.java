package io.nvmpath.server.block;

import io.nvmpath.fabric.host.PathStats.Kind;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.server.block.BlockIo.Outcome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link HeadBlockDevice} whose controllers do not report Write Zeroes (ONCS bit 3 cleared) and
 * whose namespace reports an optimal write size (NSFEAT OPTPERF, NOWS 64 blocks): the demo target
 * seen through an {@link IdentifyPatchingProxy}, with MDTS 64 KiB.
 */
class HeadBlockDeviceWithoutWriteZeroesTest {
    private static final int LBA = 512;
    private static final int MAX_TRANSFER = 64 * 1024;

    private DemoNamespace demo;
    private HeadBlockDevice dev;
    private BlockIo io;
    private final Random random = new Random(7);

    @BeforeEach
    void start() throws Exception {
        demo = new DemoNamespace(4, (cns, data) -> {
            int r = data.readerIndex();
            if (cns == Opcodes.CNS_CONTROLLER) {
                data.setShortLE(r + 520, data.getUnsignedShortLE(r + 520) & ~IdentifyController.ONCS_WRITE_ZEROES);
            } else if (cns == Opcodes.CNS_NAMESPACE && data.getLongLE(r) != 0) {
                data.setByte(r + 24, data.getUnsignedByte(r + 24) | IdentifyNamespace.NSFEAT_OPTPERF);
                data.setShortLE(r + 72, 63); // NOWS, 0's based: 64 blocks, 32 KiB
            }
        });
        dev = new HeadBlockDevice(demo.head());
        io = new BlockIo(dev);
    }

    @AfterEach
    void stop() throws Exception {
        try {
            io.assertEachCompletedOnce(demo::quiesce);
        } finally {
            demo.close();
        }
    }

    @Test
    void should_offer_no_fast_zero_but_still_trim() {
        assertThat(demo.head().commandSupport() & IdentifyController.ONCS_WRITE_ZEROES).as("the patch took").isZero();
        assertThat(dev.maxTransfer()).isEqualTo(MAX_TRANSFER);

        assertThat(dev.canFastZero()).isFalse();
        assertThat(dev.canTrim()).isTrue();
    }

    @Test
    void should_offer_the_namespaces_optimal_write_size_as_preferred_block_size() {
        assertThat(demo.head().identity().nows()).isEqualTo(63);

        assertThat(dev.preferredBlockSize()).isEqualTo(32 * 1024);
    }

    @Test
    void should_refuse_a_fast_zero_at_once_without_io() throws Exception {
        long writes = demo.ops(Kind.WRITE);
        long reads = demo.ops(Kind.READ);
        long other = demo.ops(Kind.OTHER);

        Outcome z = io.writeZeroes(1 << 20, 1 << 20, true, true);

        assertThat(z.failure).isInstanceOfSatisfying(BlockException.class,
                e -> assertThat(e.kind()).isEqualTo(BlockException.Kind.NOT_SUPPORTED));
        assertThat(demo.ops(Kind.WRITE)).isEqualTo(writes);
        assertThat(demo.ops(Kind.READ)).isEqualTo(reads);
        assertThat(demo.ops(Kind.OTHER)).isEqualTo(other);
    }

    @Test
    void should_write_zeroes_as_data_when_no_controller_has_write_zeroes() throws Exception {
        long base = 2L << 20;
        byte[] model = new byte[320 * LBA];
        random.nextBytes(model);
        io.write(base, model);
        long writes = demo.ops(Kind.WRITE);
        long other = demo.ops(Kind.OTHER);

        // partial blocks 1 and 316; the 314 whole blocks between (157 KiB) in writes of at most 64 KiB
        Outcome z = io.writeZeroes(base + 1000, 161_000, true, false);

        assertThat(z.failure).isNull();
        Arrays.fill(model, 1000, 162_000, (byte) 0);
        assertThat(io.readBytes(base, model.length)).isEqualTo(model);
        assertThat(demo.ops(Kind.OTHER)).as("no Write Zeroes sent").isEqualTo(other);
        assertThat(demo.ops(Kind.WRITE) - writes).as("two merged edge blocks and three zero buffers").isEqualTo(5);
    }
}
