package io.nvmpath.server.cli;

import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.DhGroup;
import io.nvmpath.fabric.auth.DhchapSecret;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import io.nvmpath.target.config.TargetConfig.DhchapHost;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code --dhchap-secret} and {@code --dhchap-ctrl-secret} (nvme-cli's {@code -S} / {@code -C}) on the
 * one-shot commands, against the project's target in this JVM: a secret given as itself or as a file,
 * bidirectional authentication, and the one-line errors of a refused or malformed secret, none of
 * which shows the secret.
 */
class CliDhchapTest {
    private static final String HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:0c7c2b9e-44d5-4a5e-9bd8-2f8e6e1d3c11";
    private static final SecureRandom RANDOM = new SecureRandom();
    private final DhchapSecret host = DhchapSecret.generate(32, AuthHash.SHA256, RANDOM);
    private final DhchapSecret ctrl = DhchapSecret.generate(48, AuthHash.SHA384, RANDOM);
    private NvmeTarget target;

    @BeforeEach
    void start() throws Exception {
        TargetConfig demo = TargetConfig.demo(0, 0, 0, 0);
        SubsystemConfig sub = demo.subsystems().get(0)
                .withDhchap(Map.of(HOST_NQN, new DhchapHost(host, ctrl, AuthHash.SHA512, DhGroup.FFDHE3072)));
        target = NvmeTarget.start(new TargetConfig(List.of(sub), demo.ports(), demo.discovery(), demo.limits(),
                demo.admin(), demo.anatt()).validate());
    }

    @AfterEach
    void stop() {
        target.close();
    }

    private CliRun idCtrl(String... more) {
        String[] base = {"id-ctrl", "-a", "127.0.0.1", "-s", Integer.toString(target.port(1)), "-n",
                TargetConfig.DEMO_NQN, "-q", HOST_NQN};
        String[] args = java.util.Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, args, base.length, more.length);
        return CliRun.of(args);
    }

    private void assertNoSecret(CliRun r, DhchapSecret... shown) {
        for (DhchapSecret s : List.of(host, ctrl)) {
            assertThat(r.out() + r.err()).doesNotContain(s.format().split(":")[2]);
        }
        for (DhchapSecret s : shown) {
            assertThat(r.out() + r.err()).doesNotContain(s.format().split(":")[2]);
        }
    }

    @Test
    void should_authenticate_bidirectionally_with_a_secret_and_a_controller_secret_file(@TempDir Path dir)
            throws Exception {
        Path ctrlFile = dir.resolve("ctrl.key");
        Files.writeString(ctrlFile, ctrl.format() + "\n");
        CliRun r = idCtrl("-S", host.format(), "--dhchap-ctrl-secret", ctrlFile.toString(), "-o", "json");
        assertThat(r.err()).isEmpty();
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("\"subnqn\" : \"" + TargetConfig.DEMO_NQN + "\"");
        assertNoSecret(r);
    }

    @Test
    void should_fail_in_one_line_naming_the_step_when_the_secret_is_refused() {
        DhchapSecret wrong = DhchapSecret.generate(32, AuthHash.SHA256, RANDOM);
        CliRun r = idCtrl("--dhchap-secret", wrong.format());
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err().strip()).contains("authentication failed: the controller rejected the host's response"
                + " (DH-HMAC-CHAP failure reason 1h, explanation 01h: authentication failed)");
        assertNoSecret(r, wrong);
        CliRun none = idCtrl();
        assertThat(none.exitCode()).isNotZero();
        assertThat(none.err()).contains("the controller requires authentication and no DH-HMAC-CHAP secret is configured");
    }

    @Test
    void should_refuse_a_malformed_secret_and_a_controller_secret_alone() {
        String[] f = host.format().split(":");
        String badCrc = f[0] + ":" + f[1] + ":" + (f[2].charAt(0) == 'A' ? 'B' : 'A') + f[2].substring(1) + ":";
        CliRun bad = idCtrl("-S", badCrc);
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.err()).contains("--dhchap-secret").contains("CRC").doesNotContain(f[2].substring(1));
        CliRun alone = idCtrl("-C", ctrl.format());
        assertThat(alone.exitCode()).isNotZero();
        assertThat(alone.err()).contains("--dhchap-ctrl-secret needs --dhchap-secret");
        assertNoSecret(alone);
    }
}
