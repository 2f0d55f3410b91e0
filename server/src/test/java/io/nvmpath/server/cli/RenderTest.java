package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.nvmpath.fabric.nvme.AnaLog;
import io.nvmpath.fabric.nvme.DiscoveryLog;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.NamespaceIds;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

class RenderTest {

    /** Parses a 4096-byte zeroed page filled in by {@code fill}; the page is released after. */
    private static <T> T page(Consumer<ByteBuf> fill, Function<ByteBuf, T> parse) {
        ByteBuf b = Unpooled.buffer(4096).writeZero(4096);
        try {
            fill.accept(b);
            return parse.apply(b);
        } finally {
            b.release();
        }
    }

    private static void ascii(ByteBuf b, int index, String s) {
        b.setBytes(index, s.getBytes(StandardCharsets.US_ASCII));
    }

    private static JsonNode json(Report r) throws Exception {
        return Report.MAPPER.readTree(r.render(OutputFormat.json));
    }

    private static IdentifyController identifyController() {
        return page(b -> {
            b.setShortLE(0, 0x1b36);
            b.setShortLE(2, 0x1af4);
            ascii(b, 4, "SN123               ");
            ascii(b, 24, "nvmpath test controller");
            ascii(b, 64, "1.0     ");
            b.setByte(76, 0x0b);
            b.setByte(77, 5);
            b.setShortLE(78, 3);
            b.setIntLE(80, 0x00020000);
            b.setIntLE(92, 0x80000900);
            b.setIntLE(96, 0x4);
            b.setShortLE(320, 10);
            b.setByte(342, 10);
            b.setByte(343, 0x47);
            b.setIntLE(344, 128);
            b.setIntLE(348, 128);
            b.setByte(512, 0x66);
            b.setByte(513, 0x44);
            b.setShortLE(514, 128);
            b.setIntLE(516, 1024);
            b.setShortLE(520, 0x1f);
            b.setByte(525, 1);
            b.setIntLE(536, 0x100005);
            ascii(b, 768, "nqn.2014-08.org.example:sub1");
            b.setIntLE(1792, 4);
            b.setIntLE(1796, 1);
            b.setByte(1803, 1);
        }, IdentifyController::parse);
    }

    @Test
    void should_print_identify_controller_with_nvme_cli_names_and_hex() {
        Report r = Render.idCtrl(identifyController());

        assertThat(r.render(OutputFormat.normal).lines()).contains(
                "vid       : 0x1b36",
                "ssvid     : 0x1af4",
                "sn        : SN123",
                "mn        : nvmpath test controller",
                "fr        : 1.0",
                "cmic      : 0xb",
                "mdts      : 5",
                "cntlid    : 0x3",
                "ver       : 0x20000",
                "oaes      : 0x80000900",
                "ctratt    : 0x4",
                "kas       : 10",
                "anatt     : 10",
                "anacap    : 71",
                "anagrpmax : 128",
                "nanagrpid : 128",
                "sqes      : 0x66",
                "cqes      : 0x44",
                "maxcmd    : 128",
                "nn        : 1024",
                "oncs      : 0x1f",
                "vwc       : 0x1",
                "sgls      : 0x100005",
                "subnqn    : nqn.2014-08.org.example:sub1",
                "ioccsz    : 4",
                "iorcsz    : 1",
                "icdoff    : 0",
                "fcatt     : 0",
                "msdbd     : 1");
    }

    @Test
    void should_give_identify_controller_numbers_as_numbers_in_json() throws Exception {
        JsonNode j = json(Render.idCtrl(identifyController()));

        assertThat(j.get("vid").isNumber()).isTrue();
        assertThat(j.get("vid").asInt()).isEqualTo(0x1b36);
        assertThat(j.get("oaes").asLong()).isEqualTo(0x80000900L);
        assertThat(j.get("sn").asText()).isEqualTo("SN123");
        assertThat(j.get("subnqn").asText()).isEqualTo("nqn.2014-08.org.example:sub1");
        assertThat(j.get("nn").asLong()).isEqualTo(1024);
        assertThat(j.fieldNames()).toIterable().contains("cntlid", "anagrpmax", "nanagrpid", "msdbd");
    }

