package io.nvmpath.it.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.model.Container;
import io.nvmpath.it.gateway.Tool;
import io.nvmpath.it.guest.Peers;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.testcontainers.containers.ComposeContainer;
import org.testcontainers.containers.DockerComposeContainer;
import org.testcontainers.lifecycle.Startable;

import java.io.File;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The compose stack ({@code deploy/compose/compose.yaml}: gateway, the project's target over two
 * networks, Prometheus) run by the local compose binary through Testcontainers, and the Grafana board
 * ({@code deploy/grafana/nvmpath.json}) judged by that stack's real Prometheus: after a failover drill
 * (an ANA flip and path errors under I/O) every panel's query, its template variables filled, must
 * return series. {@code down} must leave no container, network or volume behind.
 */
@DisplayName("compose stack deploy/compose/compose.yaml and Grafana board deploy/grafana/nvmpath.json")
class ComposeStackIT {
    private static final Duration T = Duration.ofSeconds(120);
    private static final String NQN = "nqn.2026-11.io.nvmpath:demo";
    private static final String EXPORT = NQN + "/1";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    /** The compose implementations the file is written for: Debian 12's docker-compose 1.29 and the docker CLI's v2 plugin. */
    enum Compose {
        /** {@code docker-compose} (Python, 1.29), Testcontainers' DockerComposeContainer. */
        V1,
        /** {@code docker compose} (the Go CLI plugin, 2.x), Testcontainers' ComposeContainer. */
        V2;

        Startable stack(File file, Map<String, String> env) {
            return switch (this) {
                case V1 -> new DockerComposeContainer<>(file).withPull(false).withBuild(false).withRemoveVolumes(true)
                        .withEnv(env);
                case V2 -> new ComposeContainer(file).withPull(false).withBuild(false).withRemoveVolumes(true).withEnv(env);
            };
        }

