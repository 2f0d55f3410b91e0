package io.nvmpath.server.block;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.nvmpath.fabric.host.NvmeException;
import io.nvmpath.fabric.host.PathStats.Kind;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.tcp.PduType;
import io.nvmpath.fabric.testing.Await;
import io.nvmpath.multipath.NamespaceHead;
import io.nvmpath.server.block.BlockIo.Outcome;
import io.nvmpath.target.Fault;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** A {@link HeadBlockDevice} over the demo namespace of the project's target, in-process, with MDTS 16 KiB. */
class HeadBlockDeviceTest {
    private static final int LBA = 512;
    /** MDTS 2: four 4 KiB pages per command. */
    private static final int MAX_TRANSFER = 16 * 1024;
    private static final long SIZE = 1L << 30;

    private DemoNamespace demo;
    private HeadBlockDevice dev;
    private BlockIo io;
    private final Random random = new Random(20261117);

    @BeforeEach
    void start() throws Exception {
        demo = new DemoNamespace(2, null);
        dev = new HeadBlockDevice(demo.head());
        io = new BlockIo(dev);
    }

    @AfterEach
    void stop() throws Exception {
        try {
            io.assertEachCompletedOnce(demo::quiesce);
            assertThat(dev.rangeLock().registered()).as("holds left in the range lock").isZero();
            assertThat(dev.rangeLock().unregistered()).as("fast-path writes left in the range lock").isZero();
        } finally {
            demo.close();
        }
    }

