package io.nvmpath.server.cli;

import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.TlsPsk;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code --tls --tls-key} on the one-shot commands, against a TLS port of the project's target in this JVM. */
class CliTlsTest {
    private TlsPsk psk;
    private NvmeTarget target;

    @BeforeEach
    void start() throws Exception {
        byte[] k = new byte[48];
        new SecureRandom().nextBytes(k);
        psk = TlsPsk.of(k, AuthHash.SHA384);
        TargetConfig demo = TargetConfig.demo(0, 0, 0, 0);
        target = NvmeTarget.start(new TargetConfig(demo.subsystems(), demo.ports().stream().map(p -> p.withTls(psk)).toList(),
                demo.discovery(), demo.limits(), demo.admin(), demo.anatt()).validate());
    }

    @AfterEach
    void stop() {
        target.close();
    }

    private CliRun idCtrl(String... more) {
        String[] base = {"id-ctrl", "-a", "127.0.0.1", "-s", Integer.toString(target.port(1)), "-n", TargetConfig.DEMO_NQN};
        String[] args = java.util.Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, args, base.length, more.length);
        return CliRun.of(args);
    }

    @Test
    void should_identify_over_tls_with_a_key_file_and_refuse_without_one(@TempDir Path dir) throws Exception {
        Path key = dir.resolve("tls.key");
        Files.writeString(key, psk.format() + "\n");
        CliRun ok = idCtrl("--tls", "--tls-key", key.toString());
        assertThat(ok.err()).isEmpty();
        assertThat(ok.exitCode()).isZero();
        assertThat(ok.out()).contains("subnqn    : " + TargetConfig.DEMO_NQN);

        CliRun noKey = idCtrl("--tls");
        assertThat(noKey.exitCode()).isNotZero();
        assertThat(noKey.err()).contains("--tls needs --tls-key");

        byte[] other = new byte[48];
        new SecureRandom().nextBytes(other);
        CliRun wrong = idCtrl("--tls-key", TlsPsk.of(other, AuthHash.SHA384).format());
        assertThat(wrong.exitCode()).isNotZero();
        assertThat(wrong.err()).contains("TLS handshake failed");
        for (CliRun r : List.of(ok, noKey, wrong)) {
            assertThat(r.out() + r.err()).doesNotContain(psk.format().split(":")[2]);
        }
    }
}
