package io.nvmpath.it.deploy;

import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.model.Capability;
import io.nvmpath.it.gateway.Tool;
import io.nvmpath.it.guest.Peers;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The image ({@code deploy/docker/Dockerfile}, built by {@code deploy/build-images.sh}) as its users
 * run it: no capabilities, a read-only root, a uid that is in no passwd file (as OpenShift assigns),
 * state on a volume, reached from the host through published ports.
 */
@DisplayName("image nvmpath/nvmpath (deploy/docker/Dockerfile)")
class ImageIT {
    private static final Duration T = Duration.ofSeconds(60);
    private static final Pattern HOST_LINE = Pattern.compile("host (nqn\\.\\S+)");

    @BeforeAll
    static void peers() {
        Peers.assumeTools("nbdinfo", "libnbd-bin", "nbdcopy", "libnbd-bin");
        DockerPeer.requireImages(DockerPeer.IMAGE);
    }

    /** The container as the README runs it: unprivileged, read-only, any uid, state on {@code volume}. */
    static GenericContainer<?> unprivileged(String uid, String volume, String... command) {
        GenericContainer<?> c = new GenericContainer<>(DockerPeer.IMAGE).withImagePullPolicy(DockerPeer.NEVER_PULL)
                .withCommand(command)
                .withCreateContainerCmdModifier(cmd -> {
                    cmd.withUser(uid + ":0");
                    cmd.getHostConfig().withCapDrop(Capability.ALL).withReadonlyRootfs(true)
                            .withSecurityOpts(java.util.List.of("no-new-privileges:true"))
                            .withTmpFs(Map.of("/tmp", "rw"))
                            .withBinds(com.github.dockerjava.api.model.Bind.parse(volume + ":/var/lib/nvmpath"));
                });
        return c;
    }

    @Test
    void should_serve_the_demo_to_the_host_without_capabilities_on_a_read_only_root_as_any_uid() throws Exception {
        String volume = "nvmpath-it-" + UUID.randomUUID();
        try (GenericContainer<?> demo = unprivileged("123456", volume, "serve", "--demo",
                "--nbd-listen", "0.0.0.0:10809", "--http-listen", "0.0.0.0:9810")
                .withExposedPorts(10809, 9810)
                .waitingFor(Wait.forHttp("/ready").forPort(9810).forStatusCode(200).withStartupTimeout(T))) {
            long t0 = System.nanoTime();
            demo.start();
            long readyMs = (System.nanoTime() - t0) / 1_000_000;
            InspectContainerResponse info = DockerPeer.client().inspectContainerCmd(demo.getContainerId()).exec();
            System.out.printf("serve --demo in the image: ready %d ms after docker start (container create + start + JVM + demo target + 2 paths)%n",
                    readyMs);
            assertThat(info.getConfig().getUser()).isEqualTo("123456:0");
            assertThat(info.getHostConfig().getReadonlyRootfs()).isTrue();
            assertThat(info.getHostConfig().getPrivileged()).isFalse();

            String nbd = "nbd://127.0.0.1:" + demo.getMappedPort(10809);
            Tool.Result list = Tool.run(T, "nbdinfo", "--list", nbd).requireOk("nbdinfo --list");
            assertThat(list.out()).contains("export=\"nqn.2026-11.io.nvmpath:demo/1\"").contains("export-size: 1073741824");
            Tool.Result copy = Tool.run(T, "bash", "-c", "head -c 8388608 /dev/urandom | tee /tmp/nvmpath-image-it.in"
                    + " | nbdcopy - '" + nbd + "/nqn.2026-11.io.nvmpath:demo/1' && nbdcopy '" + nbd
                    + "/nqn.2026-11.io.nvmpath:demo/1' - | head -c 8388608 | cmp - /tmp/nvmpath-image-it.in"
                    + " && rm /tmp/nvmpath-image-it.in");
            copy.requireOk("8 MiB in and out through the container");

            // stdout is the one line the README promises, for the address a client on this host uses
            assertThat(demo.getLogs(org.testcontainers.containers.output.OutputFrame.OutputType.STDOUT).strip())
                    .isEqualTo("sudo nbd-client 127.0.0.1 10809 /dev/nbd0 -N nqn.2026-11.io.nvmpath:demo/1");
            assertThat(demo.getLogs()).doesNotContain("Exception").doesNotContain("WARNING");
            // Netty's native transport loads from the image's files although /tmp is noexec: the
            // container runs io_uring or epoll wherever this host's kernel offers one (seccomp may
            // still refuse io_uring; epoll it cannot)
            if (io.nvmpath.transport.Transport.EPOLL.isAvailable()) {
                assertThat(demo.getLogs()).containsPattern("socket transport: (io_uring|epoll)");
            }

            // the image's HEALTHCHECK (bash /dev/tcp against /health) turns the container healthy
            long h0 = System.nanoTime();
            String health = awaitHealth(demo.getContainerId(), Duration.ofSeconds(45));
            System.out.printf("HEALTHCHECK healthy %d ms later%n", (System.nanoTime() - h0) / 1_000_000);
            assertThat(health).isEqualTo("healthy");
        } finally {
            DockerPeer.client().removeVolumeCmd(volume).exec();
        }
    }

