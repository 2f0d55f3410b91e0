package io.nvmpath.server.nbd;

import io.nvmpath.server.block.BlockException;
import io.nvmpath.server.nbd.MemoryBlockDevice.Call;
import io.nvmpath.server.nbd.RawNbdClient.Chunk;
import io.nvmpath.server.nbd.RawNbdClient.SimpleReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Requests and replies of the transmission phase, against an in-memory device. */
class NbdTransmissionTest {
    private static final int SIZE = 4 << 20;

    private NbdFixture fixture;
    private InetSocketAddress server;
    private NbdExport disk;
    private MemoryBlockDevice device;
    private NbdExport backup;

    @BeforeEach
    void setUp() throws Exception {
        fixture = new NbdFixture();
        disk = fixture.add("disk", SIZE, false);
        device = fixture.device(disk);
        backup = fixture.add("backup", 1 << 20, true);
        server = fixture.start();
    }

    @AfterEach
    void tearDown() throws Exception {
        fixture.close();
    }

    @Test
    void should_read_back_what_was_written_with_simple_replies() throws Exception {
        byte[] data = random(64 * 1024 + 100, 1);
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.write(1, 4096 + 3, data);
            SimpleReply w = c.readSimpleReply(0);
            assertThat(w.error()).isZero();
            assertThat(w.handle()).isEqualTo(1);
            c.read(2, 4096 + 3, data.length);
            SimpleReply r = c.readSimpleReply(data.length);
            assertThat(r.error()).isZero();
            assertThat(r.handle()).isEqualTo(2);
            assertThat(r.data()).isEqualTo(data);
        }
        assertThat(device.contents(4096 + 3, data.length)).isEqualTo(data);
        assertThat(disk.stats().bytes(ExportStats.Op.WRITE)).isEqualTo(data.length);
        assertThat(disk.stats().bytes(ExportStats.Op.READ)).isEqualTo(data.length);
    }

    @Test
    void should_read_back_what_was_written_with_structured_replies() throws Exception {
        byte[] data = random(1 << 20, 2);
        try (RawNbdClient c = RawNbdClient.openStructured(server, "disk")) {
            assertThat(c.transmissionFlags & Nbd.FLAG_SEND_DF).isNotZero();
            c.write(1, 512, data);
            Chunk w = c.readChunk();
            assertThat(w.type()).isEqualTo(Nbd.REPLY_TYPE_NONE);
            assertThat(w.flags()).isEqualTo(Nbd.REPLY_FLAG_DONE);
            assertThat(w.handle()).isEqualTo(1);

            c.request(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 2, 512, data.length, null);
            Chunk r = c.readChunk();
            assertThat(r.type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_DATA);
            assertThat(r.flags()).isEqualTo(Nbd.REPLY_FLAG_DONE);
            assertThat(r.handle()).isEqualTo(2);
            assertThat(r.u64(0)).as("offset").isEqualTo(512);
            assertThat(java.util.Arrays.copyOfRange(r.payload(), 8, r.payload().length)).isEqualTo(data);
        }
    }

    @Test
    void should_answer_errors_as_structured_error_chunks_with_a_message() throws Exception {
        try (RawNbdClient c = RawNbdClient.openStructured(server, "disk")) {
            c.read(5, SIZE - 512, 1024);
            Chunk e = c.readChunk();
            assertThat(e.type()).isEqualTo(Nbd.REPLY_TYPE_ERROR);
            assertThat(e.flags()).isEqualTo(Nbd.REPLY_FLAG_DONE);
            assertThat(e.handle()).isEqualTo(5);
            assertThat(e.error()).isEqualTo(NbdError.EINVAL.value());
            assertThat(e.message()).contains("past the end");
        }
    }

    @Test
    void should_report_the_queried_range_as_one_allocated_extent() throws Exception {
        try (RawNbdClient c = RawNbdClient.openStructured(server, "disk")) {
            c.request(0, Nbd.CMD_BLOCK_STATUS, 3, 8192, 1 << 20, null);
            Chunk bs = c.readChunk();
            assertThat(bs.type()).isEqualTo(Nbd.REPLY_TYPE_BLOCK_STATUS);
            assertThat(bs.flags()).isEqualTo(Nbd.REPLY_FLAG_DONE);
            assertThat(bs.payload()).hasSize(12);
            assertThat(bs.u32(0)).as("context id").isEqualTo(Nbd.BASE_ALLOCATION_ID);
            assertThat(bs.u32(4)).as("extent length").isEqualTo(1 << 20);
            assertThat(bs.u32(8)).as("flags: allocated data").isZero();

            c.request(Nbd.CMD_FLAG_REQ_ONE, Nbd.CMD_BLOCK_STATUS, 4, SIZE - 4096, 4096, null);
            assertThat(c.readChunk().u32(4)).isEqualTo(4096);

            c.request(0, Nbd.CMD_BLOCK_STATUS, 5, SIZE - 4096, 8192, null);
            assertThat(c.readChunk().error()).as("past the end").isEqualTo(NbdError.EINVAL.value());
        }
        assertThat(device.calls()).as("no I/O for block status").isEmpty();
    }

    @Test
    void should_refuse_block_status_without_a_negotiated_context() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            assertThat(c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]).type()).isEqualTo(Nbd.REP_ACK);
            c.go("disk");
            c.request(0, Nbd.CMD_BLOCK_STATUS, 3, 0, 4096, null);
            assertThat(c.readChunk().error()).isEqualTo(NbdError.EINVAL.value());
        }
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.request(0, Nbd.CMD_BLOCK_STATUS, 4, 0, 4096, null);
            assertThat(c.readSimpleReply(0).error()).isEqualTo(NbdError.EINVAL.value());
        }
    }

    @Test
    void should_drop_base_allocation_when_go_names_another_export() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
            c.optionUntilFinal(Nbd.OPT_SET_META_CONTEXT, RawNbdClient.metaContextData("backup", Nbd.BASE_ALLOCATION));
            c.go("disk");
            c.request(0, Nbd.CMD_BLOCK_STATUS, 3, 0, 4096, null);
            assertThat(c.readChunk().error()).isEqualTo(NbdError.EINVAL.value());
        }
    }

    @Test
    void should_pass_fua_flush_trim_and_write_zeroes_flags_to_the_device() throws Exception {
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.request(Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 1, 0, 512, new byte[512]);
            c.request(0, Nbd.CMD_FLUSH, 2, 0, 0, null);
            c.request(Nbd.CMD_FLAG_FUA, Nbd.CMD_TRIM, 3, 4096, 8192, null);
            c.request(0, Nbd.CMD_WRITE_ZEROES, 4, 8192, 4096, null);
            c.request(Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE_ZEROES, 5, 16384, 4096, null);
            c.request(Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_WRITE_ZEROES, 6, 32768, 1 << 20, null);
            c.request(0, Nbd.CMD_CACHE, 7, 0, 1 << 20, null);
            for (int i = 0; i < 7; i++) {
                assertThat(c.readSimpleReply(0).error()).isZero();
            }
        }
        assertThat(device.calls()).containsExactlyInAnyOrder(
                new Call("write", 0, 512, true, false, false),
                new Call("flush", 0, 0, false, false, false),
                new Call("trim", 4096, 8192, false, false, false),
                new Call("write_zeroes", 8192, 4096, false, true, false),
                new Call("write_zeroes", 16384, 4096, true, false, false),
                new Call("write_zeroes", 32768, 1 << 20, false, true, true));
        assertThat(disk.stats().requests(ExportStats.Op.CACHE)).isEqualTo(1);
    }

    @Test
    void should_answer_enotsup_when_a_fast_zero_cannot_be_fast() throws Exception {
        device.failures = call -> call.fastOnly()
                ? new BlockException(BlockException.Kind.NOT_SUPPORTED, "not fast here") : null;
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.request(Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_WRITE_ZEROES, 1, 0, 4096, null);
            assertThat(c.readSimpleReply(0).error()).isEqualTo(NbdError.ENOTSUP.value());
            c.request(0, Nbd.CMD_WRITE_ZEROES, 2, 0, 4096, null);
            assertThat(c.readSimpleReply(0).error()).isZero();
        }
    }

    @Test
    void should_refuse_flags_that_were_not_offered() throws Exception {
        device.canFastZero = false;
        device.canFua = false;
        device.canTrim = false;
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.request(Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_WRITE_ZEROES, 1, 0, 4096, null);
            c.request(Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 2, 0, 512, new byte[512]);
            c.request(0, Nbd.CMD_TRIM, 3, 0, 4096, null);
            c.request(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 4, 0, 512, null);
            c.request(Nbd.CMD_FLAG_NO_HOLE, Nbd.CMD_READ, 5, 0, 512, null);
            c.request(1 << 9, Nbd.CMD_READ, 6, 0, 512, null);
            for (int i = 0; i < 6; i++) {
                assertThat(c.readSimpleReply(0).error()).as("reply " + i).isEqualTo(NbdError.EINVAL.value());
            }
            c.read(7, 0, 512);
            assertThat(c.readSimpleReply(512).error()).isZero();
        }
        assertThat(device.calls()).extracting(Call::op).containsExactly("read");
    }

    @Test
    void should_send_replies_in_completion_order() throws Exception {
        device.mode = MemoryBlockDevice.Mode.HOLD;
        device.fill(0, random(4096, 3));
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            for (int h = 1; h <= 4; h++) {
                c.read(h, (h - 1) * 1024L, 1024);
            }
            device.awaitHeld(4);
            device.releaseHeldInReverse();
            List<Long> handles = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                SimpleReply r = c.readSimpleReply(1024);
                assertThat(r.error()).isZero();
                assertThat(r.data()).isEqualTo(device.contents((int) (r.handle() - 1) * 1024, 1024));
                handles.add(r.handle());
            }
            assertThat(handles).containsExactly(4L, 3L, 2L, 1L);
        }
    }

    @Test
    void should_answer_every_request_before_closing_on_disc() throws Exception {
        device.mode = MemoryBlockDevice.Mode.HOLD;
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.read(1, 0, 4096);
            c.write(2, 4096, new byte[4096]);
            device.awaitHeld(2);
            c.disconnect();
            assertThat(device.heldCount()).isEqualTo(2);
            device.releaseHeld();
            List<Long> handles = new ArrayList<>();
            SimpleReply first = c.readSimpleReply(4096);
            handles.add(first.handle());
            handles.add(c.readSimpleReply(first.handle() == 1 ? 0 : 4096).handle());
            assertThat(handles).containsExactlyInAnyOrder(1L, 2L);
            assertThat(c.closedByServer()).isTrue();
        }
        NbdFixture.await("connection counted closed", () -> disk.stats().connections() == 0);
    }

    @Test
    void should_refuse_writes_to_a_read_only_export_and_drain_their_payload() throws Exception {
        try (RawNbdClient c = RawNbdClient.open(server, "backup")) {
            c.write(1, 0, random(100_000, 4));
            c.request(0, Nbd.CMD_TRIM, 2, 0, 4096, null);
            c.request(0, Nbd.CMD_WRITE_ZEROES, 3, 0, 4096, null);
            for (int i = 1; i <= 3; i++) {
                SimpleReply r = c.readSimpleReply(0);
                assertThat(r.handle()).isEqualTo(i);
                assertThat(r.error()).isEqualTo(NbdError.EPERM.value());
            }
            c.read(4, 0, 512);
            SimpleReply r = c.readSimpleReply(512);
            assertThat(r.handle()).isEqualTo(4);
            assertThat(r.error()).isZero();
        }
        MemoryBlockDevice ro = fixture.device(backup);
        assertThat(ro.calls()).extracting(Call::op).containsExactly("read");
        assertThat(backup.stats().errors()).isEqualTo(Map.of("EPERM", 3L));
    }

    @Test
    void should_refuse_out_of_range_requests_with_the_errors_the_protocol_recommends() throws Exception {
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.read(1, SIZE - 512, 1024);
            c.write(2, SIZE - 512, new byte[1024]);
            c.request(0, Nbd.CMD_WRITE_ZEROES, 3, SIZE, 1, null);
            c.request(0, Nbd.CMD_TRIM, 4, SIZE, 4096, null);
            c.request(0, Nbd.CMD_CACHE, 5, SIZE - 1, 2, null);
            c.read(6, -512L, 1024); // offset + length wraps around 2^64
            c.read(7, 0, 0);
            c.request(0, Nbd.CMD_FLUSH, 8, 0, 512, null);
            int[] expected = {NbdError.EINVAL.value(), NbdError.ENOSPC.value(), NbdError.ENOSPC.value(),
                    NbdError.EINVAL.value(), NbdError.EINVAL.value(), NbdError.EINVAL.value(),
                    NbdError.EINVAL.value(), NbdError.EINVAL.value()};
            for (int i = 0; i < expected.length; i++) {
                SimpleReply r = c.readSimpleReply(0);
                assertThat(r.handle()).isEqualTo(i + 1);
                assertThat(r.error()).as("handle " + (i + 1)).isEqualTo(expected[i]);
            }
            c.read(9, SIZE - 512, 512);
            assertThat(c.readSimpleReply(512).error()).as("the last sector").isZero();
        }
        assertThat(device.calls()).hasSize(1);
    }

    @Test
    void should_refuse_an_unknown_command_with_einval() throws Exception {
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.request(0, 42, 1, 0, 512, null);
            SimpleReply r = c.readSimpleReply(0);
            assertThat(r.handle()).isEqualTo(1);
            assertThat(r.error()).isEqualTo(NbdError.EINVAL.value());
            c.read(2, 0, 512);
            assertThat(c.readSimpleReply(512).error()).isZero();
        }
    }

    @Test
    void should_refuse_oversized_reads_and_drain_oversized_writes() throws Exception {
        fixture.server.close();
        fixture.start(NbdServer.Config.defaults().bind("127.0.0.1", 0).maxPayload(64 * 1024));
        server = fixture.address;
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.read(1, 0, 64 * 1024 + 512);
            assertThat(c.readSimpleReply(0).error()).isEqualTo(NbdError.EINVAL.value());
            c.write(2, 0, random(1 << 20, 5));
            assertThat(c.readSimpleReply(0).error()).isEqualTo(NbdError.EINVAL.value());
            c.read(3, 0, 64 * 1024);
            SimpleReply r = c.readSimpleReply(64 * 1024);
            assertThat(r.handle()).as("in sync after the drained payload").isEqualTo(3);
            assertThat(r.error()).isZero();
        }
        assertThat(device.calls()).extracting(Call::op).containsExactly("read");
    }

    @Test
    void should_close_the_connection_on_an_absurd_write_length() throws Exception {
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.request(0, Nbd.CMD_WRITE, 1, 0, 0xF0000000L, null);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void should_map_device_failures_to_nbd_errors_per_request() throws Exception {
        device.failures = call -> switch ((int) call.offset()) {
            case 4096 -> TestNvme.exception(0x281); // Unrecovered Read Error
            case 8192 -> new BlockException(BlockException.Kind.SHUTDOWN, "namespace gone");
            case 12288 -> new IllegalStateException("bug");
            default -> null;
        };
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.read(1, 4096, 512);
            assertThat(c.readSimpleReply(512).error()).isEqualTo(NbdError.EIO.value());
            c.write(2, 8192, new byte[512]);
            assertThat(c.readSimpleReply(0).error()).isEqualTo(NbdError.ESHUTDOWN.value());
            c.read(3, 12288, 512);
            assertThat(c.readSimpleReply(512).error()).isEqualTo(NbdError.EIO.value());
            c.read(4, 0, 512);
            assertThat(c.readSimpleReply(512).error()).isZero();
        }
        assertThat(disk.stats().errors()).isEqualTo(Map.of("EIO", 2L, "ESHUTDOWN", 1L));
        assertThat(disk.stats().requests(ExportStats.Op.READ)).isEqualTo(3);
    }

    @Test
    void should_keep_at_most_max_in_flight_requests_on_the_device() throws Exception {
        fixture.server.close();
        fixture.start(NbdServer.Config.defaults().bind("127.0.0.1", 0).maxInFlight(3));
        server = fixture.address;
        device.mode = MemoryBlockDevice.Mode.HOLD;
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            for (int h = 0; h < 20; h++) {
                c.read(h, h * 512L, 512);
            }
            device.awaitHeld(3);
            int seen = 0;
            while (seen < 20) {
                assertThat(device.outstanding()).isLessThanOrEqualTo(3);
                device.awaitHeld(Math.min(3, 20 - seen));
                int n = device.heldCount();
                device.releaseHeld();
                for (int i = 0; i < n; i++) {
                    assertThat(c.readSimpleReply(512).error()).isZero();
                }
                seen += n;
            }
        }
        assertThat(device.maxOutstanding()).isEqualTo(3);
        assertThat(device.calls()).hasSize(20);
    }

    @Test
    void should_bound_the_bytes_a_connection_holds_not_only_the_request_count() throws Exception {
        NbdFixture big = new NbdFixture();
        try {
            NbdExport e = big.add("big", 96 << 20, false);
            MemoryBlockDevice d = big.device(e);
            InetSocketAddress a = big.start(NbdServer.Config.defaults().bind("127.0.0.1", 0).maxPayload(16 << 20));
            d.mode = MemoryBlockDevice.Mode.HOLD;
            try (RawNbdClient c = RawNbdClient.open(a, "big")) {
                // 12 reads of 16 MiB (192 MiB) against a bound of 64 MiB: 4 on the device at most
                for (int h = 0; h < 12; h++) {
                    c.read(h, (h % 6) * (16L << 20), 16 << 20);
                }
                int seen = 0;
                while (seen < 12) {
                    d.awaitHeld(Math.min(4, 12 - seen));
                    assertThat(d.outstanding()).isLessThanOrEqualTo(4);
                    int n = d.heldCount();
                    d.releaseHeld();
                    for (int i = 0; i < n; i++) {
                        assertThat(c.readSimpleReply(16 << 20).error()).isZero();
                    }
                    seen += n;
                }
            }
            assertThat(d.maxOutstanding()).isEqualTo(4);
            assertThat(e.stats().requests(ExportStats.Op.READ)).isEqualTo(12);
        } finally {
            big.close();
        }
    }

    @Test
    void should_count_connections_requests_and_bytes_per_export() throws Exception {
        try (RawNbdClient a = RawNbdClient.open(server, "disk"); RawNbdClient b = RawNbdClient.open(server, "disk")) {
            NbdFixture.await("two connections counted", () -> disk.stats().connections() == 2);
            a.write(1, 0, new byte[1000]);
            a.readSimpleReply(0);
            b.request(0, Nbd.CMD_TRIM, 2, 0, 4096, null);
            b.readSimpleReply(0);
        }
        NbdFixture.await("connections closed", () -> disk.stats().connections() == 0);
        assertThat(disk.stats().connectionsTotal()).isEqualTo(2);
        assertThat(disk.stats().inFlight()).isZero();
        assertThat(disk.stats().requests(ExportStats.Op.WRITE)).isEqualTo(1);
        assertThat(disk.stats().bytes(ExportStats.Op.WRITE)).isEqualTo(1000);
        assertThat(disk.stats().bytes(ExportStats.Op.TRIM)).isEqualTo(4096);
        assertThat(disk.stats().errors()).isEmpty();
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }
}