    private static AnaLog anaLog() {
        return page(b -> {
            b.setLongLE(0, 7);
            b.setShortLE(8, 3);
            int off = 16;
            // group 1: optimized, NSIDs 1 and 2
            b.setIntLE(off, 1);
            b.setIntLE(off + 4, 2);
            b.setLongLE(off + 8, 5);
            b.setByte(off + 16, 0x01);
            b.setIntLE(off + 32, 1);
            b.setIntLE(off + 36, 2);
            off += 40;
            // group 2: inaccessible, no NSIDs
            b.setIntLE(off, 2);
            b.setLongLE(off + 8, 6);
            b.setByte(off + 16, 0x03);
            off += 32;
            // group 3: a state the specification reserves
            b.setIntLE(off, 3);
            b.setByte(off + 16, 0x05);
        }, AnaLog::parse);
    }

    @Test
    void should_print_the_ana_log_like_nvme_cli_with_the_controller_that_answered() {
        Report r = Render.anaLog(3, "nqn.2014-08.org.example:sub1", anaLog());

        assertThat(r.render(OutputFormat.normal)).isEqualTo("""
                Asymmetric Namespace Access Log of controller 3 of nqn.2014-08.org.example:sub1
                ANA LOG HEADER :-
                chgcnt\t:\t7
                ngrps\t:\t3
                ANA Log Desc :-
                grpid\t:\t1
                nnsids\t:\t2
                chgcnt\t:\t5
                state\t:\toptimized
                \tnsid\t:\t1
                \tnsid\t:\t2

                ANA Log Desc :-
                grpid\t:\t2
                nnsids\t:\t0
                chgcnt\t:\t6
                state\t:\tinaccessible

                ANA Log Desc :-
                grpid\t:\t3
                nnsids\t:\t0
                chgcnt\t:\t0
                state\t:\treserved-0x5

                """);
    }

    @Test
    void should_give_ana_groups_with_state_labels_and_nsid_arrays_in_json() throws Exception {
        JsonNode j = json(Render.anaLog(3, "nqn.2014-08.org.example:sub1", anaLog()));

        assertThat(j.get("cntlid").asInt()).isEqualTo(3);
        assertThat(j.get("chgcnt").asLong()).isEqualTo(7);
        assertThat(j.get("ngrps").asInt()).isEqualTo(3);
        JsonNode g1 = j.get("groups").get(0);
        assertThat(g1.get("grpid").asLong()).isEqualTo(1);
        assertThat(g1.get("state").asText()).isEqualTo("optimized");
        assertThat(g1.get("nsids").toString()).isEqualTo("[1,2]");
        assertThat(j.get("groups").get(1).get("state").asText()).isEqualTo("inaccessible");
        assertThat(j.get("groups").get(1).get("nsids").isEmpty()).isTrue();
    }

    private static DiscoveryLog discoveryLog() {
        return page(b -> {
            b.setLongLE(0, 9);
            b.setLongLE(8, 2);
            int e = 1024;
            b.setByte(e, 3);
            b.setByte(e + 1, 1);
            b.setByte(e + 2, 2);
            b.setByte(e + 3, 0);
            b.setShortLE(e + 4, 1);
            b.setShortLE(e + 6, 0xffff);
            b.setShortLE(e + 8, 32);
            ascii(b, e + 32, "4420");
            ascii(b, e + 256, "nqn.2014-08.org.example:sub1");
            ascii(b, e + 512, "10.0.0.1");
            e += 1024;
            b.setByte(e, 3);
            b.setByte(e + 1, 2);
            b.setByte(e + 2, 3);
            b.setByte(e + 3, 0x6);
            b.setShortLE(e + 4, 2);
            ascii(b, e + 32, "8009");
            ascii(b, e + 256, "nqn.2014-08.org.nvmexpress.discovery");
            ascii(b, e + 512, "fd00::1");
        }, DiscoveryLog::parse);
    }