    @Test
    void should_keep_the_host_nqn_when_the_container_is_recreated_on_the_same_volume() throws Exception {
        String volume = "nvmpath-it-" + UUID.randomUUID();
        String other = "nvmpath-it-" + UUID.randomUUID();
        try {
            String first = hostNqn(volume, "20001");
            String again = hostNqn(volume, "20002"); // another uid, as a re-created pod may get
            String fresh = hostNqn(other, "20001");
            System.out.println("host NQN on the volume: " + first + "; on a fresh volume: " + fresh);
            assertThat(again).isEqualTo(first);
            assertThat(fresh).isNotEqualTo(first);
        } finally {
            DockerPeer.client().removeVolumeCmd(volume).exec();
            DockerPeer.client().removeVolumeCmd(other).exec();
        }
    }

    /** Starts the image's default command (serve --config /etc/nvmpath/gateway.yaml) and reads the host NQN it says. */
    private static String hostNqn(String volume, String uid) {
        try (GenericContainer<?> c = unprivileged(uid, volume).withExposedPorts(9810)
                .waitingFor(Wait.forHttp("/health").forPort(9810).forStatusCode(200).withStartupTimeout(T))) {
            c.start();
            Matcher m = HOST_LINE.matcher(c.getLogs());
            assertThat(m.find()).as("the gateway names its host NQN: %s", c.getLogs()).isTrue();
            return m.group(1);
        }
    }

    @Test
    void should_check_its_default_configuration_with_check_config() throws Exception {
        String volume = "nvmpath-it-" + UUID.randomUUID();
        try (GenericContainer<?> c = unprivileged("30001", volume, "check-config", "/etc/nvmpath/gateway.yaml")
                .withStartupCheckStrategy(new org.testcontainers.containers.startupcheck.OneShotStartupCheckStrategy()
                        .withTimeout(T))) {
            c.start();
            String out = c.getLogs(org.testcontainers.containers.output.OutputFrame.OutputType.STDOUT);
            System.out.print("check-config in the image:\n" + out);
            assertThat(out).startsWith("configuration /etc/nvmpath/gateway.yaml: OK")
                    .contains("nbd: listen 0.0.0.0:10809, TLS off, clients from [127.0.0.0/8, 10.0.0.0/8")
                    .contains("POST/DELETE refused (no token, no client CA, not loopback)");
        } finally {
            DockerPeer.client().removeVolumeCmd(volume).exec();
        }
    }

    @Test
    void should_be_at_most_150_MB() {
        long bytes = DockerPeer.client().inspectImageCmd(DockerPeer.IMAGE).exec().getSize();
        System.out.printf("image %s: %.1f MB%n", DockerPeer.IMAGE, bytes / 1e6);
        assertThat(bytes).as("image size in bytes (goal: 150 MB)").isLessThanOrEqualTo(150_000_000L);
    }

    static String awaitHealth(String container, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        String status;
        do {
            var state = DockerPeer.client().inspectContainerCmd(container).exec().getState();
            status = state.getHealth() == null ? "none" : state.getHealth().getStatus();
            if (!status.equals("starting")) {
                return status;
            }
            Thread.sleep(250);
        } while (System.nanoTime() < end);
        return status;
    }

    static HttpResponse<String> get(String url) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                .build(), HttpResponse.BodyHandlers.ofString());
    }
}
