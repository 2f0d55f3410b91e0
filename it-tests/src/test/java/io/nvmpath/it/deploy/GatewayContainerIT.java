package io.nvmpath.it.deploy;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.ContainerNetwork;
import io.nvmpath.it.gateway.Ext4Drill;
import io.nvmpath.it.gateway.Tool;
import io.nvmpath.it.guest.KernelHostGuest;
import io.nvmpath.it.guest.Peers;
import io.nvmpath.multipath.MultipathView;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The image in both roles on Docker networks: the project's target ({@code nvmpath target}) reached by
 * the gateway ({@code nvmpath serve}) through two networks, one per path, so that a path can fail the
 * way networks fail ({@code docker network disconnect}); the gateway reached from the host through its
 * published port by libnbd and by the Linux kernel's NBD client in the QEMU guest.
 */
@DisplayName("image nvmpath/nvmpath as gateway and target on Docker networks (deploy/docker/Dockerfile)")
class GatewayContainerIT {
    private static final Duration T = Duration.ofSeconds(120);
    private static final String NQN = "nqn.2026-11.io.nvmpath:demo";
    private static final String EXPORT = NQN + "/1";
    private static final long MEMORY_LIMIT = 384L << 20;
    /** Reads the HTTP API's views back into the multipath records (errors are keyed by status in hex, "0x371"). */
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .registerModule(new com.fasterxml.jackson.databind.module.SimpleModule().addKeyDeserializer(Integer.class,
                    new com.fasterxml.jackson.databind.KeyDeserializer() {
                        @Override
                        public Object deserializeKey(String key, com.fasterxml.jackson.databind.DeserializationContext c) {
                            return Integer.decode(key);
                        }
                    }));
    private static final Pattern EXPORT_LOG = Pattern.compile("(\\S+) INFO Gateway - export " + Pattern.quote(EXPORT));

    private static Network pathA;
    private static Network pathB;
    private static GenericContainer<?> target;

    @TempDir
    Path dir;

    @BeforeAll
    static void startTarget() {
        Peers.assumeTools("nbdinfo", "libnbd-bin", "nbdcopy", "libnbd-bin", "qemu-io", "qemu-utils");
        DockerPeer.requireImages(DockerPeer.IMAGE);
        pathA = Network.newNetwork();
        pathB = Network.newNetwork();
        target = new GenericContainer<>(DockerPeer.IMAGE).withImagePullPolicy(DockerPeer.NEVER_PULL)
                .withCommand("target", "--config", "/etc/nvmpath/target.yaml")
                .withEnv(Map.of("NVMPATH_HEAP", "1280m", "NVMPATH_HEALTH_PORT", "8091"))
                .withNetwork(pathA).withNetworkAliases("target-a")
                .withCreateContainerCmdModifier(cmd -> {
                    cmd.withUser("10001:0");
                    cmd.getHostConfig().withCapDrop(Capability.ALL).withReadonlyRootfs(true)
                            .withTmpFs(Map.of("/tmp", "rw", "/var/lib/nvmpath", "rw"));
                })
                .waitingFor(Wait.forLogMessage(".*admin endpoint at .*\\n", 1).withStartupTimeout(T));
        target.start();
        connect(pathB, "target-b");
    }

    @AfterAll
    static void stopTarget() {
        if (target != null) {
            target.stop();
        }
        if (pathA != null) {
            pathA.close();
        }
        if (pathB != null) {
            pathB.close();
        }
    }

    private static void connect(Network n, String alias) {
        DockerPeer.client().connectToNetworkCmd().withContainerId(target.getContainerId()).withNetworkId(n.getId())
                .withContainerNetwork(new ContainerNetwork().withAliases(alias)).exec();
    }

    private static void disconnect(Network n) {
        DockerPeer.client().disconnectFromNetworkCmd().withContainerId(target.getContainerId())
                .withNetworkId(n.getId()).withForce(true).exec();
    }

    /** The gateway's container: both paths, unprivileged, state on a tmpfs, a memory limit, NBD and HTTP published. */
    private GenericContainer<?> gateway(String keepAlive) throws Exception {
        Path cfg = dir.resolve("gateway.yaml");
        Files.writeString(cfg, """
                host: {stateFile: /var/lib/nvmpath/host.properties}
                portals:
                  - {traddr: target-a, trsvcid: 4420, subnqn: "%s"}
                  - {traddr: target-b, trsvcid: 4421, subnqn: "%s"}
                controller: {keepAliveTimeout: %s, reconnectDelay: 1s, ctrlLossTimeout: forever, connectTimeout: 2s}
                nbd:
                  listen: {address: 0.0.0.0, port: 10809}
                  allow: [127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]
                http:
                  listen: {address: 0.0.0.0, port: 9810}
                """.formatted(NQN, NQN, keepAlive));
        cfg.toFile().setReadable(true, false);
        dir.toFile().setExecutable(true, false);
        GenericContainer<?> g = new OnTwoNetworks(DockerPeer.IMAGE).withImagePullPolicy(DockerPeer.NEVER_PULL)
                .withCommand("serve", "--config", "/etc/nvmpath/it/gateway.yaml")
                .withNetwork(pathA).withExposedPorts(10809, 9810)
                .withCreateContainerCmdModifier(cmd -> {
                    cmd.withUser("54321:0");
                    cmd.getHostConfig().withCapDrop(Capability.ALL).withReadonlyRootfs(true)
                            .withMemory(MEMORY_LIMIT).withMemorySwap(MEMORY_LIMIT)
                            .withTmpFs(Map.of("/tmp", "rw", "/var/lib/nvmpath", "rw"))
                            .withBinds(Bind.parse(dir + ":/etc/nvmpath/it:ro"));
                })
                .waitingFor(Wait.forLogMessage(".*INFO Gateway - export .*\\n", 1).withStartupTimeout(T));
        g.start();
        return g;
    }

