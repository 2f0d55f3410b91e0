package io.nvmpath.fabric.nvme;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Parsers read the fields at the offsets of the NVMe Base and Fabrics specifications. */
class StructuresTest {
    private final List<ByteBuf> buffers = new ArrayList<>();

    @AfterEach
    void release() {
        buffers.forEach(ByteBuf::release);
    }

    private ByteBuf page(int size) {
        ByteBuf b = Unpooled.buffer(size).writeZero(size);
        buffers.add(b);
        return b;
    }

    private static void ascii(ByteBuf b, int off, String s) {
        b.setBytes(off, s.getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    void identify_controller_fields_come_from_their_offsets() {
        ByteBuf b = page(4096);
        ascii(b, 4, "SERIAL42            ");
        ascii(b, 24, "nvmpath model");
        ascii(b, 64, "6.1.0");
        b.setByte(76, 0x0B);
        b.setByte(77, 5);
        b.setShortLE(78, 7);
        b.setIntLE(80, 0x00010400);
        b.setIntLE(92, (1 << 11) | (1 << 8));
        b.setIntLE(96, 0x4);
        b.setShortLE(128, 3); // CRDT1
        b.setShortLE(132, 7); // CRDT3
        b.setShortLE(320, 50);
        b.setByte(342, 10);
        b.setIntLE(344, 128);
        b.setIntLE(348, 2);
        b.setIntLE(516, 1024);
        ascii(b, 768, "nqn.2026-11.test:sub1");
        b.setIntLE(1792, 1028);
        IdentifyController id = IdentifyController.parse(b);
        assertThat(id.serial()).isEqualTo("SERIAL42");
        assertThat(id.model()).isEqualTo("nvmpath model");
        assertThat(id.firmware()).isEqualTo("6.1.0");
        assertThat(id.multiController()).isTrue();
        assertThat(id.anaReporting()).isTrue();
        assertThat(id.mdts()).isEqualTo(5);
        assertThat(id.cntlid()).isEqualTo(7);
        assertThat(id.versionString()).isEqualTo("1.4.0");
        assertThat(id.trafficBasedKeepAlive()).isTrue();
        assertThat(id.retryDelayMillis(1)).isEqualTo(300);
        assertThat(id.retryDelayMillis(2)).isZero();
        assertThat(id.retryDelayMillis(3)).isEqualTo(700);
        assertThat(id.kas()).isEqualTo(50);
        assertThat(id.anatt()).isEqualTo(10);
        assertThat(id.anagrpmax()).isEqualTo(128);
        assertThat(id.nanagrpid()).isEqualTo(2);
        assertThat(id.nn()).isEqualTo(1024);
        assertThat(id.subnqn()).isEqualTo("nqn.2026-11.test:sub1");
        assertThat(id.ioccsz()).isEqualTo(1028);
    }

    @Test
    void identify_controller_reads_ciu_cirn_cqt_and_ccrl_of_rapid_path_failure_recovery() {
        ByteBuf b = page(4096);
        b.setShortLE(128, 1); // CRDT1 next to CIU: neither spills into the other
        b.setByte(134, 0xFF); // CRCAP
        b.setByte(135, 0xA7);
        b.setLongLE(136, 0x8899AABBCCDDEEFFL);
        b.setByte(144, 0xFF);
        b.setShortLE(386, 1500);
        b.setByte(1806, 0xFF); // DCTYPE
        b.setByte(1807, 4);
        IdentifyController id = IdentifyController.parse(b);
        assertThat(id.ciu()).isEqualTo(0xA7);
        assertThat(id.cirn()).isEqualTo(0x8899AABBCCDDEEFFL);
        assertThat(id.cqt()).isEqualTo(1500);
        assertThat(id.ccrl()).isEqualTo(4);
        assertThat(id.crossControllerReset()).isTrue();
        assertThat(id.retryDelayMillis(1)).isEqualTo(100);
        assertThat(IdentifyController.parse(page(4096)).crossControllerReset())
                .as("CCRL 0: a controller before TP8028").isFalse();
    }

    @Test
    void cross_controller_reset_log_round_trips_through_its_8_byte_entries() {
        CrossControllerResetLog log = new CrossControllerResetLog(List.of(
                new CrossControllerResetLog.Entry(3, 0x11, 5, CrossControllerResetLog.ResetStatus.IN_PROGRESS, 0),
                new CrossControllerResetLog.Entry(0xFFEF, 0xFE, 1, CrossControllerResetLog.ResetStatus.SUCCESS,
                        CrossControllerResetLog.Entry.FLAG_VALIDATED | CrossControllerResetLog.Entry.FLAG_RESET_INITIATED)));
        ByteBuf b = Unpooled.buffer(CrossControllerResetLog.SIZE);
        buffers.add(b);
        log.encode(b);
        assertThat(b.readableBytes()).isEqualTo(8 + 2 * 8);
        assertThat(b.getUnsignedShortLE(0)).as("NE").isEqualTo(2);
        assertThat(b.getUnsignedShortLE(8 + 8)).as("ICID of the second").isEqualTo(0xFFEF);
        assertThat(b.getUnsignedByte(8 + 8 + 2)).as("CIU").isEqualTo((short) 0xFE);
        assertThat(b.getUnsignedShortLE(8 + 8 + 4)).as("ACID").isEqualTo(1);
        assertThat(b.getUnsignedByte(8 + 8 + 6)).as("CCRS success").isEqualTo((short) 1);
        assertThat(b.getUnsignedByte(8 + 8 + 7)).as("CCRF V|CLRI").isEqualTo((short) 3);
        CrossControllerResetLog back = CrossControllerResetLog.parse(b);
        assertThat(back).isEqualTo(log);
        assertThat(back.entry(0xFFEF).validated()).isTrue();
        assertThat(back.entry(0xFFEF).resetInitiated()).isTrue();
        assertThat(back.entry(3).status()).isEqualTo(CrossControllerResetLog.ResetStatus.IN_PROGRESS);
        assertThat(CrossControllerResetLog.MAX_ENTRIES).isEqualTo(511);
    }

    @Test
    void cross_controller_reset_log_keeps_unknown_statuses_raw_and_refuses_entries_past_the_data() {
        ByteBuf b = page(16);
        b.setShortLE(0, 1);
        b.setShortLE(8, 2).setByte(14, 9).setByte(15, 0x0C); // CCRS 9, RETRY 3
        CrossControllerResetLog.Entry e = CrossControllerResetLog.parse(b).entry(2);
        assertThat(e.status()).isNull();
        assertThat(e.rawStatus()).isEqualTo(9);
        assertThat(e.retry()).isEqualTo(3);
        ByteBuf c = page(16);
        c.setShortLE(0, 2);
        assertThatThrownBy(() -> CrossControllerResetLog.parse(c)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("past the data");
    }

    @Test
    void identify_namespace_uses_the_lba_format_flbas_selects() {
        ByteBuf b = page(4096);
        b.setLongLE(0, 2048);
        b.setByte(26, 1); // format 1
        b.setByte(30, 1);
        b.setIntLE(92, 3);
        b.setByte(104, 0xAB);
        b.setByte(119, 0xCD);
        b.setByte(120, 0x11);
        b.setByte(128 + 2, 9);      // format 0: 512
        b.setByte(128 + 4 + 2, 12); // format 1: 4096
        IdentifyNamespace ns = IdentifyNamespace.parse(b);
        assertThat(ns.lbaSize()).isEqualTo(4096);
        assertThat(ns.sizeBytes()).isEqualTo(2048L * 4096);
        assertThat(ns.shared()).isTrue();
        assertThat(ns.anagrpid()).isEqualTo(3);
        assertThat(ns.nguid()[0]).isEqualTo((byte) 0xAB);
        assertThat(ns.nguid()[15]).isEqualTo((byte) 0xCD);
        assertThat(ns.eui64()[0]).isEqualTo((byte) 0x11);
    }

    @Test
    void namespace_descriptors_are_read_by_type_and_length_and_fall_back_to_identify() {
        ByteBuf b = page(4096);
        UUID uuid = UUID.fromString("6e766d70-6e73-4001-8000-000000000001");
        int off = 0;
        b.setByte(off, 3).setByte(off + 1, 16);
        b.setLong(off + 4, uuid.getMostSignificantBits()).setLong(off + 12, uuid.getLeastSignificantBits());
        off += 20;
        b.setByte(off, 9).setByte(off + 1, 4); // unknown type: skipped by its length
        off += 8;
        b.setByte(off, 4).setByte(off + 1, 1).setByte(off + 4, 0);
        NamespaceIds ids = NamespaceIds.parseDescriptors(b);
        assertThat(ids.uuid()).isEqualTo(uuid);
        assertThat(ids.nguid()).isNull();
        ByteBuf ns = page(4096);
        ns.setByte(104, 0x4E);
        NamespaceIds merged = ids.withFallback(IdentifyNamespace.parse(ns));
        assertThat(merged.nguidHex()).startsWith("4e00");
        assertThat(merged.eui64()).as("all-zero EUI-64 means none").isNull();
        assertThat(merged).isNotEqualTo(ids).isEqualTo(ids.withFallback(IdentifyNamespace.parse(ns)));
    }

    @Test
    void ana_log_lists_groups_with_their_nsids_and_states() {
        ByteBuf b = page(16 + 32 + 8 + 32 + 4);
        b.setLongLE(0, 6).setShortLE(8, 2);
        b.setIntLE(16, 1).setIntLE(20, 2).setLongLE(24, 3).setByte(32, 0x01);
        b.setIntLE(48, 1).setIntLE(52, 5);
        b.setIntLE(56, 2).setIntLE(60, 1).setLongLE(64, 4).setByte(72, 0x0F);
        b.setIntLE(88, 2);
        AnaLog log = AnaLog.parse(b);
        assertThat(log.changeCount()).isEqualTo(6);
        assertThat(log.groups()).hasSize(2);
        assertThat(log.group(1).state()).isEqualTo(AnaState.OPTIMIZED);
        assertThat(log.group(1).nsids()).containsExactly(1, 5);
        assertThat(log.group(2).state()).isEqualTo(AnaState.CHANGE);
        assertThat(log.group(2).state().usable()).isFalse();
    }

    @Test
    void ana_log_whose_counts_run_past_the_data_is_refused() {
        ByteBuf b = page(16 + 32);
        b.setShortLE(8, 1);
        b.setIntLE(16, 1).setIntLE(20, 1000);
        assertThatThrownBy(() -> AnaLog.parse(b)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("past the data");
        ByteBuf c = page(16);
        c.setShortLE(8, 3);
        assertThatThrownBy(() -> AnaLog.parse(c)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void unknown_ana_state_values_are_kept_raw_not_guessed() {
        ByteBuf b = page(48);
        b.setShortLE(8, 1);
        b.setIntLE(16, 1).setByte(32, 0x07);
        AnaLog.Group g = AnaLog.parse(b).group(1);
        assertThat(g.state()).isNull();
        assertThat(g.rawState()).isEqualTo(7);
    }

    @Test
    void discovery_log_entries_come_from_1k_records() {
        ByteBuf b = page(1024 + 2 * 1024);
        b.setLongLE(0, 9).setLongLE(8, 2);
        for (int i = 0; i < 2; i++) {
            int e = 1024 + i * 1024;
            b.setByte(e, 3).setByte(e + 1, 1).setByte(e + 2, 2).setShortLE(e + 4, i + 1);
            ascii(b, e + 32, "442" + i);
            ascii(b, e + 256, "nqn.2026-11.test:sub1");
            ascii(b, e + 512, "10.0.0." + (i + 1));
        }
        DiscoveryLog log = DiscoveryLog.parse(b);
        assertThat(log.generation()).isEqualTo(9);
        assertThat(log.entries()).extracting(DiscoveryLog.Entry::trsvcid).containsExactly("4420", "4421");
        assertThat(log.entries().get(1).traddr()).isEqualTo("10.0.0.2");
        assertThat(log.entries().get(0).transportName()).isEqualTo("tcp");
        assertThat(log.entries().get(0).subtypeName()).isEqualTo("nvme subsystem");
    }

    @Test
    void discovery_log_claiming_more_records_than_it_holds_yields_what_is_there() {
        ByteBuf b = page(1024 + 1024);
        b.setLongLE(8, 500);
        assertThat(DiscoveryLog.parse(b).entries()).hasSize(1);
    }

    @Test
    void async_event_completion_dword_decodes_type_info_and_log_page() {
        AsyncEvent ana = AsyncEvent.fromResult(0x000C0302);
        assertThat(ana.isAnaChange()).isTrue();
        assertThat(ana.logPage()).isEqualTo(0x0C);
        assertThat(AsyncEvent.fromResult(0x0070F002).isDiscoveryChange()).isTrue();
        assertThat(AsyncEvent.fromResult(0x00040002).isNamespaceChange()).isTrue();
        AsyncEvent ccr = AsyncEvent.fromResult(0x001EF402);
        assertThat(ccr.isCrossControllerResetCompleted()).isTrue();
        assertThat(ccr.logPage()).isEqualTo(Opcodes.LOG_CROSS_CONTROLLER_RESET);
        assertThat(ccr).hasToString("cross-controller reset completed (log page 0x1e)");
    }

    @Test
    void changed_namespace_list_stops_at_zero_and_flags_overflow() {
        ByteBuf b = page(4096);
        b.setIntLE(0, 3).setIntLE(4, 9);
        assertThat(ChangedNamespaces.parse(b).nsids()).containsExactly(3, 9);
        ByteBuf o = page(4096);
        o.setIntLE(0, 0xFFFFFFFF);
        assertThat(ChangedNamespaces.parse(o).overflow()).isTrue();
    }

    @Test
    void statuses_are_named_as_an_operator_reads_them() {
        assertThat(Status.describe(0x302)).isEqualTo("ANA Inaccessible (SCT 3h SC 02h)");
        assertThat(Status.describe(Status.INVALID_FIELD | Status.DNR)).isEqualTo("Invalid Field in Command (SCT 0h SC 02h DNR)");
        assertThat(Status.describe(0x182, Opcodes.FABRICS)).startsWith("Connect Invalid Parameters");
        assertThat(Status.describe(0x182, Opcodes.NVM_WRITE)).startsWith("Attempted Write to Read Only Range");
        assertThat(Status.isPathError(Status.HOST_ABORTED_CMD)).isTrue();
        assertThat(Status.isPathError(Status.LBA_RANGE)).isFalse();
        assertThat(Status.isAnaError(Status.ANA_TRANSITION)).isTrue();
        assertThat(Status.crd(0x0800 | 0x302)).isEqualTo(1);
        assertThat(Status.describe(Status.CCR_LIMIT_EXCEEDED | Status.DNR, Opcodes.ADMIN_CROSS_CONTROLLER_RESET))
                .isEqualTo("Cross-Controller Reset Limit Exceeded (SCT 1h SC 41h DNR)");
        assertThat(Status.describe(Status.CCR_IN_PROGRESS)).startsWith("Cross-Controller Reset in Progress");
        assertThat(Status.describe(Status.CCR_LOG_FULL)).startsWith("Cross-Controller Reset Log Page Full");
        assertThat(Opcodes.adminName(0x38)).isEqualTo("Cross-Controller Reset");
    }
}
