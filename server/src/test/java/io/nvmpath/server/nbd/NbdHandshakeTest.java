package io.nvmpath.server.nbd;

import io.nvmpath.server.nbd.RawNbdClient.OptionReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static io.nvmpath.server.nbd.RawNbdClient.infoData;
import static io.nvmpath.server.nbd.RawNbdClient.metaContextData;
import static org.assertj.core.api.Assertions.assertThat;

/** Fixed newstyle negotiation and option haggling, byte by byte over a socket. */
class NbdHandshakeTest {
    private static final int SIZE = 4 << 20;

    private NbdFixture fixture;
    private InetSocketAddress server;
    private NbdExport disk;

    @BeforeEach
    void setUp() throws Exception {
        fixture = new NbdFixture();
        disk = fixture.add("disk", SIZE, false);
        fixture.add("backup", 1 << 20, true);
        server = fixture.start();
    }

    @AfterEach
    void tearDown() throws Exception {
        fixture.close();
    }

    @Test
    void should_greet_with_fixed_newstyle_and_no_zeroes_handshake_flags() throws Exception {
        try (RawNbdClient c = RawNbdClient.connect(server)) {
            assertThat(c.handshakeFlags).isEqualTo(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES);
        }
    }

    @Test
    void should_close_when_client_does_not_set_fixed_newstyle() throws Exception {
        try (RawNbdClient c = RawNbdClient.connect(server)) {
            c.clientFlags(Nbd.FLAG_C_NO_ZEROES);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void should_close_on_unknown_client_flags() throws Exception {
        try (RawNbdClient c = RawNbdClient.connect(server)) {
            c.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | (1 << 5));
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void should_end_export_name_with_size_flags_and_124_zero_bytes_without_no_zeroes() throws Exception {
        try (RawNbdClient c = RawNbdClient.connect(server)) {
            c.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE);
            c.sendOption(Nbd.OPT_EXPORT_NAME, "disk".getBytes(StandardCharsets.UTF_8));
            assertThat(c.readLong()).isEqualTo(SIZE);
            int flags = c.readUnsignedShort();
            assertThat(flags & Nbd.FLAG_HAS_FLAGS).isNotZero();
            assertThat(c.readBytes(124)).containsOnly(0);
            // then transmission: a read works, so nothing more was sent and nothing is missing
            c.read(7, 0, 512);
            RawNbdClient.SimpleReply r = c.readSimpleReply(512);
            assertThat(r.error()).isZero();
            assertThat(r.handle()).isEqualTo(7);
        }
    }

    @Test
    void should_omit_the_zero_padding_when_no_zeroes_was_negotiated() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            c.sendOption(Nbd.OPT_EXPORT_NAME, "disk".getBytes(StandardCharsets.UTF_8));
            assertThat(c.readLong()).isEqualTo(SIZE);
            c.readUnsignedShort();
            c.read(9, 0, 512);
            RawNbdClient.SimpleReply r = c.readSimpleReply(512);
            assertThat(r.handle()).as("reply follows the flags directly").isEqualTo(9);
        }
    }

