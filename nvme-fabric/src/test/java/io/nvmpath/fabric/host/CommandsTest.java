package io.nvmpath.fabric.host;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.nvmpath.fabric.nvme.CrossControllerReset;
import io.nvmpath.fabric.nvme.Sqe;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Command encodings checked byte by byte against the specification's layouts. */
class CommandsTest {
    private static ByteBuf bytes(Sqe sqe) {
        ByteBuf b = Unpooled.buffer(64);
        sqe.encode(b);
        return b;
    }

    @Test
    void connect_puts_qid_sqsize_and_kato_at_bytes_42_44_and_48() {
        ByteBuf data = Unpooled.buffer(1024);
        UUID host = UUID.fromString("11111111-2222-3333-4444-555555555555");
        Commands.connectData(data, host, 0xFFFF, "nqn.sub", "nqn.host");
        NvmeRequest r = Commands.connect(3, 127, 5000, data);
        ByteBuf b = bytes(r.sqe());
        assertThat(b.getUnsignedByte(0)).isEqualTo((short) 0x7F);
        assertThat(b.getUnsignedByte(1) & 0xC0).as("PSDT = SGL").isEqualTo(0x40);
        assertThat(b.getUnsignedByte(4)).as("FCTYPE connect").isEqualTo((short) 0x01);
        assertThat(b.getUnsignedShortLE(40)).as("RECFMT").isZero();
        assertThat(b.getUnsignedShortLE(42)).as("QID").isEqualTo(3);
        assertThat(b.getUnsignedShortLE(44)).as("SQSIZE").isEqualTo(127);
        assertThat(b.getUnsignedByte(46)).as("CATTR").isZero();
        assertThat(b.getIntLE(48)).as("KATO").isEqualTo(5000);
        assertThat(data.getLong(0)).isEqualTo(host.getMostSignificantBits());
        assertThat(data.getUnsignedShortLE(16)).as("CNTLID").isEqualTo(0xFFFF);
        assertThat(data.toString(256, 7, StandardCharsets.US_ASCII)).isEqualTo("nqn.sub");
        assertThat(data.toString(512, 8, StandardCharsets.US_ASCII)).isEqualTo("nqn.host");
        b.release();
        data.release();
    }

    @Test
    void authentication_send_and_receive_put_spsp0_spsp1_secp_at_bytes_41_to_43_and_tl_al_at_44() {
        ByteBuf msg = Unpooled.buffer(72).writeZero(72);
        ByteBuf b = bytes(Commands.authSend(msg).sqe());
        assertThat(b.getUnsignedByte(4)).as("FCTYPE Authentication Send").isEqualTo((short) 0x05);
        assertThat(b.getUnsignedByte(40)).as("reserved").isZero();
        assertThat(b.getUnsignedByte(41)).as("SPSP0").isEqualTo((short) 0x01);
        assertThat(b.getUnsignedByte(42)).as("SPSP1").isEqualTo((short) 0x01);
        assertThat(b.getUnsignedByte(43)).as("SECP").isEqualTo((short) 0xE9);
        assertThat(b.getIntLE(44)).as("TL").isEqualTo(72);
        b.release();
        msg.release();
        NvmeRequest recv = Commands.authReceive(4096);
        ByteBuf r = bytes(recv.sqe());
        assertThat(r.getUnsignedByte(4)).as("FCTYPE Authentication Receive").isEqualTo((short) 0x06);
        assertThat(r.getUnsignedByte(43)).as("SECP").isEqualTo((short) 0xE9);
        assertThat(r.getIntLE(44)).as("AL").isEqualTo(4096);
        assertThat(recv.dataLength()).isEqualTo(4096);
        r.release();
    }

    @Test
    void property_set_uses_attrib_40_offset_44_value_48() {
        ByteBuf b = bytes(Commands.propertySet(0x14, 0x460001, false).sqe());
        assertThat(b.getUnsignedByte(4)).isEqualTo((short) 0x00);
        assertThat(b.getUnsignedByte(40)).isZero();
        assertThat(b.getIntLE(44)).isEqualTo(0x14);
        assertThat(b.getLongLE(48)).isEqualTo(0x460001);
        b.release();
        ByteBuf g = bytes(Commands.propertyGet(0x00, true).sqe());
        assertThat(g.getUnsignedByte(4)).isEqualTo((short) 0x04);
        assertThat(g.getUnsignedByte(40)).as("8-byte property").isEqualTo((short) 1);
        g.release();
    }

