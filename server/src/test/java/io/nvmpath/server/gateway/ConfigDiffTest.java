package io.nvmpath.server.gateway;

import io.nvmpath.fabric.auth.DhchapSecret;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** What a reload may change, and what only a restart changes. */
class ConfigDiffTest {
    private static GatewayConfig parse(String yaml) {
        return GatewayConfigLoader.parse("host: {stateFile: /tmp/nvmpath-diff-test/host.properties}\n" + yaml);
    }

    @Test
    void should_keep_start_only_settings_at_what_runs_and_name_them() {
        GatewayConfig old = parse("portals: [{traddr: a, trsvcid: 4420, subnqn: \"nqn.2026-11.x:y\"}]\n"
                + "nbd: {listen: {port: 10809}, allow: [10.0.0.0/8]}\nmultipath: {iopolicy: numa, noPathTimeout: 30s}\n");
        GatewayConfig next = parse("portals: [{traddr: b, trsvcid: 4420, subnqn: \"nqn.2026-11.x:y\"}]\n"
                + "nbd: {listen: {port: 20809}, allow: [10.1.0.0/16]}\nmultipath: {iopolicy: round-robin, noPathTimeout: 5s}\n"
                + "controller: {keepAliveTimeout: 2s}\nlog: {level: debug}\n");

        ConfigDiff d = ConfigDiff.between(old, next);

        assertThat(d.needsRestart()).containsExactly("controller",
                "multipath (noPathTimeout, failback, failbackDelay, delayedRemoval, unreportedQuiesceTime, marginal)",
                "nbd.listen");
        assertThat(d.effective().nbd().listen()).isEqualTo(old.nbd().listen());
        assertThat(d.effective().nbd().allow()).containsExactly("10.1.0.0/16");
        assertThat(d.effective().multipath().iopolicy()).isEqualTo("round-robin");
        assertThat(d.effective().multipath().noPathTimeout()).isEqualTo(old.multipath().noPathTimeout());
        assertThat(d.effective().controller()).isEqualTo(old.controller());
        assertThat(d.effective().log().level()).isEqualTo("debug");
        assertThat(d.portalsRemoved()).extracting(GatewayConfig.Portal::traddr).containsExactly("a");
        assertThat(d.portalsAdded()).extracting(GatewayConfig.Portal::traddr).containsExactly("b");
        assertThat(ConfigDiff.between(d.effective(), next).needsRestart())
                .as("the next reload of the same file compares with what runs").isEqualTo(d.needsRestart());
        assertThat(ConfigDiff.between(old, old).needsRestart()).isEmpty();
    }

    @Test
    void should_take_new_secrets_without_reconnecting_the_portal(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("host.key");
        Path cfg = dir.resolve("gateway.yaml");
        Files.writeString(cfg, "host: {stateFile: host.properties}\n"
                + "portals: [{traddr: a, trsvcid: 4420, subnqn: \"nqn.2026-11.x:y\", dhchapSecretFile: host.key}]\n");
        DhchapSecret first = DhchapSecret.generate(32, null, new SecureRandom());
        Files.writeString(file, first.format());
        GatewayConfig old = GatewayConfigLoader.load(cfg);
        DhchapSecret rotated = DhchapSecret.generate(32, null, new SecureRandom());
        Files.writeString(file, rotated.format());
        GatewayConfig next = GatewayConfigLoader.load(cfg);

        ConfigDiff d = ConfigDiff.between(old, next);

        assertThat(d.needsRestart()).isEmpty();
        assertThat(d.portalsRemoved()).isEmpty();
        assertThat(d.portalsAdded()).isEmpty();
        assertThat(d.effective().dhchapFor("a", 4420, "nqn.2026-11.x:y").secret())
                .as("the next connect authenticates with the rotated secret").isEqualTo(rotated);
    }
}