    @Test
    void should_close_on_export_name_of_an_unknown_export() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            c.sendOption(Nbd.OPT_EXPORT_NAME, "nope".getBytes(StandardCharsets.UTF_8));
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void should_answer_go_with_export_name_description_and_block_sizes() throws Exception {
        MemoryBlockDevice d = fixture.device(disk);
        d.blockSize = 4096;
        d.preferredBlockSize = 8192;
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            List<OptionReply> replies = c.optionUntilFinal(Nbd.OPT_GO,
                    infoData("disk", Nbd.INFO_NAME, Nbd.INFO_DESCRIPTION, Nbd.INFO_BLOCK_SIZE));
            assertThat(replies.get(replies.size() - 1).type()).isEqualTo(Nbd.REP_ACK);
            OptionReply export = info(replies, Nbd.INFO_EXPORT);
            assertThat(export.data()).hasSize(12);
            assertThat(export.u64(2)).isEqualTo(SIZE);
            int flags = export.u16(10);
            assertThat(flags).isEqualTo(Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA
                    | Nbd.FLAG_SEND_TRIM | Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_CAN_MULTI_CONN
                    | Nbd.FLAG_SEND_CACHE | Nbd.FLAG_SEND_FAST_ZERO);
            assertThat(new String(info(replies, Nbd.INFO_NAME).data(), 2, 4, StandardCharsets.UTF_8)).isEqualTo("disk");
            OptionReply description = info(replies, Nbd.INFO_DESCRIPTION);
            assertThat(new String(description.data(), 2, description.data().length - 2, StandardCharsets.UTF_8))
                    .isEqualTo("the disk export");
            OptionReply sizes = info(replies, Nbd.INFO_BLOCK_SIZE);
            assertThat(sizes.data()).hasSize(14);
            assertThat(sizes.u32(2)).as("minimum").isEqualTo(4096);
            assertThat(sizes.u32(6)).as("preferred").isEqualTo(8192);
            assertThat(sizes.u32(10)).as("maximum: one device command (the test device carries 128 KiB)")
                    .isEqualTo(128 * 1024);
        }
    }

    @Test
    void should_advertise_only_what_the_device_and_export_allow() throws Exception {
        MemoryBlockDevice d = fixture.device(disk);
        d.canFlush = false;
        d.canFua = false;
        d.canTrim = false;
        d.canFastZero = false;
        d.flushCoversAllConnections = false;
        try (RawNbdClient c = RawNbdClient.open(server, "disk"); RawNbdClient ro = RawNbdClient.open(server, "backup")) {
            assertThat(c.transmissionFlags).isEqualTo(Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_SEND_CACHE);
            assertThat(ro.transmissionFlags & Nbd.FLAG_READ_ONLY).isNotZero();
            assertThat(ro.transmissionFlags & (Nbd.FLAG_SEND_TRIM | Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_SEND_FUA)).isZero();
        }
    }

    @Test
    void should_answer_info_and_stay_in_negotiation() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            List<OptionReply> info = c.optionUntilFinal(Nbd.OPT_INFO, infoData("backup"));
            assertThat(info.get(info.size() - 1).type()).isEqualTo(Nbd.REP_ACK);
            assertThat(info(info, Nbd.INFO_EXPORT).u64(2)).isEqualTo(1 << 20);
            assertThat(info(info, Nbd.INFO_BLOCK_SIZE)).as("block sizes sent unasked").isNotNull();
            c.go("disk");
            assertThat(c.exportSize).isEqualTo(SIZE);
        }
    }

    @Test
    void should_answer_err_unknown_for_an_unknown_export_and_keep_negotiating() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            List<OptionReply> replies = c.optionUntilFinal(Nbd.OPT_GO, infoData("nope", Nbd.INFO_BLOCK_SIZE));
            assertThat(replies).extracting(OptionReply::type).containsExactly(Nbd.REP_ERR_UNKNOWN);
            c.go("disk");
        }
    }

    @Test
    void should_answer_err_invalid_when_the_go_data_is_inconsistent() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            byte[] data = infoData("disk", Nbd.INFO_BLOCK_SIZE);
            data[data.length - 3] = 5; // claims 5 information requests, carries 1
            assertThat(c.optionUntilFinal(Nbd.OPT_GO, data)).extracting(OptionReply::type)
                    .containsExactly(Nbd.REP_ERR_INVALID);
            c.go("disk");
        }
    }

    @Test
    void should_map_the_empty_name_to_the_default_export() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            List<OptionReply> replies = c.go("");
            assertThat(c.exportSize).isEqualTo(SIZE);
            OptionReply name = info(replies, Nbd.INFO_NAME);
            assertThat(new String(name.data(), 2, name.data().length - 2, StandardCharsets.UTF_8))
                    .as("canonical name told to a client that asked for the default").isEqualTo("disk");
        }
    }

    @Test
    void should_list_every_export_then_ack() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            List<OptionReply> replies = c.optionUntilFinal(Nbd.OPT_LIST, new byte[0]);
            assertThat(replies).extracting(OptionReply::type)
                    .containsExactly(Nbd.REP_SERVER, Nbd.REP_SERVER, Nbd.REP_ACK);
            assertThat(replies.subList(0, 2)).extracting(NbdHandshakeTest::serverName).containsExactly("disk", "backup");
            OptionReply first = replies.get(0);
            assertThat(new String(first.data(), 8, first.data().length - 8, StandardCharsets.UTF_8))
                    .isEqualTo("the disk export");
        }
    }

    @Test
    void should_hide_an_export_from_a_client_outside_its_allow_list() throws Exception {
        fixture.add("private", 1 << 20, false, "10.0.0.0/8");
        fixture.add("local", 1 << 20, false, "127.0.0.0/8", "::1");
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            List<OptionReply> list = c.optionUntilFinal(Nbd.OPT_LIST, new byte[0]);
            assertThat(list.stream().filter(r -> r.type() == Nbd.REP_SERVER).map(NbdHandshakeTest::serverName))
                    .containsExactly("disk", "backup", "local");
            assertThat(c.optionUntilFinal(Nbd.OPT_INFO, infoData("private"))).extracting(OptionReply::type)
                    .as("same answer as a name that does not exist").containsExactly(Nbd.REP_ERR_UNKNOWN);
            assertThat(c.optionUntilFinal(Nbd.OPT_INFO, infoData("local")).get(0).type()).isEqualTo(Nbd.REP_INFO);
            c.sendOption(Nbd.OPT_EXPORT_NAME, "private".getBytes(StandardCharsets.UTF_8));
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void should_answer_an_unknown_option_with_err_unsup_and_stay_in_sync() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            OptionReply r = c.option(4242, "some payload the server must skip".getBytes(StandardCharsets.UTF_8));
            assertThat(r.type()).isEqualTo(Nbd.REP_ERR_UNSUP);
            assertThat(c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]).type()).isEqualTo(Nbd.REP_ACK);
            c.go("disk");
        }
    }

    @Test
    void should_answer_an_oversized_option_with_err_too_big_after_skipping_its_data() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            int length = NbdHandshakeHandler.MAX_OPTION_LENGTH + 1;
            c.sendOptionHeader(Nbd.OPT_INFO, length);
            c.sendZeroes(length);
            OptionReply r = c.readOptionReply();
            assertThat(r.option()).isEqualTo(Nbd.OPT_INFO);
            assertThat(r.type()).isEqualTo(Nbd.REP_ERR_TOO_BIG);
            c.go("disk");
        }
    }

    @Test
    void should_close_on_an_absurd_option_length() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            c.sendOptionHeader(Nbd.OPT_INFO, 0xFFFFFFF0L);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void should_close_after_too_many_options() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            for (int i = 0; i < NbdHandshakeHandler.MAX_OPTIONS; i++) {
                assertThat(c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]).type()).isEqualTo(Nbd.REP_ACK);
            }
            c.sendOption(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void should_close_on_a_bad_option_magic() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            c.sendRaw(new byte[16]);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void should_ack_abort_then_close() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            assertThat(c.option(Nbd.OPT_ABORT, new byte[0]).type()).isEqualTo(Nbd.REP_ACK);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void should_refuse_starttls_with_err_policy_when_tls_is_off() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            assertThat(c.option(Nbd.OPT_STARTTLS, new byte[0]).type()).isEqualTo(Nbd.REP_ERR_POLICY);
            c.go("disk");
        }
    }

    @Test
    void should_refuse_list_with_data() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            assertThat(c.option(Nbd.OPT_LIST, new byte[3]).type()).isEqualTo(Nbd.REP_ERR_INVALID);
        }
    }

    @Test
    void should_refuse_meta_contexts_before_structured_replies() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            assertThat(c.option(Nbd.OPT_SET_META_CONTEXT, metaContextData("disk", Nbd.BASE_ALLOCATION)).type())
                    .isEqualTo(Nbd.REP_ERR_INVALID);
            assertThat(c.option(Nbd.OPT_LIST_META_CONTEXT, metaContextData("disk")).type())
                    .isEqualTo(Nbd.REP_ERR_INVALID);
        }
    }

    @Test
    void should_offer_exactly_base_allocation() throws Exception {
        try (RawNbdClient c = RawNbdClient.negotiate(server)) {
            assertThat(c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]).type()).isEqualTo(Nbd.REP_ACK);

            List<OptionReply> all = c.optionUntilFinal(Nbd.OPT_LIST_META_CONTEXT, metaContextData("disk"));
            assertThat(all).extracting(OptionReply::type).containsExactly(Nbd.REP_META_CONTEXT, Nbd.REP_ACK);
            assertThat(contextName(all.get(0))).isEqualTo(Nbd.BASE_ALLOCATION);

            List<OptionReply> wildcard = c.optionUntilFinal(Nbd.OPT_LIST_META_CONTEXT, metaContextData("disk", "base:"));
            assertThat(wildcard).extracting(OptionReply::type).containsExactly(Nbd.REP_META_CONTEXT, Nbd.REP_ACK);

            List<OptionReply> other = c.optionUntilFinal(Nbd.OPT_SET_META_CONTEXT,
                    metaContextData("disk", "qemu:dirty-bitmap:x", "base:"));
            assertThat(other).extracting(OptionReply::type).as("nothing selected").containsExactly(Nbd.REP_ACK);

            List<OptionReply> set = c.optionUntilFinal(Nbd.OPT_SET_META_CONTEXT,
                    metaContextData("disk", "x-foo:bar", Nbd.BASE_ALLOCATION));
            assertThat(set).extracting(OptionReply::type).containsExactly(Nbd.REP_META_CONTEXT, Nbd.REP_ACK);
            assertThat(set.get(0).u32(0)).as("context id").isEqualTo(Nbd.BASE_ALLOCATION_ID);
            assertThat(contextName(set.get(0))).isEqualTo(Nbd.BASE_ALLOCATION);

            assertThat(c.optionUntilFinal(Nbd.OPT_SET_META_CONTEXT, metaContextData("nope", Nbd.BASE_ALLOCATION)))
                    .extracting(OptionReply::type).containsExactly(Nbd.REP_ERR_UNKNOWN);
        }
    }

    @Test
    void should_hold_a_client_that_agreed_to_block_sizes_to_the_maximum_payload() throws Exception {
        fixture.server.close();
        fixture.start(NbdServer.Config.defaults().bind("127.0.0.1", 0).maxPayload(1 << 20));
        server = fixture.address;
        int over = (1 << 20) + 4096;
        try (RawNbdClient agreed = RawNbdClient.open(server, "disk")) {
            agreed.read(0, 0, 1 << 20); // above the advertised maximum (one device command), within the payload bound
            assertThat(agreed.readSimpleReply(1 << 20).error()).as("split by the device").isZero();
            agreed.read(1, 0, over);
            assertThat(agreed.readSimpleReply(over).error()).isEqualTo(NbdError.EINVAL.value());
        }
        try (RawNbdClient legacy = RawNbdClient.negotiate(server)) {
            List<OptionReply> replies = legacy.optionUntilFinal(Nbd.OPT_GO, infoData("disk"));
            assertThat(info(replies, Nbd.INFO_BLOCK_SIZE).u32(10)).as("advertised: one device command")
                    .isEqualTo(128 * 1024);
            legacy.read(2, 0, over);
            RawNbdClient.SimpleReply r = legacy.readSimpleReply(over);
            assertThat(r.error()).as("the protocol's default 32 MiB applies to a client that did not agree")
                    .isZero();
            assertThat(r.data()).hasSize(over);
        }
    }

    private static OptionReply info(List<OptionReply> replies, int type) {
        return replies.stream().filter(r -> r.type() == Nbd.REP_INFO && r.u16(0) == type).findFirst().orElse(null);
    }

    private static String serverName(OptionReply r) {
        return new String(r.data(), 4, r.u32(0), StandardCharsets.UTF_8);
    }

    private static String contextName(OptionReply r) {
        return new String(r.data(), 4, r.data().length - 4, StandardCharsets.UTF_8);
    }

    @Test
    void should_log_an_export_refused_to_a_client_saying_when_its_allow_list_hides_it() throws Exception {
        RecordingLogger log = new RecordingLogger();
        NbdExport hidden = new NbdExport("hidden", "", new MemoryBlockDevice(1 << 20), false,
                java.util.List.of(ClientNetwork.parse("10.0.0.0/8")), new ExportStats());
        NbdExports exports = new NbdExports() {
            @Override
            public NbdExport find(String name) {
                return name.equals("hidden") ? hidden : null;
            }

            @Override
            public java.util.List<NbdExport> list() {
                return java.util.List.of(hidden);
            }
        };
        io.netty.channel.embedded.EmbeddedChannel ch = new io.netty.channel.embedded.EmbeddedChannel(
                new NbdHandshakeHandler(NbdServer.Config.defaults(), exports,
                        new io.nvmpath.fabric.log.WarnLimiter(log, 0)));
        try {
            io.netty.buffer.ByteBuf in = io.netty.buffer.Unpooled.buffer();
            in.writeInt(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
            for (String name : new String[] {"hidden", "nope"}) {
                byte[] data = RawNbdClient.infoData(name);
                in.writeLong(Nbd.IHAVEOPT).writeInt(Nbd.OPT_GO).writeInt(data.length).writeBytes(data);
            }
            ch.writeInbound(in);
            ch.releaseOutbound();

            assertThat(log.lines).containsExactly(
                    "WARN NBD client embedded: NBD_OPT_GO refused: export 'hidden' is hidden from it by its allow-list",
                    "WARN NBD client embedded: NBD_OPT_GO refused: no export 'nope'");
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
