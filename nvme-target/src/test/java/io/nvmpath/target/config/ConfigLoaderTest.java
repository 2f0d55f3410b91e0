package io.nvmpath.target.config;

import io.nvmpath.config.ConfigException;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.target.config.TargetConfig.Limits;
import io.nvmpath.target.config.TargetConfig.ListenConfig;
import io.nvmpath.target.config.TargetConfig.NamespaceConfig;
import io.nvmpath.target.config.TargetConfig.PortConfig;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigLoaderTest {
    private static final String NQN = TargetConfig.DEMO_NQN;

    /** The example of the README, key for key. */
    static final String FULL_EXAMPLE = """
            subsystems:
              - nqn: nqn.2026-11.io.nvmpath:demo
                serial: NVMPATH0001
                model: nvmpath demo target
                firmware: "0.1"
                allowAnyHost: true
                cqt: 0
                crossControllerReset: true
                namespaces:
                  - nsid: 1
                    size: 1GiB          # memory namespace (sparse)
                    anaGroup: 1
                  - nsid: 2
                    path: /var/lib/nvmpath/ns2.img   # file or block device; size creates the file if missing
                    size: 256MiB
                    lbaSize: 4096
            ports:
              - id: 1
                address: 127.0.0.1
                port: 4420
                subsystems: [nqn.2026-11.io.nvmpath:demo]
                anaStates: {1: optimized}
              - id: 2
                address: 127.0.0.1
                port: 4421
                advertise: 127.0.0.1
                subsystems: [nqn.2026-11.io.nvmpath:demo]
                anaStates: {1: non-optimized}
            discovery: {address: 127.0.0.1, port: 8009}
            admin: {address: 127.0.0.1, port: 8091}
            anatt: 10
            limits: {mdts: 8, inCapsuleDataSize: 8192, maxH2CData: 131072, ioQueueSize: 128, maxIoQueues: 8, headerDigest: true, dataDigest: true}
            """;

    /** {@link TargetConfig#demo()} written out. */
    static final String DEMO = """
            subsystems:
              - nqn: nqn.2026-11.io.nvmpath:demo
                serial: NVMPATH0001
                model: nvmpath demo target
                firmware: "0.1"
                namespaces:
                  - {nsid: 1, size: 1GiB}
            ports:
              - {id: 1, address: 127.0.0.1, port: 4420, anaStates: {1: optimized}}
              - {id: 2, address: 127.0.0.1, port: 4421, anaStates: {1: non-optimized}}
            discovery: {port: 8009}
            admin: {port: 8091}
            """;

    /** A small valid document that the error cases below break one key at a time. */
    private static final String BASE = """
            subsystems:
              - nqn: nqn.2026-11.test:a
                namespaces:
                  - {nsid: 1, size: 64MiB}
                  - {nsid: 2, size: 64MiB}
            ports:
              - {port: 4420}
              - {port: 4421, anaStates: {1: non-optimized}}
            """;

    @Test
    void should_read_the_full_example_into_the_records_it_spells() {
        TargetConfig c = ConfigLoader.parse(FULL_EXAMPLE);

        NamespaceConfig ns1 = new NamespaceConfig(1, 1L << 30, null, 512, 1, null, null, null, false);
        NamespaceConfig ns2 = new NamespaceConfig(2, 256L << 20, "/var/lib/nvmpath/ns2.img", 4096, 1, null, null, null,
                false);
        assertThat(c).isEqualTo(new TargetConfig(
                List.of(new SubsystemConfig(NQN, "NVMPATH0001", "nvmpath demo target", "0.1", true, List.of(),
                        List.of(ns1, ns2))),
                List.of(new PortConfig(1, "127.0.0.1", 4420, null, List.of(NQN), Map.of(1, AnaState.OPTIMIZED)),
                        new PortConfig(2, "127.0.0.1", 4421, "127.0.0.1", List.of(NQN),
                                Map.of(1, AnaState.NON_OPTIMIZED))),
                new ListenConfig("127.0.0.1", 8009),
                new Limits(8, 8192, 131072, 128, 8, true, true),
                new ListenConfig("127.0.0.1", 8091),
                10));
    }

    @Test
    void should_read_the_demo_document_as_the_embedded_demo() {
        assertThat(ConfigLoader.parse(DEMO)).isEqualTo(TargetConfig.demo());
    }

    @Test
    void should_default_every_optional_key() {
        TargetConfig c = ConfigLoader.parse("""
                subsystems:
                  - nqn: nqn.2026-11.test:a
                    namespaces: [{nsid: 1, size: 4096}]
                  - nqn: nqn.2026-11.test:b
                ports:
                  - port: 4420
                  - port: 4421
                """);

        SubsystemConfig a = c.subsystems().get(0);
        assertThat(a.serial()).hasSize(20).startsWith("NVMPATH").isEqualTo(ConfigLoader.serialOf(a.nqn()))
                .isNotEqualTo(c.subsystems().get(1).serial());
        assertThat(a.model()).isEqualTo(ConfigLoader.DEFAULT_MODEL);
        assertThat(a.firmware()).isEqualTo(ConfigLoader.DEFAULT_FIRMWARE);
        assertThat(a.allowAnyHost()).isTrue();
        assertThat(a.cqt()).isZero();
        assertThat(a.crossControllerReset()).isTrue();
        assertThat(a.namespaces()).containsExactly(
                new NamespaceConfig(1, 4096, null, 512, 1, null, null, null, false));
        assertThat(c.subsystems().get(1).namespaces()).isEmpty();
        assertThat(c.ports()).containsExactly(
                new PortConfig(1, "127.0.0.1", 4420, null, List.of("nqn.2026-11.test:a", "nqn.2026-11.test:b"),
                        Map.of()),
                new PortConfig(2, "127.0.0.1", 4421, null, List.of("nqn.2026-11.test:a", "nqn.2026-11.test:b"),
                        Map.of()));
        assertThat(c.discovery()).isNull();
        assertThat(c.admin()).isNull();
        assertThat(c.limits()).isEqualTo(Limits.DEFAULTS);
        assertThat(c.anatt()).isEqualTo(ConfigLoader.DEFAULT_ANATT);
    }

    @Test
    void should_take_each_absent_limit_from_the_defaults() {
        TargetConfig c = ConfigLoader.parse(BASE + "limits: {mdts: 5, dataDigest: false}\n");

        Limits d = Limits.DEFAULTS;
        assertThat(c.limits()).isEqualTo(new Limits(5, d.inCapsuleDataSize(), d.maxH2CData(), d.ioQueueSize(),
                d.maxIoQueues(), d.headerDigest(), false));
    }

    @Test
    void should_default_discovery_and_admin_keys_when_the_sections_are_given_empty() {
        TargetConfig c = ConfigLoader.parse(BASE + "discovery: {}\nadmin: {address: 0.0.0.0}\n");

        assertThat(c.discovery()).isEqualTo(new ListenConfig("127.0.0.1", 8009));
        assertThat(c.admin()).isEqualTo(new ListenConfig("0.0.0.0", TargetConfig.DEFAULT_ADMIN_PORT));
    }

    @Test
    void should_allow_only_the_listed_hosts_when_hosts_are_given() {
        TargetConfig c = ConfigLoader.parse(BASE.replace("  - nqn: nqn.2026-11.test:a\n",
                "  - nqn: nqn.2026-11.test:a\n    hosts: [nqn.2014-08.org.nvmexpress:uuid:1234]\n"));

        assertThat(c.subsystems().get(0).allowAnyHost()).isFalse();
        assertThat(c.subsystems().get(0).hosts()).containsExactly("nqn.2014-08.org.nvmexpress:uuid:1234");
    }

    private static final String HOST_KEY = io.nvmpath.fabric.auth.DhchapSecret
            .generate(32, io.nvmpath.fabric.auth.AuthHash.SHA256, new java.security.SecureRandom()).format();
    private static final String CTRL_KEY = io.nvmpath.fabric.auth.DhchapSecret
            .generate(48, null, new java.security.SecureRandom()).format();

    @Test
    void should_read_dhchap_keys_of_a_host_inline_and_from_a_file(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("ctrl.key"), CTRL_KEY + "\n");
        Path file = dir.resolve("target.yaml");
        Files.writeString(file, BASE.replace("  - nqn: nqn.2026-11.test:a\n", "  - nqn: nqn.2026-11.test:a\n"
                + "    hosts:\n"
                + "      - nqn.2026-11.test:plain\n"
                + "      - nqn: nqn.2026-11.test:keyed\n"
                + "        dhchapKey: \"" + HOST_KEY + "\"\n"
                + "        dhchapCtrlKeyFile: ctrl.key\n"
                + "        dhchapHash: hmac(sha512)\n"
                + "        dhchapDhGroup: ffdhe3072\n"));
        SubsystemConfig s = ConfigLoader.load(file).subsystems().get(0);

        assertThat(s.hosts()).containsExactly("nqn.2026-11.test:plain", "nqn.2026-11.test:keyed");
        assertThat(s.dhchap()).containsOnlyKeys("nqn.2026-11.test:keyed");
        TargetConfig.DhchapHost k = s.dhchap().get("nqn.2026-11.test:keyed");
        assertThat(k.hostKey().format()).isEqualTo(HOST_KEY);
        assertThat(k.ctrlKey().format()).isEqualTo(CTRL_KEY);
        assertThat(k.hash()).isEqualTo(io.nvmpath.fabric.auth.AuthHash.SHA512);
        assertThat(k.dhGroup()).isEqualTo(io.nvmpath.fabric.auth.DhGroup.FFDHE3072);
        assertThat(k.toString()).doesNotContain(HOST_KEY.split(":")[2]).doesNotContain(CTRL_KEY.split(":")[2]);
    }

    @Test
    void should_default_to_sha256_and_the_null_group_as_nvmet() {
        TargetConfig c = ConfigLoader.parse(BASE.replace("  - nqn: nqn.2026-11.test:a\n", "  - nqn: nqn.2026-11.test:a\n"
                + "    hosts: [{nqn: nqn.2026-11.test:keyed, dhchapKey: \"" + HOST_KEY + "\"}]\n"));
        TargetConfig.DhchapHost k = c.subsystems().get(0).dhchap().get("nqn.2026-11.test:keyed");

        assertThat(k.hash()).isEqualTo(io.nvmpath.fabric.auth.AuthHash.SHA256);
        assertThat(k.dhGroup()).isEqualTo(io.nvmpath.fabric.auth.DhGroup.NULL);
        assertThat(k.ctrlKey()).isNull();
    }

    @Test
    void should_refuse_a_bad_dhchap_key_naming_the_field_and_never_the_secret() {
        String bad = HOST_KEY.substring(0, HOST_KEY.length() - 6) + "AAAA=:"; // the CRC no longer matches
        assertThatThrownBy(() -> ConfigLoader.parse(BASE.replace("  - nqn: nqn.2026-11.test:a\n",
                "  - nqn: nqn.2026-11.test:a\n    hosts: [{nqn: nqn.2026-11.test:keyed, dhchapKey: \"" + bad + "\"}]\n")))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("subsystems[0].hosts[0].dhchapKey: DH-HMAC-CHAP secret")
                .message().doesNotContain(bad.split(":")[2]);
        assertThatThrownBy(() -> ConfigLoader.parse(BASE.replace("  - nqn: nqn.2026-11.test:a\n",
                "  - nqn: nqn.2026-11.test:a\n    hosts: [{nqn: nqn.2026-11.test:keyed, dhchapCtrlKey: \""
                        + CTRL_KEY + "\"}]\n")))
                .isInstanceOf(ConfigException.class)
                .hasMessage("subsystems[0].hosts[0].dhchapCtrlKey: needs dhchapKey or dhchapKeyFile");
        assertThatThrownBy(() -> ConfigLoader.parse(BASE.replace("  - nqn: nqn.2026-11.test:a\n",
                "  - nqn: nqn.2026-11.test:a\n    hosts: [{nqn: nqn.2026-11.test:keyed, dhchapKey: \"" + HOST_KEY
                        + "\", dhchapHash: md5}]\n")))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("subsystems[0].hosts[0].dhchapHash: \"md5\" is not");
    }

    @Test
    void should_read_the_command_quiesce_time_and_cross_controller_reset_of_a_subsystem() {
        TargetConfig c = ConfigLoader.parse(BASE.replace("  - nqn: nqn.2026-11.test:a\n",
                "  - nqn: nqn.2026-11.test:a\n    cqt: 1500\n    crossControllerReset: false\n"));

        assertThat(c.subsystems().get(0).cqt()).isEqualTo(1500);
        assertThat(c.subsystems().get(0).crossControllerReset()).isFalse();
    }

    @Test
    void should_read_the_remaining_namespace_keys() {
        TargetConfig c = ConfigLoader.parse(BASE.replace("{nsid: 2, size: 64MiB}", """
                {nsid: 2, size: 64MiB, anaGroup: 2, readOnly: true, nguid: 000102030405060708090a0b0c0d0e0f,
                       eui64: "0011223344556677", uuid: 6f7d3e44-19f2-4c4a-a6c3-6d1a2f0b9e11}"""));

        assertThat(c.subsystems().get(0).namespaces().get(1)).isEqualTo(new NamespaceConfig(2, 64L << 20, null, 512,
                2, "000102030405060708090a0b0c0d0e0f", "0011223344556677", "6f7d3e44-19f2-4c4a-a6c3-6d1a2f0b9e11",
                true));
    }

    @Test
    void should_resolve_a_relative_namespace_path_against_the_file_directory(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("target.yaml");
        Files.writeString(file, BASE.replace("{nsid: 2, size: 64MiB}", "{nsid: 2, size: 64MiB, path: ns2.img}"));

        TargetConfig c = ConfigLoader.load(file);

        assertThat(c.subsystems().get(0).namespaces().get(1).path())
                .isEqualTo(dir.toAbsolutePath().resolve("ns2.img").toString());
    }

    @Test
    void should_load_a_file_like_its_text(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("demo.yaml");
        Files.writeString(file, DEMO);

        assertThat(ConfigLoader.load(file)).isEqualTo(TargetConfig.demo());
    }

    @Test
    void should_name_the_file_when_it_does_not_exist(@TempDir Path dir) {
        Path file = dir.resolve("missing.yaml");

        assertThatThrownBy(() -> ConfigLoader.load(file))
                .isInstanceOf(ConfigException.class)
                .hasMessage(file + ": no such file");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', textBlock = """
            # what is wrong            | replace                        | with                                     | field                            | message
            a bad size                 | '{nsid: 2, size: 64MiB}'       | '{nsid: 2, size: 12XB}'                  | subsystems[0].namespaces[1].size | 'subsystems[0].namespaces[1].size: "12XB" is not a size (use bytes or KiB/MiB/GiB/TiB)'
            a decimal size unit        | '{nsid: 2, size: 64MiB}'       | '{nsid: 2, size: 64MB}'                  | subsystems[0].namespaces[1].size | 'subsystems[0].namespaces[1].size: "64MB" is not a size (use bytes or KiB/MiB/GiB/TiB)'
            a negative size            | '{nsid: 2, size: 64MiB}'       | '{nsid: 2, size: -512}'                  | subsystems[0].namespaces[1].size | 'subsystems[0].namespaces[1].size: the number -512 is not a size (use bytes or KiB/MiB/GiB/TiB)'
            an unknown namespace key   | '{nsid: 2, size: 64MiB}'       | '{nsid: 2, sise: 64MiB}'                 | subsystems[0].namespaces[1].sise | 'subsystems[0].namespaces[1].sise: unknown key (expected anaGroup, eui64, lbaSize, nguid, nsid, path, readOnly, size, uuid)'
            an unknown top-level key   | 'ports:'                       | 'portz:'                                 | portz                            | 'portz: unknown key (expected admin, anatt, discovery, limits, ports, subsystems)'
            a port that is text        | '{port: 4421,'                 | '{port: "x",'                            | ports[1].port                    | 'ports[1].port: expected an integer, not "x"'
            a port that is missing     | '{port: 4421,'                 | '{'                                      | ports[1].port                    | 'ports[1].port: missing'
            a missing NSID             | '{nsid: 2, size: 64MiB}'       | '{size: 64MiB}'                          | subsystems[0].namespaces[1].nsid | 'subsystems[0].namespaces[1].nsid: missing'
            an unknown ANA state       | 'non-optimized'                | 'optimised'                              | ports[1].anaStates.1             | 'ports[1].anaStates.1: "optimised" is not an ANA state (optimized, non-optimized, inaccessible, persistent-loss, change)'
            an ANA group that is text  | '{1: non-optimized}'           | '{one: non-optimized}'                   | ports[1].anaStates.one           | 'ports[1].anaStates.one: "one" is not an ANA group number'
            a list that is a mapping   | '- {port: 4420}'               | '- {port: 4420, subsystems: {a: b}}'     | ports[0].subsystems              | 'ports[0].subsystems: expected a list, not a mapping'
            a word for a boolean       | '    namespaces:'              | '    allowAnyHost: maybe\n    namespaces:' | subsystems[0].allowAnyHost   | 'subsystems[0].allowAnyHost: expected true or false, not "maybe"'
            an unquoted firmware       | '    namespaces:'              | '    firmware: 1.10\n    namespaces:'   | subsystems[0].firmware         | 'subsystems[0].firmware: expected a string, not the number 1.1 (put the value in quotes)'
            a limit that is not a number | 'ports:'                     | 'limits: {mdts: big}\nports:'            | limits.mdts                      | 'limits.mdts: expected an integer, not "big"'
            an unknown limit           | 'ports:'                       | 'limits: {mtds: 5}\nports:'              | limits.mtds                      | 'limits.mtds: unknown key (expected dataDigest, headerDigest, inCapsuleDataSize, ioQueueSize, maxH2CData, maxIoQueues, mdts)'
            an unknown subsystem       | '{port: 4421,'                 | '{port: 4421, subsystems: [nqn.2026-11.test:b],' | ports[1].subsystems[0]   | 'ports[1].subsystems[0]: no subsystem nqn.2026-11.test:b'
            a memory namespace without size | '{nsid: 2, size: 64MiB}'  | '{nsid: 2}'                              | subsystems[0].namespaces[1].size | 'subsystems[0].namespaces[1].size: a memory namespace needs a size'
            a bad LBA size             | '{nsid: 2, size: 64MiB}'       | '{nsid: 2, size: 64MiB, lbaSize: 1024}'  | subsystems[0].namespaces[1].lbaSize | 'subsystems[0].namespaces[1].lbaSize: must be 512 or 4096, not 1024'
            a duplicate port ID        | '{port: 4421,'                 | '{id: 1, port: 4421,'                    | ports[1].id                      | 'ports[1].id: must be a unique 1..65535, not 1'
            a CQT past 16 bits         | '    namespaces:'              | '    cqt: 70000\n    namespaces:'        | subsystems[0].cqt                | 'subsystems[0].cqt: must be 0..65535 milliseconds (Identify Controller CQT is 16 bits), not 70000'
            a negative CQT             | '    namespaces:'              | '    cqt: -1\n    namespaces:'           | subsystems[0].cqt                | 'subsystems[0].cqt: must be 0..65535 milliseconds (Identify Controller CQT is 16 bits), not -1'
            a CQT with a unit          | '    namespaces:'              | '    cqt: 5s\n    namespaces:'           | subsystems[0].cqt                | 'subsystems[0].cqt: expected an integer, not "5s"'
            a word for CCR             | '    namespaces:'              | '    crossControllerReset: maybe\n    namespaces:' | subsystems[0].crossControllerReset | 'subsystems[0].crossControllerReset: expected true or false, not "maybe"'
            an unknown subsystem key   | '    namespaces:'              | '    ccr: true\n    namespaces:'         | subsystems[0].ccr                | 'subsystems[0].ccr: unknown key (expected allowAnyHost, cqt, crossControllerReset, firmware, hosts, model, namespaces, nqn, serial)'
            """)
    void should_name_the_field_when(String what, String replace, String with, String field, String message) {
        String yaml = BASE.replace(replace, with.replace("\\n", "\n"));
        assertThat(yaml).as("the case must change the document").isNotEqualTo(BASE);

        assertThatThrownBy(() -> ConfigLoader.parse(yaml))
                .isInstanceOf(ConfigException.class)
                .hasMessage(message)
                .extracting(e -> ((ConfigException) e).field()).isEqualTo(field);
    }

    @Test
    void should_give_a_syntax_error_in_one_line_with_its_line_and_column() {
        String yaml = """
                subsystems:
                  - nqn: nqn.2026-11.test:a
                ports: [{port: 4420}
                anatt: 10
                """;

        assertThatThrownBy(() -> ConfigLoader.parse(yaml))
                .isInstanceOf(ConfigException.class)
                .hasMessage("line 4, column 1: expected ',' or ']', but got <scalar>")
                .hasMessageNotContaining("\n");
    }

    @Test
    void should_refuse_a_key_given_twice_with_its_line() {
        String yaml = BASE.replace("{port: 4420}", "{port: 4420, port: 4422}");

        assertThatThrownBy(() -> ConfigLoader.parse(yaml))
                .isInstanceOf(ConfigException.class)
                .hasMessageMatching("line 7, column \\d+: duplicate key 'port'");
    }

    @Test
    void should_say_what_the_document_should_be_when_it_is_not_a_mapping() {
        assertThatThrownBy(() -> ConfigLoader.parse("just some text\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessage("(document): expected a mapping, not \"just some text\"");
    }

    @Test
    void should_need_subsystems_in_an_empty_document() {
        assertThatThrownBy(() -> ConfigLoader.parse(""))
                .isInstanceOf(ConfigException.class)
                .hasMessage("subsystems: at least one subsystem is needed");
    }

    @Test
    void should_read_a_ports_tls_psk_from_its_file_and_name_a_missing_or_bad_one(@TempDir Path dir) throws Exception {
        byte[] k = new byte[32];
        new java.security.SecureRandom().nextBytes(k);
        io.nvmpath.fabric.auth.TlsPsk psk = io.nvmpath.fabric.auth.TlsPsk.of(k, io.nvmpath.fabric.auth.AuthHash.SHA256);
        Files.writeString(dir.resolve("tls.key"), psk.format() + "\n");
        Path cfg = dir.resolve("target.yaml");
        String base = "subsystems: [{nqn: nqn.2026-12.a:b, namespaces: [{nsid: 1, size: 1MiB}]}]\n";
        Files.writeString(cfg, base + "ports: [{port: 0, tls: {psk: tls.key}}, {port: 0}]\n");
        TargetConfig c = ConfigLoader.load(cfg);
        assertThat(c.ports().get(0).tlsPsk()).isEqualTo(psk);
        assertThat(c.ports().get(1).tlsPsk()).isNull();
        Files.writeString(cfg, base + "ports: [{port: 0, tls: {}}]\n");
        assertThatThrownBy(() -> ConfigLoader.load(cfg)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("ports[0].tls.psk: required");
        Files.writeString(dir.resolve("bad.key"), "NVMeTLSkey-1:01:AAAA:");
        Files.writeString(cfg, base + "ports: [{port: 0, tls: {psk: bad.key}}]\n");
        assertThatThrownBy(() -> ConfigLoader.load(cfg)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("ports[0].tls.psk: ");
        Files.writeString(cfg, base + "ports: [{port: 0, tls: {psk: tls.key, handshake: spec}}]\n");
        assertThat(ConfigLoader.load(cfg).ports().get(0).tlsPsk().handshake())
                .isEqualTo(io.nvmpath.fabric.auth.TlsHandshake.SPECIFICATION);
        Files.writeString(cfg, base + "ports: [{port: 0, tls: {psk: tls.key, handshake: rfc}}]\n");
        assertThatThrownBy(() -> ConfigLoader.load(cfg)).isInstanceOf(ConfigException.class)
                .hasMessage("ports[0].tls.handshake: \"rfc\" is not a TLS handshake (linux, spec)");
    }
}