    @Test
    void get_log_page_encodes_lid_lsp_numd_and_offset() {
        NvmeRequest r = Commands.getLogPage(0x0C, 1, false, 0, 8192, 4096 * 20);
        Sqe s = r.sqe();
        assertThat(s.cdw(10) & 0xFF).isEqualTo(0x0C);
        assertThat((s.cdw(10) >>> 8) & 0x7F).as("LSP/RGO").isEqualTo(1);
        long numd = ((s.cdw(10) >>> 16) & 0xFFFF) | ((long) (s.cdw(11) & 0xFFFF) << 16);
        assertThat(numd).isEqualTo(4096L * 20 / 4 - 1);
        assertThat(s.cdw(12)).isEqualTo(8192);
        assertThat(r.dataLength()).isEqualTo(4096 * 20);
    }

    @Test
    void read_write_and_write_zeroes_use_zero_based_block_counts_and_flags() {
        Sqe read = Commands.read(1, 0x1_0000_0002L, 8, 512).sqe();
        assertThat(read.slba()).isEqualTo(0x1_0000_0002L);
        assertThat(read.nlb()).isEqualTo(8);
        assertThat(read.cdw(12) & 0xFFFF).isEqualTo(7);
        ByteBuf d = Unpooled.buffer(512).writeZero(512);
        Sqe fua = Commands.write(1, 0, 1, d, true).sqe();
        assertThat(fua.cdw(12) & (1 << 30)).isNotZero();
        d.release();
        Sqe wz = Commands.writeZeroes(1, 0, 16, true, false).sqe();
        assertThat(wz.cdw(12) & (1 << 25)).as("DEAC").isNotZero();
        ByteBuf ranges = Unpooled.buffer(32);
        Commands.dsmRange(ranges, 100, 8);
        Commands.dsmRange(ranges, 200, 8);
        Sqe dsm = Commands.deallocate(1, 2, ranges).sqe();
        assertThat(dsm.cdw(10)).isEqualTo(1);
        assertThat(dsm.cdw(11) & 0x4).as("AD").isNotZero();
        assertThat(ranges.getLongLE(16 + 8)).isEqualTo(200);
        ranges.release();
    }

    @Test
    void cross_controller_reset_puts_icid_and_ciu_in_cdw10_and_cirn_in_cdw12_and_13() {
        CrossControllerReset ccr = new CrossControllerReset(0x1234, 0xA5, 0x0102030405060708L);
        NvmeRequest r = Commands.crossControllerReset(ccr);
        ByteBuf b = bytes(r.sqe());
        assertThat(b.getUnsignedByte(0)).as("opcode").isEqualTo((short) 0x38);
        assertThat(b.getUnsignedShortLE(40)).as("ICID, CDW10 15:0").isEqualTo(0x1234);
        assertThat(b.getUnsignedByte(42)).as("CIU, CDW10 23:16").isEqualTo((short) 0xA5);
        assertThat(b.getUnsignedByte(43)).as("CDW10 31:24 reserved").isZero();
        assertThat(b.getIntLE(44)).as("CDW11 reserved").isZero();
        assertThat(b.getLongLE(48)).as("CIRN, CDW12 low and CDW13 high").isEqualTo(0x0102030405060708L);
        assertThat(r.direction()).isEqualTo(NvmeRequest.Direction.NONE);
        assertThat(CrossControllerReset.from(Sqe.decode(b, 0))).as("what the target reads").isEqualTo(ccr);
        b.release();
        CrossControllerReset high = new CrossControllerReset(1, 0xFF, -2L);
        assertThat(CrossControllerReset.from(high.toSqe())).isEqualTo(high);
    }

    @Test
    void cross_controller_reset_result_decodes_irs_v_and_clri_from_dword_0() {
        assertThat(CrossControllerReset.Result.fromDw0(0x7)).isEqualTo(CrossControllerReset.Result.RESET);
        assertThat(CrossControllerReset.Result.fromDw0(0)).isEqualTo(CrossControllerReset.Result.IN_PROGRESS);
        assertThat(CrossControllerReset.Result.fromDw0(0x1).immediate()).isTrue();
        assertThat(CrossControllerReset.Result.RESET.dw0()).isEqualTo(0x7);
    }

    @Test
    void cross_controller_reset_log_reads_the_whole_page_with_rmc_in_lsp_bit_0() {
        Sqe s = Commands.crossControllerResetLog(true).sqe();
        assertThat(s.cdw(10) & 0xFF).isEqualTo(0x1E);
        assertThat((s.cdw(10) >>> 8) & 0x7F).as("LSP RMC").isEqualTo(1);
        assertThat((s.cdw(10) >>> 16) & 0xFFFF).as("NUMDL").isEqualTo(4096 / 4 - 1);
        assertThat((Commands.crossControllerResetLog(false).sqe().cdw(10) >>> 8) & 0x7F).isZero();
    }
}