    private byte[] random(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    @Test
    void should_report_the_geometry_and_command_support_of_the_head() {
        assertThat(dev.size()).isEqualTo(SIZE);
        assertThat(dev.blockSize()).isEqualTo(LBA);
        assertThat(dev.maxTransfer()).isEqualTo(MAX_TRANSFER);
        assertThat(dev.preferredBlockSize()).isEqualTo(4096);
        assertThat(dev.canFlush()).isTrue();
        assertThat(dev.canFua()).isTrue();
        assertThat(dev.canTrim()).as("the target reports Dataset Management").isTrue();
        assertThat(dev.canFastZero()).as("the target reports Write Zeroes").isTrue();
        assertThat(dev.flushCoversAllConnections()).isTrue();
        assertThat(dev.readOnly()).isFalse();
    }

    @Test
    void should_write_and_read_back_whole_blocks_with_one_command_each() throws Exception {
        byte[] b = random(4096);
        long writes = demo.ops(Kind.WRITE);
        long reads = demo.ops(Kind.READ);

        io.write(8192, b);
        assertThat(io.readBytes(8192, 4096)).isEqualTo(b);

        assertThat(demo.ops(Kind.WRITE) - writes).isEqualTo(1);
        assertThat(demo.ops(Kind.READ) - reads).isEqualTo(1);
    }

    @Test
    void should_split_a_request_larger_than_the_transfer_limit_and_reassemble_it_in_order() throws Exception {
        int length = 6 * MAX_TRANSFER + 1024;
        long offset = 1 << 20;
        byte[] b = random(length);
        long writes = demo.ops(Kind.WRITE);
        long reads = demo.ops(Kind.READ);

        ByteBuf data = BlockIo.buffer(b);
        Outcome w = io.startWrite(offset, data, true).await();
        assertThat(w.failure).isNull();
        assertThat(data.refCnt()).isZero();
        assertThat(demo.ops(Kind.WRITE) - writes).as("write commands").isEqualTo(7);

        Outcome r = io.read(offset, length);
        try {
            assertThat(r.failure).isNull();
            assertThat(demo.ops(Kind.READ) - reads).as("read commands").isEqualTo(7);
            assertThat(r.data).isInstanceOf(CompositeByteBuf.class);
            CompositeByteBuf parts = (CompositeByteBuf) r.data;
            // at least one component per command (more where a PDU spanned socket reads), none nested
            assertThat(parts.numComponents()).as("components").isGreaterThanOrEqualTo(7);
            for (int i = 0; i < parts.numComponents(); i++) {
                assertThat(parts.internalComponent(i)).as("flat").isNotInstanceOf(CompositeByteBuf.class);
            }
            assertThat(ByteBufUtil.getBytes(r.data)).isEqualTo(b);
        } finally {
            r.data.release();
        }
    }

    @Test
    void should_hand_over_the_transports_receive_buffer_for_a_one_command_read() throws Exception {
        byte[] b = random(MAX_TRANSFER);
        io.write(0, b);

        Outcome r = io.read(0, MAX_TRANSFER);
        try {
            assertThat(r.failure).isNull();
            assertThat(ByteBufUtil.getBytes(r.data)).isEqualTo(b);
            // one receive buffer's slice, or (when the PDU spanned socket reads) a flat composite of them
            ByteBuf first = r.data instanceof CompositeByteBuf c ? c.internalComponent(0) : r.data;
            assertIsReceiveBufferSlice(first);
            if (r.data instanceof CompositeByteBuf c) {
                for (int i = 1; i < c.numComponents(); i++) {
                    ByteBuf part = c.internalComponent(i);
                    assertThat(part).as("flat").isNotInstanceOf(CompositeByteBuf.class);
                    assertThat(part.unwrap()).as("a view of a receive buffer").isNotNull();
                }
            }
        } finally {
            r.data.release();
        }
    }

    /**
     * The buffer is a view of what the transport received, not a copy: in the same memory, right
     * before the data, lies the C2HData PDU header that carried it (24 bytes, no header digest).
     */
    private static void assertIsReceiveBufferSlice(ByteBuf b) {
        ByteBuf root = b;
        while (root.unwrap() != null) {
            root = root.unwrap();
        }
        assertThat(root).as("a derived buffer").isNotSameAs(b);
        assumeTrue(b.hasMemoryAddress() && root.hasMemoryAddress(), "direct buffers with a memory address");
        long at = b.memoryAddress() - root.memoryAddress();
        assertThat(at).as("room for a PDU header before the data").isGreaterThanOrEqualTo(24);
        assertThat(at + b.readableBytes()).as("data end within the receive buffer").isLessThanOrEqualTo(root.capacity());
        int header = (int) at - 24;
        assertThat(root.getUnsignedByte(header)).as("PDU type: C2HData").isEqualTo((short) PduType.C2H_DATA.code());
        assertThat(root.getIntLE(header + 4)).as("PLEN").isGreaterThanOrEqualTo(24 + b.readableBytes());
    }

    @Test
    void should_merge_unaligned_writes_into_the_blocks_they_touch() throws Exception {
        long base = 4L << 20;
        int region = 80 * LBA;
        byte[] model = random(region);
        io.write(base, model);
        long[][] cases = {
                {1, 1},             // one byte, inside the first block
                {511, 1},           // the last byte of a block
                {510, 4},           // across a block boundary
                {300, 1500},        // partial first and last blocks, whole ones between
                {1024, 700},        // aligned start, partial end
                {1500, 548},        // partial start, aligned end
                {2100, 100},        // inside one block
                {100, 35000},       // more than the transfer limit: the merged run is split
        };
        for (long[] c : cases) {
            int at = (int) c[0];
            byte[] b = random((int) c[1]);
            io.write(base + at, b);
            System.arraycopy(b, 0, model, at, b.length);
            assertThat(io.readBytes(base, region)).as("region after writing %d bytes at %d", b.length, at).isEqualTo(model);
            assertThat(io.readBytes(base + at, b.length)).as("unaligned read back").isEqualTo(b);
        }
    }

    @Test
    void should_write_a_partial_block_at_the_end_of_the_device() throws Exception {
        byte[] model = random(4 * LBA);
        long tail = SIZE - model.length;
        io.write(tail, model);

        byte[] three = random(3);
        io.write(SIZE - 3, three);
        System.arraycopy(three, 0, model, model.length - 3, 3);
        byte[] span = random(700);
        io.write(SIZE - 900, span);
        System.arraycopy(span, 0, model, model.length - 900, 700);

        assertThat(io.readBytes(tail, model.length)).isEqualTo(model);
        assertThat(io.readBytes(SIZE - 1, 1)).containsExactly(model[model.length - 1]);
    }

    @Test
    void should_refuse_requests_outside_the_device_without_io() throws Exception {
        long writes = demo.ops(Kind.WRITE);
        long reads = demo.ops(Kind.READ);

        assertThat(io.read(SIZE - 1, 2).failure).isInstanceOfSatisfying(BlockException.class,
                e -> assertThat(e.kind()).isEqualTo(BlockException.Kind.INVALID));
        ByteBuf data = BlockIo.buffer(new byte[2]);
        assertThat(io.startWrite(SIZE - 1, data, false).await().failure).isInstanceOfSatisfying(BlockException.class,
                e -> assertThat(e.kind()).isEqualTo(BlockException.Kind.NO_SPACE));
        assertThat(data.refCnt()).isZero();
        assertThat(io.writeZeroes(SIZE - 512, 1024, false, false).failure).isInstanceOfSatisfying(
                BlockException.class, e -> assertThat(e.kind()).isEqualTo(BlockException.Kind.NO_SPACE));
        assertThat(io.trim(-1, 1024).failure).isInstanceOfSatisfying(BlockException.class,
                e -> assertThat(e.kind()).isEqualTo(BlockException.Kind.INVALID));

        assertThat(demo.ops(Kind.WRITE)).isEqualTo(writes);
        assertThat(demo.ops(Kind.READ)).isEqualTo(reads);
    }

    @Test
    void should_not_lose_updates_when_concurrent_unaligned_writes_share_blocks() throws Exception {
        long base = 2L << 20;
        int region = 8 * LBA;
        byte[] expected = random(region);
        io.write(base, expected);
        for (int round = 0; round < 8; round++) {
            // byte ranges that tile the region: disjoint, so the outcome is the same in any order, but
            // most share a block with a neighbour, so an unserialized read-modify-write loses one;
            // blocks 3 and 6 are written whole, through the fast path until a merge closes it
            TreeSet<Integer> cuts = new TreeSet<>(List.of(3 * LBA, 4 * LBA, 6 * LBA, 7 * LBA));
            while (cuts.size() < 4 + 63) {
                int cut = 1 + random.nextInt(region - 1);
                int block = cut / LBA;
                if (block != 3 && block != 6) {
                    cuts.add(cut);
                }
            }
            List<int[]> ranges = new ArrayList<>();
            int from = 0;
            for (int cut : cuts) {
                ranges.add(new int[]{from, cut - from});
                from = cut;
            }
            ranges.add(new int[]{from, region - from});
            Collections.shuffle(ranges, random);

            List<Outcome> outcomes = new ArrayList<>();
            List<ByteBuf> buffers = new ArrayList<>();
            for (int[] r : ranges) {
                byte[] b = random(r[1]);
                System.arraycopy(b, 0, expected, r[0], r[1]);
                ByteBuf data = BlockIo.buffer(b);
                buffers.add(data);
                outcomes.add(io.startWrite(base + r[0], data, false));
            }
            for (Outcome o : outcomes) {
                assertThat(o.await().failure).isNull();
            }
            assertThat(buffers).allSatisfy(b -> assertThat(b.refCnt()).isZero());
            assertThat(io.readBytes(base, region)).as("region after round %d", round).isEqualTo(expected);
        }
    }

    @Test
    void should_order_a_whole_block_write_behind_a_read_modify_write_of_the_same_block() throws Exception {
        long block = 5000L * LBA;
        for (int round = 0; round < 20; round++) {
            io.write(block, random(LBA));
            byte[] patch = random(10);
            byte[] whole = random(LBA);
            // the merge reads the block first; the whole-block write would land before its write-back
            Outcome merge = io.startWrite(block + 100, BlockIo.buffer(patch), false);
            Outcome overwrite = io.startWrite(block, BlockIo.buffer(whole), false);
            assertThat(merge.await().failure).isNull();
            assertThat(overwrite.await().failure).isNull();

            byte[] mergeLast = whole.clone();
            System.arraycopy(patch, 0, mergeLast, 100, patch.length);
            byte[] got = io.readBytes(block, LBA);
            assertThat(Arrays.equals(got, whole) || Arrays.equals(got, mergeLast))
                    .as("round %d: the block is the outcome of one order of the two writes, not a stale write-back", round)
                    .isTrue();
        }
    }

    @Test
    void should_read_zeroes_where_whole_blocks_were_trimmed_and_leave_partial_ones() throws Exception {
        assertThat(demo.head().identity().dlfeat() & 0x7).as("DLFEAT: deallocated blocks read as zeroes").isEqualTo(1);
        long base = 8L << 20;
        byte[] model = random(8 * LBA);
        io.write(base, model);
        long dsm = demo.ops(Kind.OTHER);

        assertThat(io.trim(base + 100, 3000).failure).isNull();
        Arrays.fill(model, LBA, 6 * LBA, (byte) 0); // blocks 1..5 lie wholly inside [100, 3100)
        assertThat(io.readBytes(base, model.length)).isEqualTo(model);
        assertThat(demo.ops(Kind.OTHER) - dsm).as("one Dataset Management command").isEqualTo(1);

        assertThat(io.trim(base + 6 * LBA + 10, 400).failure).as("no whole block: nothing to do").isNull();
        assertThat(demo.ops(Kind.OTHER) - dsm).isEqualTo(1);
        assertThat(io.readBytes(base, model.length)).isEqualTo(model);
    }

    @Test
    void should_zero_an_unaligned_range_and_keep_its_neighbours() throws Exception {
        for (boolean deallocate : new boolean[]{false, true}) {
            long base = (deallocate ? 12L : 10L) << 20;
            byte[] model = random(16 * LBA);
            io.write(base, model);
            long zeroes = demo.ops(Kind.OTHER);
            long writes = demo.ops(Kind.WRITE);

            Outcome z = io.writeZeroes(base + 300, 5000, deallocate, false);
            assertThat(z.failure).isNull();
            Arrays.fill(model, 300, 5300, (byte) 0);
            assertThat(io.readBytes(base, model.length)).as("mayDeallocate %s", deallocate).isEqualTo(model);
            assertThat(demo.ops(Kind.OTHER) - zeroes).as("one Write Zeroes for blocks 1..9").isEqualTo(1);
            assertThat(demo.ops(Kind.WRITE) - writes).as("the two merged edge blocks").isEqualTo(2);
        }
        assertThat(io.writeZeroes(14L << 20, 4096, true, true).failure).as("fast zero is native").isNull();
    }

    @Test
    void should_split_write_zeroes_into_commands_of_at_most_65536_blocks() throws Exception {
        long base = 64L << 20;
        long length = (2L * 65536 + 1) * LBA;
        io.write(base + length - LBA, random(LBA));
        long zeroes = demo.ops(Kind.OTHER);

        assertThat(io.writeZeroes(base, length, false, true).failure).isNull();

        assertThat(demo.ops(Kind.OTHER) - zeroes).isEqualTo(3);
        assertThat(io.readBytes(base + length - LBA, LBA)).isEqualTo(new byte[LBA]);
    }

    @Test
    void should_fail_with_the_nvme_status_of_the_failed_command() throws Exception {
        demo.target.setFault(1, new Fault.Fail(1, Status.WRITE_FAULT | Status.DNR));
        ByteBuf data = BlockIo.buffer(random(4096));

        Outcome w = io.startWrite(16 * LBA, data, false).await();

        assertThat(w.failure).isInstanceOfSatisfying(NvmeException.class, e -> {
            assertThat(e.status()).isEqualTo(Status.WRITE_FAULT | Status.DNR);
            assertThat(e.getMessage()).startsWith("Write of LBA 16+8 of nsid 1 failed: Write Fault");
        });
        assertThat(data.refCnt()).isZero();
    }

    @Test
    void should_complete_a_split_request_once_with_its_failure_after_every_command_finished() throws Exception {
        int length = 6 * MAX_TRANSFER + 1024;
        long before = demo.ops(Kind.READ) + demo.errors(Status.READ_ERROR);
        demo.target.setFault(1, new Fault.Fail(1, Status.READ_ERROR | Status.DNR));
        long[] completedAtCompletion = new long[1];
        Outcome o = io.outcome();

        dev.read(0, length, (data, failure) -> {
            completedAtCompletion[0] = demo.ops(Kind.READ) + demo.errors(Status.READ_ERROR);
            o.done(data, failure);
        });
        o.await();

        assertThat(o.data).isNull();
        assertThat(o.failure).isInstanceOfSatisfying(NvmeException.class,
                e -> assertThat(e.status()).isEqualTo(Status.READ_ERROR | Status.DNR));
        // usually all 7 commands were sent before the failure came back; none may be sent after it
        assertThat(completedAtCompletion[0] - before).as("commands completed before the request did").isBetween(1L, 7L);
        demo.quiesce();
        assertThat(demo.ops(Kind.READ) + demo.errors(Status.READ_ERROR))
                .as("no command of the request completed after the request did").isEqualTo(completedAtCompletion[0]);
    }

    @Test
    void should_flush_the_namespace_through_the_head() throws Exception {
        long flushes = demo.ops(Kind.FLUSH);

        assertThat(io.flush().failure).isNull();

        assertThat(demo.ops(Kind.FLUSH) - flushes).isEqualTo(1);
    }

    @Test
    void should_fail_requests_with_shutdown_once_the_head_is_gone() throws Exception {
        NamespaceHead head = demo.head();
        demo.target.removeNamespace(TargetConfig.DEMO_NQN, 1);
        Await.until("the head gone", head::gone);
        ByteBuf data = BlockIo.buffer(new byte[LBA]);

        assertThat(io.read(0, LBA).failure).isInstanceOfSatisfying(BlockException.class,
                e -> assertThat(e.kind()).isEqualTo(BlockException.Kind.SHUTDOWN));
        assertThat(io.startWrite(0, data, false).await().failure).isInstanceOfSatisfying(BlockException.class,
                e -> assertThat(e.kind()).isEqualTo(BlockException.Kind.SHUTDOWN));
        assertThat(data.refCnt()).isZero();
        assertThat(io.flush().failure).isInstanceOfSatisfying(BlockException.class,
                e -> assertThat(e.kind()).isEqualTo(BlockException.Kind.SHUTDOWN));
    }
}