    /** A container on path-a by Testcontainers and on path-b too, from before it starts (Docker creates with one). */
    private static final class OnTwoNetworks extends GenericContainer<OnTwoNetworks> {
        OnTwoNetworks(String image) {
            super(image);
        }

        @Override
        protected void containerIsCreated(String containerId) {
            DockerPeer.client().connectToNetworkCmd().withContainerId(containerId).withNetworkId(pathB.getId()).exec();
        }
    }

    /**
     * Sets a fault on a target port through its admin API, from inside the target's container: a port
     * the container publishes is forwarded to one of its network addresses, which the network drill
     * takes away.
     */
    private static void targetFault(int port, String fault) throws Exception {
        String body = "{\"fault\": \"" + fault + "\"}";
        var r = target.execInContainer("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8091; printf 'POST /api/v1/ports/"
                + port + "/fault HTTP/1.1\\r\\nHost: target\\r\\nContent-Type: application/json\\r\\nContent-Length: "
                + body.length() + "\\r\\nConnection: close\\r\\n\\r\\n%s' '" + body + "' >&3; head -1 <&3");
        assertThat(r.getStdout()).as("POST fault %s on port %d: %s", fault, port, r).startsWith("HTTP/1.1 200");
    }

    private static String http(GenericContainer<?> g, String path) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + g.getMappedPort(9810) + path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.body();
    }

    private static MultipathView.Head head(GenericContainer<?> g) throws Exception {
        String body = http(g, "/api/v1/subsystems/" + NQN);
        assertThat(body).startsWith("200 ");
        MultipathView.Subsystem s = JSON.readValue(body.substring(4), MultipathView.Subsystem.class);
        return s.heads().get(0);
    }

    /** Path A: the target's port 4420 (ANA optimized) through network path-a. */
    private static MultipathView.PathEntry pathA(MultipathView.Head h) {
        return h.paths().stream().filter(p -> p.address().equals("target-a:4420")).findFirst().orElseThrow();
    }

    private static void await(String what, Duration timeout, BooleanSupplier c) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (!c.getAsBoolean()) {
            if (System.nanoTime() - end > 0) {
                throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for " + what);
            }
            Thread.sleep(100);
        }
    }

    private static boolean quietly(java.util.concurrent.Callable<Boolean> c) {
        try {
            return c.call();
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void should_carry_256_MiB_intact_through_two_networks_within_its_memory_limit() throws Exception {
        try (GenericContainer<?> g = gateway("5s")) {
            // start-up: from the container's start to the gateway's own log line for the export
            String started = DockerPeer.client().inspectContainerCmd(g.getContainerId()).exec().getState().getStartedAt();
            Matcher m = EXPORT_LOG.matcher(g.getLogs());
            assertThat(m.find()).isTrue();
            long exportMs = Duration.between(Instant.parse(started), Instant.parse(m.group(1))).toMillis();
            try {
                await("/ready", Duration.ofSeconds(30), () -> quietly(() -> http(g, "/ready").startsWith("200")));
            } catch (AssertionError e) {
                String ready;
                try {
                    ready = http(g, "/ready");
                } catch (Exception x) {
                    ready = x.toString();
                }
                throw new AssertionError(e.getMessage() + "; /ready: " + ready + "\ngateway log:\n" + g.getLogs()
                        + "\ntarget log:\n" + target.getLogs(), e);
            }
            System.out.printf("gateway container: export served %d ms after the container started (JVM start,"
                    + " both controllers connected over Docker networks, namespace scanned)%n", exportMs);

            String cmdline = g.execInContainer("bash", "-c", "tr '\\0' ' ' < /proc/1/cmdline").getStdout();
            assertThat(cmdline).as("JVM bounds from the 384 MiB limit: a quarter each")
                    .contains("-Xmx96m").contains("-XX:MaxDirectMemorySize=96m");

            await("both paths live", Duration.ofSeconds(30), () -> quietly(() -> head(g).paths().stream()
                    .filter(p -> p.controllerState().equals("live")).count() == 2));

            String nbd = "nbd://127.0.0.1:" + g.getMappedPort(10809);
            assertThat(Tool.run(T, "nbdinfo", "--list", nbd).requireOk("nbdinfo").out()).contains("export=\"" + EXPORT + "\"");
            Path in = dir.resolve("in.bin");
            Tool.run(T, "bash", "-c", "head -c 268435456 /dev/urandom > " + in).requireOk("random data");
            String uri = nbd + "/" + EXPORT;
            Tool.Result up = Tool.run(T, "nbdcopy", "--connections=4", "--flush", in.toString(), uri).requireOk("nbdcopy in");
            Tool.Result down = Tool.run(T, "bash", "-c", "nbdcopy --connections=4 '" + uri + "' - | head -c 268435456"
                    + " | sha256sum; sha256sum < " + in).requireOk("nbdcopy out");
            String[] sums = down.out().strip().split("\n");
            System.out.printf("nbdcopy 256 MiB in %d ms, 1 GiB out %d ms, through the container%n", up.millis(), down.millis());
            assertThat(sums[0]).isEqualTo(sums[1]);

            var state = DockerPeer.client().inspectContainerCmd(g.getContainerId()).exec().getState();
            assertThat(state.getOOMKilled()).isFalse();
            assertThat(state.getRunning()).isTrue();
            String metrics = http(g, "/metrics");
            Matcher direct = Pattern.compile("(?m)^nvmpath_netty_direct_memory_used_bytes(?:\\{[^}]*})? (\\S+)$").matcher(metrics);
            assertThat(direct.find()).as("Netty direct memory on /metrics").isTrue();
            double used = Double.parseDouble(direct.group(1));
            System.out.printf("Netty direct memory after the copies: %.1f MiB (bound 96 MiB)%n", used / 1048576);
            assertThat(used).isLessThanOrEqualTo(96.0 * 1048576);
        }
    }

    @Test
    void should_answer_a_request_in_flight_on_docker_stop_and_exit_0() throws Exception {
        try (GenericContainer<?> g = gateway("5s")) {
            for (int port : new int[] {1, 2}) {
                targetFault(port, "delay 3000");
            }
            try {
                Process read = new ProcessBuilder("qemu-io", "--image-opts", "-r", "-c", "read 0 1M",
                        ComposeStackIT.qemuOpts(g.getMappedPort(10809))).redirectErrorStream(true).start();
                await("the read in flight", Duration.ofSeconds(30), () -> quietly(() -> {
                    JsonNode e = JSON.readTree(http(g, "/api/v1/exports").substring(4)).path("exports").get(0);
                    return e.path("inFlight").asInt() > 0;
                }));
                long t0 = System.nanoTime();
                DockerPeer.client().stopContainerCmd(g.getContainerId()).withTimeout(40).exec();
                long stopMs = (System.nanoTime() - t0) / 1_000_000;
                var state = DockerPeer.client().inspectContainerCmd(g.getContainerId()).exec().getState();
                assertThat(read.waitFor(30, TimeUnit.SECONDS)).isTrue();
                String out = new String(read.getInputStream().readAllBytes());
                System.out.printf("docker stop with a read in flight (completions delayed 3 s): %d ms, exit %d; qemu-io: %s%n",
                        stopMs, state.getExitCodeLong(), out.strip());
                assertThat(state.getExitCodeLong()).as("the gateway's exit code after SIGTERM").isZero();
                assertThat(read.exitValue()).as("qemu-io: %s", out).isZero();
                assertThat(out).contains("read 1048576/1048576 bytes");
                assertThat(g.getLogs()).contains("draining NBD requests").contains("stopped");
            } finally {
                for (int port : new int[] {1, 2}) {
                    targetFault(port, "none");
                }
            }
        }
    }

    @Test
    void ext4_over_the_published_port_rides_out_a_docker_network_disconnect_of_the_optimized_path() throws Exception {
        Peers.assumeGuest();
        try (GenericContainer<?> g = gateway("2s")) {
            int nbdPort = g.getMappedPort(10809);
            try (KernelHostGuest guest = KernelHostGuest.start("nbd-ext4-vs-container", Map.of(nbdPort, nbdPort))) {
                Ext4Drill.run(guest, nbdPort, EXPORT, List.of(new Ext4Drill.Fault("docker network disconnect of path A",
                        () -> {
                            disconnect(pathA);
                            try {
                                await("the gateway to lose path A", Duration.ofSeconds(30), () -> quietly(() ->
                                        !pathA(head(g)).controllerState().equals("live")));
                            } catch (InterruptedException e) {
                                throw new IllegalStateException(e);
                            }
                        },
                        () -> connect(pathA, "target-a"))));
                await("path A live again", Duration.ofSeconds(60), () -> quietly(() ->
                        pathA(head(g)).controllerState().equals("live")));
                MultipathView.Head h = head(g);
                System.out.println("after the drill: " + h);
                Ext4Drill.assertIoMovedAndCameBack(h);
                JsonNode e = JSON.readTree(http(g, "/api/v1/exports").substring(4)).path("exports").get(0);
                assertThat(e.path("errors").size()).as("NBD errors: %s", e.path("errors")).isZero();
            }
        }
    }
}
