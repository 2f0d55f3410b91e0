package io.nvmpath.deploy.docker;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * bin/jvm-options, which the image's launcher and bin/nvmpath share: the heap and direct-memory bounds
 * a process gets from its cgroup's memory limit or the documented environment variables.
 */
@DisplayName("bin/jvm-options (the image's and bin/nvmpath's JVM memory bounds)")
class JvmOptionsTest {
    /** bin/jvm-options, from the deploy module's folder (the tests' working directory). */
    private static final Path SCRIPT = Path.of("").toAbsolutePath().getParent().resolve("bin/jvm-options");

    @TempDir
    Path cgroup;

    private List<String> options(Map<String, String> env, String... command) throws IOException, InterruptedException {
        List<String> cmd = new java.util.ArrayList<>(List.of("bash", "-c", ". \"$1\" && shift && nvmpath_jvm_options \"$@\"",
                "jvm-options", SCRIPT.toString()));
        cmd.addAll(List.of(command));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("NVMPATH_"));
        pb.environment().put("NVMPATH_CGROUP_ROOT", cgroup.toString());
        pb.environment().putAll(env);
        Process p = pb.start();
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isZero();
        return out.lines().toList();
    }

    private void limitV2(String value) throws IOException {
        Files.writeString(cgroup.resolve("memory.max"), value + "\n");
    }

    @Test
    void should_give_heap_and_direct_memory_a_quarter_of_a_cgroup_v2_limit_each() throws Exception {
        limitV2("536870912"); // 512 MiB
        assertThat(options(Map.of())).containsExactly("-Xmx128m", "-XX:MaxDirectMemorySize=128m",
                "-XX:+ExitOnOutOfMemoryError");
    }

    @Test
    void should_read_a_cgroup_v1_limit_and_keep_each_bound_between_32m_and_1g() throws Exception {
        Files.createDirectories(cgroup.resolve("memory"));
        Files.writeString(cgroup.resolve("memory/memory.limit_in_bytes"), (64L << 20) + "\n");
        assertThat(options(Map.of())).startsWith("-Xmx32m", "-XX:MaxDirectMemorySize=32m");
        Files.writeString(cgroup.resolve("memory/memory.limit_in_bytes"), (16L << 30) + "\n");
        assertThat(options(Map.of())).startsWith("-Xmx1024m", "-XX:MaxDirectMemorySize=1024m");
    }

    @Test
    void should_use_256m_each_without_a_limit() throws Exception {
        limitV2("max");
        assertThat(options(Map.of())).startsWith("-Xmx256m", "-XX:MaxDirectMemorySize=256m");
        Files.delete(cgroup.resolve("memory.max"));
        Files.createDirectories(cgroup.resolve("memory"));
        Files.writeString(cgroup.resolve("memory/memory.limit_in_bytes"), "9223372036854771712\n"); // v1: none
        assertThat(options(Map.of())).startsWith("-Xmx256m", "-XX:MaxDirectMemorySize=256m");
    }

    @Test
    void should_give_the_commands_that_hold_the_target_in_their_heap_room_for_its_namespace() throws Exception {
        limitV2("max");
        assertThat(options(Map.of(), "serve", "--demo")).startsWith("-Xmx1280m", "-XX:MaxDirectMemorySize=256m");
        assertThat(options(Map.of(), "target", "--config", "t.yaml")).startsWith("-Xmx1280m");
        assertThat(options(Map.of(), "serve", "--config", "g.yaml")).startsWith("-Xmx256m");
        assertThat(options(Map.of("NVMPATH_HEAP", "512m"), "serve", "--demo")).startsWith("-Xmx512m");
    }

    @Test
    void should_let_the_environment_set_the_bounds_and_add_options_last() throws Exception {
        limitV2("536870912");
        assertThat(options(Map.of("NVMPATH_HEAP", "300m", "NVMPATH_DIRECT_MEMORY", "1g",
                "NVMPATH_JAVA_OPTS", "-Dio.netty.leakDetection.level=simple -Xss512k")))
                .containsExactly("-Xmx300m", "-XX:MaxDirectMemorySize=1g", "-XX:+ExitOnOutOfMemoryError",
                        "-Dio.netty.leakDetection.level=simple", "-Xss512k");
    }
}