        void assumeInstalled() throws Exception {
            if (this == V1) {
                Peers.assumeTools("docker-compose", "docker-compose");
                return;
            }
            Tool.Result v = Tool.run(Duration.ofSeconds(30), "docker", "compose", "version");
            if (v.rc() != 0) {
                String message = "docker compose (v2) missing: .ci/run installs the CLI plugin from Debian 13's docker-compose";
                if (Peers.required()) {
                    org.junit.jupiter.api.Assertions.fail(message);
                }
                org.junit.jupiter.api.Assumptions.assumeTrue(false, message);
            }
            System.out.println("compose v2: " + v.out().strip());
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Compose.class)
    void should_come_up_scrape_the_gateway_answer_every_board_query_after_a_failover_and_leave_nothing_on_down(
            Compose flavour) throws Exception {
        flavour.assumeInstalled();
        Peers.assumeTools("nbdcopy", "libnbd-bin", "qemu-io", "qemu-utils");
        DockerPeer.requireImages(DockerPeer.IMAGE, DockerPeer.PROMETHEUS_IMAGE);
        Path deploy = DockerPeer.deployDir();
        int nbd = DockerPeer.freePort();
        int http = DockerPeer.freePort();
        int prometheus = DockerPeer.freePort();
        int admin = DockerPeer.freePort();
        String gw = "http://127.0.0.1:" + http;
        String prom = "http://127.0.0.1:" + prometheus;
        String targetAdmin = "http://127.0.0.1:" + admin;
        File compose = deploy.resolve("compose/compose.yaml").toFile();
        Set<String> projects;
        Startable stack = flavour.stack(compose, Map.of("NVMPATH_NBD_PORT", "" + nbd, "NVMPATH_HTTP_PORT", "" + http,
                "NVMPATH_PROMETHEUS_PORT", "" + prometheus, "NVMPATH_TARGET_ADMIN_PORT", "" + admin));
        try {
            long t0 = System.nanoTime();
            stack.start();
            await("the gateway's /ready", () -> get(gw + "/ready").statusCode() == 200);
            await("Prometheus: scrape target up", () -> {
                JsonNode t = json(get(prom + "/api/v1/targets")).path("data").path("activeTargets");
                return t.size() == 1 && t.get(0).path("health").asText().equals("up");
            });
            System.out.printf("%s up: gateway ready and scraped %d ms after up%n", flavour, (System.nanoTime() - t0) / 1_000_000);
            projects = composeProjects(deploy);
            assertThat(projects).hasSize(1);

            // the drill: I/O through the gateway while the optimized path goes inaccessible, then three
            // path errors (0x302, ANA Inaccessible) on the other path, then back
            String uri = "nbd://127.0.0.1:" + nbd + "/" + EXPORT;
            Path stop = java.nio.file.Files.createTempFile("nvmpath-compose-load", ".stop");
            java.nio.file.Files.delete(stop);
            // 8 MiB written then read back, again and again until told to stop (at most 1,000 rounds)
            Process load = new ProcessBuilder("bash", "-c", "set -o pipefail; for i in $(seq 1 1000); do [ -e " + stop
                    + " ] && exit 0; head -c 8388608 /dev/urandom | nbdcopy - '" + uri + "' || exit 1;"
                    + " qemu-io --image-opts -r -c 'read 0 8M' " + qemuOpts(nbd) + " >/dev/null || exit 2; done; exit 3")
                    .redirectErrorStream(true).start();
            try {
                await("writes through the gateway", () -> metric(prom, "sum(nvmpath_path_ops_total{op=\"write\"})") > 0);
                post(targetAdmin + "/api/v1/ports/1/ana", "{\"group\": 1, \"state\": \"inaccessible\"}");
                await("Prometheus to see the optimized path inaccessible",
                        () -> metric(prom, "sum(nvmpath_path_ana_state{state=\"inaccessible\"})") == 1);
                post(targetAdmin + "/api/v1/ports/2/fault", "{\"fault\": \"fail 3 0x302\"}");
                await("Prometheus to see the path errors",
                        () -> metric(prom, "sum(nvmpath_path_errors_total)") >= 3);
                post(targetAdmin + "/api/v1/ports/1/ana", "{\"group\": 1, \"state\": \"optimized\"}");
                await("Prometheus to see both paths usable again",
                        () -> metric(prom, "sum(nvmpath_head_usable_paths)") == 2);
                java.nio.file.Files.createFile(stop);
                await("the load to end", () -> !load.isAlive());
                java.nio.file.Files.delete(stop);
                String out = new String(load.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(load.exitValue()).as("nbdcopy through the drill: %s", out).isZero();
            } finally {
                load.destroyForcibly();
            }

            GrafanaBoard board = GrafanaBoard.load(deploy.resolve("grafana/nvmpath.json"));
            List<String> queries = board.queries(Map.of("datasource", "prometheus", "subsystem", NQN, "nsid", "1",
                    "path", ".+", "export", EXPORT));
            List<String> empty = new ArrayList<>();
            for (String q : queries) {
                JsonNode r = json(get(prom + "/api/v1/query?query=" + URLEncoder.encode(q, StandardCharsets.UTF_8)));
                assertThat(r.path("status").asText()).as("Prometheus on %s: %s", q, r).isEqualTo("success");
                if (r.path("data").path("result").isEmpty()) {
                    empty.add(q);
                }
            }
            System.out.printf("board: %d panels, %d queries, all answered by Prometheus with series: %s%n",
                    board.panels().size(), queries.size(), empty.isEmpty());
            assertThat(empty).as("board queries that match no series").isEmpty();
        } finally {
            stack.stop();
        }
        // down leaves nothing of the stack
        for (String p : projects) {
            String label = "com.docker.compose.project=" + p;
            assertThat(DockerPeer.client().listContainersCmd().withShowAll(true).withLabelFilter(List.of(label)).exec())
                    .as("containers of %s after down", p).isEmpty();
            assertThat(DockerPeer.client().listNetworksCmd().exec()).as("networks of %s after down", p)
                    .noneMatch(n -> p.equals(n.getLabels() == null ? null : n.getLabels().get("com.docker.compose.project")));
            var volumes = DockerPeer.client().listVolumesCmd().exec().getVolumes();
            assertThat(volumes == null ? List.of() : volumes).as("volumes of %s after down", p)
                    .noneMatch(v -> v.getLabels() != null && p.equals(v.getLabels().get("com.docker.compose.project")));
        }
    }

    /** qemu's block options for the export on {@code port} (an NBD URI would need the export name escaped). */
    static String qemuOpts(int port) {
        return "driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=127.0.0.1,file.server.port=" + port
                + ",file.export=" + EXPORT;
    }

    /** The compose projects whose containers run from deploy/compose (this stack's, by its random name). */
    private static Set<String> composeProjects(Path deploy) {
        Set<String> out = new TreeSet<>();
        String dir = deploy.resolve("compose").toString();
        for (Container c : DockerPeer.client().listContainersCmd().withShowAll(true).exec()) {
            Map<String, String> l = c.getLabels();
            if (l != null && dir.equals(l.get("com.docker.compose.project.working_dir"))) {
                out.add(l.get("com.docker.compose.project"));
            }
        }
        return out;
    }

    private static double metric(String prom, String query) throws Exception {
        JsonNode r = json(get(prom + "/api/v1/query?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8)))
                .path("data").path("result");
        return r.isEmpty() ? Double.NaN : r.get(0).path("value").get(1).asDouble();
    }

    private static HttpResponse<String> get(String url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static void post(String url, String body) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as("POST %s %s: %s", url, body, r.body()).isEqualTo(200);
    }

    private static JsonNode json(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body());
    }

    interface Check {
        boolean ok() throws Exception;
    }

    private static void await(String what, Check c) throws InterruptedException {
        long end = System.nanoTime() + T.toNanos();
        BooleanSupplier s = () -> {
            try {
                return c.ok();
            } catch (Exception e) {
                return false;
            }
        };
        while (!s.getAsBoolean()) {
            if (System.nanoTime() - end > 0) {
                throw new AssertionError("timed out after " + T.toSeconds() + " s waiting for " + what);
            }
            Thread.sleep(200);
        }
    }
}