    @Test
    void should_print_discovery_entries_like_nvme_discover() {
        Report r = Render.discovery(discoveryLog());

        assertThat(r.render(OutputFormat.normal)).isEqualTo("""
                Discovery Log Number of Records 2, Generation counter 9
                =====Discovery Log Entry 0======
                trtype:  tcp
                adrfam:  ipv4
                subtype: nvme subsystem
                treq:    not specified
                portid:  1
                trsvcid: 4420
                subnqn:  nqn.2014-08.org.example:sub1
                traddr:  10.0.0.1
                =====Discovery Log Entry 1======
                trtype:  tcp
                adrfam:  ipv6
                subtype: current discovery subsystem
                treq:    not required, sq flow control disable supported
                portid:  2
                trsvcid: 8009
                subnqn:  nqn.2014-08.org.nvmexpress.discovery
                traddr:  fd00::1
                """);
    }

    @Test
    void should_give_discovery_records_in_json() throws Exception {
        JsonNode j = json(Render.discovery(discoveryLog()));

        assertThat(j.get("genctr").asLong()).isEqualTo(9);
        assertThat(j.get("numrec").asLong()).isEqualTo(2);
        JsonNode e = j.get("records").get(0);
        assertThat(e.get("trtype").asText()).isEqualTo("tcp");
        assertThat(e.get("adrfam").asText()).isEqualTo("ipv4");
        assertThat(e.get("subtype").asText()).isEqualTo("nvme subsystem");
        assertThat(e.get("portid").asInt()).isEqualTo(1);
        assertThat(e.get("trsvcid").asText()).isEqualTo("4420");
        assertThat(e.get("traddr").asText()).isEqualTo("10.0.0.1");
        assertThat(e.get("cntlid").asInt()).isEqualTo(0xffff);
        assertThat(j.get("records")).hasSize(2);
    }

    @Test
    void should_give_namespace_identifiers_as_lowercase_hex_strings() throws Exception {
        IdentifyNamespace ns = page(b -> {
            b.setLongLE(0, 0x200000);
            b.setLongLE(8, 0x200000);
            b.setByte(30, 1);
            b.setIntLE(92, 1);
            for (int i = 0; i < 16; i++) {
                b.setByte(104 + i, 0xa0 + i);
            }
            b.setByte(128 + 2, 12);
        }, IdentifyNamespace::parse);
        byte[] eui = {1, 2, 3, 4, 5, 6, 7, (byte) 0xef};
        NamespaceIds ids = new NamespaceIds(eui, ns.nguid(), UUID.fromString("0d4e3a2b-1111-4222-8333-444455556666"), 0);

        Report r = Render.idNs(1, 3, ns, ids, null);
        JsonNode j = json(r);

        assertThat(j.get("nsze").asLong()).isEqualTo(0x200000);
        assertThat(j.get("lbaSize").asInt()).isEqualTo(4096);
        assertThat(j.get("nguid").asText()).isEqualTo("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
        assertThat(j.get("eui64").asText()).isEqualTo("0000000000000000");
        assertThat(j.get("descriptors").get("eui64").asText()).isEqualTo("01020304050607ef");
        assertThat(j.get("descriptors").get("uuid").asText()).isEqualTo("0d4e3a2b-1111-4222-8333-444455556666");
        assertThat(r.render(OutputFormat.normal).lines()).contains(
                "nsze    : 0x200000",
                "nmic    : 0x1",
                "anagrpid: 1",
                "nguid   : a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
                "eui64   : 01020304050607ef",
                "csi     : 0");
    }
}
