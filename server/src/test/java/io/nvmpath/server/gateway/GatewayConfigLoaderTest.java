package io.nvmpath.server.gateway;

import io.nvmpath.config.ConfigException;
import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.DhchapSecret;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GatewayConfigLoaderTest {

    @Test
    void should_default_to_loopback_listeners_and_linux_timeouts() {
        GatewayConfig c = GatewayConfigLoader.defaults();
        assertThat(c.nbd().listen()).isEqualTo(new GatewayConfig.Listen("127.0.0.1", 10809));
        assertThat(c.http()).isEqualTo(new GatewayConfig.Http(new GatewayConfig.Listen("127.0.0.1", 9810)));
        assertThat(c.nbd().tls().mode()).isEqualTo("off");
        assertThat(c.controller().keepAliveTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.controller().ctrlLossTimeout()).isEqualTo(Duration.ofSeconds(600));
        assertThat(c.controller().dhchapReauthPeriod()).as("re-authenticate only when asked").isZero();
        assertThat(c.multipath().iopolicy()).isEqualTo("numa");
        assertThat(c.portals()).isEmpty();
    }

    @Test
    void should_read_every_section() {
        GatewayConfig c = GatewayConfigLoader.parse("""
                host: {nqn: "nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427", id: 1b4e28ba-2fa1-11d2-883f-0016d3cca427}
                portals:
                  - {traddr: 10.0.0.1, trsvcid: 4420, subnqn: "nqn.2026-11.example:array1"}
                  - {traddr: 10.0.0.2}
                controller: {keepAliveTimeout: 1500ms, reconnectDelay: 2s, ctrlLossTimeout: forever, ioQueues: 2,
                             dhchapReauthPeriod: 1h}
                multipath: {iopolicy: round-robin, noPathTimeout: 1m, failback: delayed}
                subsystems:
                  "nqn.2026-11.example:array1": {iopolicy: queue-depth, preferredPath: "10.0.0.1:4420"}
                nbd: {listen: {address: 0.0.0.0, port: 0}, allow: [10.0.0.0/8], maxPayload: 16MiB}
                exports:
                  "nqn.2026-11.example:array1/1": {aliases: [db], readOnly: true, allow: ["192.168.1.7"]}
                http: off
                """);
        assertThat(c.host().id()).isEqualTo("1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        assertThat(c.portals()).containsExactly(new GatewayConfig.Portal("10.0.0.1", 4420, "nqn.2026-11.example:array1"),
                new GatewayConfig.Portal("10.0.0.2", 8009, null));
        assertThat(c.portals().get(1).discovery()).isTrue();
        assertThat(c.controller().keepAliveTimeout()).isEqualTo(Duration.ofMillis(1500));
        assertThat(c.controller().ctrlLossTimeout().isNegative()).isTrue();
        assertThat(c.controller().dhchapReauthPeriod()).isEqualTo(Duration.ofHours(1));
        assertThat(c.multipath().noPathTimeout()).isEqualTo(Duration.ofMinutes(1));
        assertThat(c.subsystems().get("nqn.2026-11.example:array1").iopolicy()).isEqualTo("queue-depth");
        assertThat(c.nbd().maxPayload()).isEqualTo(16 << 20);
        assertThat(c.exports().get("nqn.2026-11.example:array1/1").aliases()).containsExactly("db");
        assertThat(c.http()).isNull();
    }

    @Test
    void should_name_the_wrong_field() {
        assertError("portals: [{traddr: a, trsvcid: x, subnqn: nqn.2026-11.a:b}]", "portals[0].trsvcid: expected an integer");
        assertError("portals: [{trsvcid: 4420}]", "portals[0].traddr: missing");
        assertError("portals: [{traddr: a, subnqn: bad}]", "portals[0].subnqn: \"bad\" is not an NQN");
        assertError("controller: {keepAliveTimeout: soon}", "controller.keepAliveTimeout: \"soon\" is not a duration");
        assertError("multipath: {marginal: {window: 30777777777777777777777s}}",
                "multipath.marginal.window: \"30777777777777777777777s\" is too long a duration");
        assertError("controller: {keepAliveTimeout: 9223372036854775807h}",
                "controller.keepAliveTimeout: \"9223372036854775807h\" is too long a duration");
        assertError("controller: {dhchapReauthPeriod: forever}",
                "controller.dhchapReauthPeriod: \"forever\" is not a duration");
        assertError("multipath: {iopolicy: fastest}", "multipath.iopolicy: unknown iopolicy 'fastest'");
        assertError("nbd: {allow: [10.0.0.0/33]}", "nbd.allow[0]: prefix length 33 out of 0..32");
        assertError("nbd: {listen: {port: 70000}}", "nbd.listen.port: 70000 is not a port");
        assertError("nbd: {tls: {mode: require}}", "nbd.tls.certificate: missing");
        assertError("nbd: {tls: {mode: maybe}}", "nbd.tls.mode: \"maybe\" is not one of off, allow, require");
        assertError("exports: {a: {aliases: [x]}, b: {aliases: [x]}}", "exports.b.aliases[0]: \"x\" already names a");
        assertError("nbdd: {}", "nbdd: unknown key");
        assertError("subsystems: {notannqn: {}}", "subsystems.notannqn: \"notannqn\" is not an NQN");
        assertError("portals: [", "line ");
        assertError("multipath: {writeFailover: maybe}", "multipath.writeFailover: unknown writeFailover 'maybe' (safe, immediate)");
        assertError("subsystems: {\"nqn.2026-11.a:b\": {preferredPath: \"10.0.0.1:4420 cntlid 2\"}}",
                "subsystems.nqn.2026-11.a:b.preferredPath: '10.0.0.1:4420 cntlid 2' is not a portal address");
    }

    private static void assertError(String yaml, String message) {
        assertThatThrownBy(() -> GatewayConfigLoader.parse(yaml)).isInstanceOf(ConfigException.class)
                .hasMessageContaining(message);
    }

    @Test
    void should_resolve_tls_files_next_to_the_config_file(@TempDir Path dir) throws Exception {
        io.netty.pkitesting.X509Bundle b = new io.netty.pkitesting.CertificateBuilder().subject("CN=gateway").setIsCertificateAuthority(true)
                .algorithm(io.netty.pkitesting.CertificateBuilder.Algorithm.ecp256).buildSelfSigned();
        Files.writeString(dir.resolve("cert.pem"), b.getCertificatePEM());
        Files.writeString(dir.resolve("key.pem"), b.getPrivateKeyPEM());
        Path cfg = dir.resolve("gateway.yaml");
        Files.writeString(cfg, "nbd: {tls: {mode: require, certificate: cert.pem, key: key.pem}}\n");
        GatewayConfig c = GatewayConfigLoader.load(cfg);
        assertThat(c.nbd().tls().certificate()).isEqualTo(dir.resolve("cert.pem"));
        assertThatThrownBy(() -> GatewayConfigLoader.load(dir.resolve("none.yaml")))
                .hasMessageContaining("none.yaml: no such file");
    }

    @Test
    void should_generate_a_host_identity_once_and_keep_it(@TempDir Path dir) {
        Path state = dir.resolve("sub/host.properties");
        HostIdentity first = HostIdentity.resolve(null, null, state);
        assertThat(first.nqn()).isEqualTo("nqn.2014-08.org.nvmexpress:uuid:" + first.id());
        assertThat(state).exists();
        HostIdentity again = HostIdentity.resolve(null, null, state);
        assertThat(again).isEqualTo(first);
        UUID given = UUID.randomUUID();
        HostIdentity configured = HostIdentity.resolve("nqn.2026-11.example:host", given.toString(), state);
        assertThat(configured).isEqualTo(new HostIdentity("nqn.2026-11.example:host", given));
        assertThat(HostIdentity.resolve(null, null, state)).isEqualTo(first); // configuration does not overwrite the state
    }

    @Test
    void should_keep_the_host_identity_in_the_state_directory_the_environment_names() {
        assertThat(HostIdentity.defaultStateFile(java.util.Map.of("NVMPATH_STATE_DIR", "/var/lib/nvmpath",
                "STATE_DIRECTORY", "/var/lib/other"))).isEqualTo(Path.of("/var/lib/nvmpath/host.properties"));
        assertThat(HostIdentity.defaultStateFile(java.util.Map.of("STATE_DIRECTORY", "/var/lib/nvmpath:/var/lib/more")))
                .as("systemd's StateDirectory=, the first of several").isEqualTo(Path.of("/var/lib/nvmpath/host.properties"));
    }

    @Test
    void should_read_the_log_level_and_name_a_wrong_one() {
        assertThat(GatewayConfigLoader.parse("").log()).isEqualTo(GatewayConfig.Log.DEFAULT);
        assertThat(GatewayConfigLoader.parse("log: {level: DEBUG}\n").log().level()).isEqualTo("debug");
        assertThatThrownBy(() -> GatewayConfigLoader.parse("log: {level: loud}\n"))
                .hasMessageStartingWith("log.level: \"loud\" is not a log level");
    }

    @Test
    void should_default_to_safe_write_failover_and_read_it_per_subsystem() {
        GatewayConfig c = GatewayConfigLoader.parse("multipath: {unreportedQuiesceTime: 2s}\nsubsystems:\n"
                + "  \"nqn.2026-11.a:b\": {writeFailover: immediate}\n");
        assertThat(c.multipath().writeFailover()).isEqualTo("safe");
        assertThat(c.multipath().unreportedQuiesceTime()).isEqualTo(java.time.Duration.ofSeconds(2));
        assertThat(c.subsystems().get("nqn.2026-11.a:b").writeFailover()).isEqualTo("immediate");
    }

    @Test
    void should_read_when_a_path_is_marginal_and_refuse_a_window_of_nothing() {
        assertThat(GatewayConfigLoader.parse("").multipath().marginal()).isEqualTo(GatewayConfig.Marginal.DEFAULT);
        GatewayConfig.Marginal m = GatewayConfigLoader.parse("multipath: {marginal: {failures: 5, hold: 0s}}\n")
                .multipath().marginal();
        assertThat(m).isEqualTo(new GatewayConfig.Marginal(5, java.time.Duration.ofSeconds(10), java.time.Duration.ZERO));
        assertThatThrownBy(() -> GatewayConfigLoader.parse("multipath: {marginal: {window: 0s}}\n"))
                .hasMessageStartingWith("multipath.marginal.window: the window must be longer than 0s");
        assertThatThrownBy(() -> GatewayConfigLoader.parse("multipath: {marginal: {failures: 0}}\n"))
                .hasMessageStartingWith("multipath.marginal.failures: 0 is out of 1..100");
        assertThatThrownBy(() -> GatewayConfigLoader.parse("multipath: {marginal: {failure: 2}}\n"))
                .hasMessageContaining("failure");
    }

    @Test
    void should_read_dhchap_secrets_from_files_per_portal_and_per_subsystem(@TempDir Path dir) throws Exception {
        DhchapSecret host = DhchapSecret.generate(32, AuthHash.SHA256, new SecureRandom());
        DhchapSecret ctrl = DhchapSecret.generate(48, null, new SecureRandom());
        DhchapSecret sub = DhchapSecret.generate(64, AuthHash.SHA512, new SecureRandom());
        Files.writeString(dir.resolve("host.key"), host.format() + "\n"); // as nvme gen-dhchap-key > file writes it
        Files.writeString(dir.resolve("ctrl.key"), ctrl.format());
        Files.writeString(dir.resolve("sub.key"), sub.format());
        Path cfg = dir.resolve("gateway.yaml");
        Files.writeString(cfg, """
                portals:
                  - {traddr: 10.0.0.1, trsvcid: 4420, subnqn: nqn.2026-12.a:secure, dhchapSecretFile: host.key, dhchapCtrlSecretFile: ctrl.key}
                  - {traddr: 10.0.0.2, trsvcid: 4420, subnqn: nqn.2026-12.a:secure}
                subsystems:
                  nqn.2026-12.a:secure: {dhchapSecretFile: sub.key}
                """);
        GatewayConfig c = GatewayConfigLoader.load(cfg);
        GatewayConfig.Dhchap own = c.dhchapFor("10.0.0.1", 4420, "nqn.2026-12.a:secure");
        assertThat(own.secret()).isEqualTo(host);
        assertThat(own.ctrlSecret()).isEqualTo(ctrl);
        assertThat(own.secretFile()).isEqualTo(dir.resolve("host.key"));
        // a portal without its own, and a portal the configuration does not list (discovered): the subsystem's
        assertThat(c.dhchapFor("10.0.0.2", 4420, "nqn.2026-12.a:secure").secret()).isEqualTo(sub);
        assertThat(c.dhchapFor("10.0.0.9", 4421, "nqn.2026-12.a:secure").ctrlSecret()).isNull();
        assertThat(c.dhchapFor("10.0.0.1", 4420, "nqn.2026-12.a:other")).isNull();
        // what is shown of it names the files only
        assertThat(own.describe()).contains("host.key").contains("ctrl.key").contains("bidirectional")
                .doesNotContain(host.format()).doesNotContain(ctrl.format());
        assertThat(c.toString()).doesNotContain(host.format().split(":")[2]).doesNotContain(sub.format().split(":")[2]);
    }

    @Test
    void should_refuse_a_bad_secret_naming_the_field_and_not_the_secret(@TempDir Path dir) throws Exception {
        DhchapSecret good = DhchapSecret.generate(32, null, new SecureRandom());
        String[] f = good.format().split(":");
        // flip one base64 character: the key's CRC-32 no longer matches
        char c0 = f[2].charAt(0);
        String bad = f[0] + ":" + f[1] + ":" + (c0 == 'A' ? 'B' : 'A') + f[2].substring(1) + ":";
        Files.writeString(dir.resolve("bad.key"), bad);
        Path cfg = dir.resolve("gateway.yaml");
        Files.writeString(cfg, "portals: [{traddr: a, subnqn: nqn.2026-12.a:b, dhchapSecretFile: bad.key}]\n");
        assertThatThrownBy(() -> GatewayConfigLoader.load(cfg)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("portals[0].dhchapSecretFile: ").hasMessageContaining("CRC")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(bad).doesNotContain(f[2].substring(1)));
        Files.writeString(cfg, "subsystems: {\"nqn.2026-12.a:b\": {dhchapSecretFile: missing.key}}\n");
        assertThatThrownBy(() -> GatewayConfigLoader.load(cfg))
                .hasMessage("subsystems.nqn.2026-12.a:b.dhchapSecretFile: " + dir.resolve("missing.key") + ": no such file");
    }

    @Test
    void should_refuse_secrets_written_into_the_configuration_and_a_controller_secret_alone() {
        assertError("portals: [{traddr: a, subnqn: nqn.2026-12.a:b, dhchapSecret: \"DHHC-1:00:xyz:\"}]",
                "portals[0].dhchapSecret: secrets are not written into this configuration: put it in a file and name"
                        + " that in dhchapSecretFile");
        assertError("portals: [{traddr: a, subnqn: nqn.2026-12.a:b, dhchapCtrlSecretFile: c.key}]",
                "portals[0].dhchapCtrlSecretFile: ");
        assertError("portals: [{traddr: a, subnqn: nqn.2026-12.a:b}, {traddr: a, trsvcid: 4420, subnqn: nqn.2026-12.a:b}]",
                "portals[1]: the same portal as portals[0]");
    }

    @Test
    void should_read_the_tls_psk_of_a_portal_and_of_a_subsystem_and_name_a_bad_one(@TempDir Path dir) throws Exception {
        byte[] k = new byte[32];
        new SecureRandom().nextBytes(k);
        io.nvmpath.fabric.auth.TlsPsk psk = io.nvmpath.fabric.auth.TlsPsk.of(k, AuthHash.SHA256);
        Files.writeString(dir.resolve("tls.key"), psk.format() + "\n");
        Files.writeString(dir.resolve("bad.key"), "NVMeTLSkey-1:01:AAAA:\n");
        Path cfg = dir.resolve("gateway.yaml");
        Files.writeString(cfg, """
                portals:
                  - {traddr: 10.0.0.1, trsvcid: 4420, subnqn: nqn.2026-12.a:tls, tls: {psk: tls.key}}
                subsystems:
                  nqn.2026-12.a:tls2: {tls: {psk: tls.key}}
                """);
        GatewayConfig c = GatewayConfigLoader.load(cfg);
        assertThat(c.tlsFor("10.0.0.1", 4420, "nqn.2026-12.a:tls").psk()).isEqualTo(psk);
        assertThat(c.tlsFor("10.0.0.7", 4420, "nqn.2026-12.a:tls2").pskFile()).isEqualTo(dir.resolve("tls.key"));
        assertThat(c.tlsFor("10.0.0.1", 4420, "nqn.2026-12.a:plain")).isNull();
        assertThat(c.portals().get(0).tls().describe()).contains("tls.key").doesNotContain(psk.format());
        Files.writeString(cfg, "portals: [{traddr: a, subnqn: nqn.2026-12.a:b, tls: {psk: bad.key}}]\n");
        assertThatThrownBy(() -> GatewayConfigLoader.load(cfg)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("portals[0].tls.psk: ");
        assertError("portals: [{traddr: a, subnqn: nqn.2026-12.a:b, tls: {}}]", "portals[0].tls.psk: required");
        assertThat(c.tlsFor("10.0.0.1", 4420, "nqn.2026-12.a:tls").psk().handshake()).as("the default")
                .isEqualTo(io.nvmpath.fabric.auth.TlsHandshake.LINUX);
        Files.writeString(cfg, "portals: [{traddr: a, subnqn: nqn.2026-12.a:b, tls: {psk: tls.key, handshake: spec}}]\n");
        assertThat(GatewayConfigLoader.load(cfg).tlsFor("a", 4420, "nqn.2026-12.a:b").psk().handshake())
                .isEqualTo(io.nvmpath.fabric.auth.TlsHandshake.SPECIFICATION);
        Files.writeString(cfg, "portals: [{traddr: a, subnqn: nqn.2026-12.a:b, tls: {psk: tls.key, handshake: 2}}]\n");
        assertThatThrownBy(() -> GatewayConfigLoader.load(cfg)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("portals[0].tls.handshake: ");
    }
}
