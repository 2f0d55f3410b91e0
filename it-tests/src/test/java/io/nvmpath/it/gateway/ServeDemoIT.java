package io.nvmpath.it.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nvmpath.it.guest.Peers;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's run command, {@code bin/nvmpath serve --demo}, as a user runs it: the one line it
 * prints attaches the export, list-subsys shows both paths, a real Prometheus server scrapes
 * /metrics and sees a path's ANA state change, and SIGTERM stops it cleanly.
 */
class ServeDemoIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final Duration T = Duration.ofSeconds(60);


    private static String await(Path file, Pattern p, Process proc, Duration timeout) throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() - end < 0) {
            String text = Files.readString(file);
            Matcher m = p.matcher(text);
            if (m.find()) {
                return m.group(1);
            }
            if (!proc.isAlive()) {
                throw new AssertionError("exited " + proc.exitValue() + " before printing " + p + ":\n" + text);
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no " + p + " in " + file + " within " + timeout + ":\n" + Files.readString(file));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** The query's result vector; empty while Prometheus is not up yet. */
    private static JsonNode promQuery(int port, String q) throws Exception {
        HttpResponse<String> r;
        try {
            r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                    + "/api/v1/query?query=" + URLEncoder.encode(q, StandardCharsets.UTF_8))).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (java.net.ConnectException e) {
            return JSON.createArrayNode();
        }
        return r.statusCode() == 200 ? JSON.readTree(r.body()).get("data").get("result") : JSON.createArrayNode();
    }

    private static JsonNode awaitQuery(int port, String q, Predicate<JsonNode> ok) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        JsonNode last = null;
        while (System.nanoTime() - end < 0) {
            last = promQuery(port, q);
            if (ok.test(last)) {
                return last;
            }
            Thread.sleep(500);
        }
        throw new AssertionError("Prometheus query " + q + " never satisfied; last result " + last);
    }

    @Test
    void serve_demo_prints_the_attach_line_serves_nbd_and_is_scraped_by_prometheus() throws Exception {
        Peers.assumeTools("nbdinfo", "libnbd-bin", "prometheus", "prometheus");
        Path dir = Files.createTempDirectory("nvmpath-serve-demo");
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process serve = new ProcessBuilder(Peers.launcher(), "serve", "--demo", "--nbd-listen", "127.0.0.1:0",
                "--http-listen", "127.0.0.1:0", "--state-file", dir.resolve("host.properties").toString())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        Process prom = null;
        try {
            String attach = await(out, Pattern.compile("^(sudo nbd-client .*)$", Pattern.MULTILINE), serve,
                    Duration.ofSeconds(120));
            Matcher a = Pattern.compile("sudo nbd-client 127\\.0\\.0\\.1 (\\d+) /dev/nbd0 -N (\\S+)").matcher(attach);
            assertThat(a.matches()).as("attach line: %s", attach).isTrue();
            int nbd = Integer.parseInt(a.group(1));
            assertThat(a.group(2)).isEqualTo("nqn.2026-11.io.nvmpath:demo/1");
            assertThat(Files.readAllLines(out)).hasSize(1);
            int http = Integer.parseInt(await(err, Pattern.compile("HTTP on http://127\\.0\\.0\\.1:(\\d+)"), serve, T));
            String admin = await(err, Pattern.compile("--admin (http://\\S+)"), serve, T);
            String optimized = await(err, Pattern.compile("paths (127\\.0\\.0\\.1:\\d+) \\(optimized\\)"), serve, T);

            Tool.Result size = Tool.run(T, "nbdinfo", "--size", "nbd://127.0.0.1:" + nbd + "/" + a.group(2))
                    .requireOk("nbdinfo");
            assertThat(size.out().strip()).isEqualTo(String.valueOf(1L << 30));

            Tool.Result ls = Tool.run(T, Peers.launcher(), "list-subsys", "--url", "http://127.0.0.1:" + http)
                    .requireOk("list-subsys");
            System.out.println("list-subsys:\n" + ls.out());
            assertThat(ls.out()).contains("nqn.2026-11.io.nvmpath:demo  iopolicy=numa")
                    .contains("export nqn.2026-11.io.nvmpath:demo/1").containsPattern(
                            Pattern.quote(optimized) + " cntlid \\d+ +live +optimized +usable")
                    .containsPattern("live +non-optimized +usable");

            // a real Prometheus server scrapes the gateway every second
            int promPort = freePort();
            Path cfg = dir.resolve("prometheus.yml");
            Files.writeString(cfg, "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                    + "scrape_configs:\n  - job_name: nvmpath\n    static_configs: [{targets: ['127.0.0.1:" + http
                    + "']}]\n");
            prom = new ProcessBuilder("prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + dir.resolve("tsdb"),
                    "--web.listen-address=127.0.0.1:" + promPort).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("prometheus.log").toFile()).start();
            String before = "nvmpath_path_ana_state{path=\"" + optimized + "\",state=\"optimized\"}";
            awaitQuery(promPort, before, r -> r.size() == 1 && r.get(0).get("value").get(1).asText().equals("1"));
            JsonNode rtt = awaitQuery(promPort, "nvmpath_path_keepalive_rtt_seconds", r -> r.size() == 2);
            System.out.println("keep-alive round trips seen by Prometheus: " + rtt);

            HttpResponse<String> flip = HTTP.send(HttpRequest.newBuilder(URI.create(admin + "/api/v1/ports/1/ana"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"group\": 1, \"state\": \"inaccessible\"}"))
                    .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
            assertThat(flip.statusCode()).as(flip.body()).isEqualTo(200);
            long t0 = System.nanoTime();
            String after = "nvmpath_path_ana_state{path=\"" + optimized + "\",state=\"inaccessible\"} == 1";
            JsonNode seen = awaitQuery(promPort, after, r -> r.size() == 1);
            System.out.printf("Prometheus saw %s go inaccessible %d ms after the flip: %s%n", optimized,
                    (System.nanoTime() - t0) / 1_000_000, seen);
            assertThat(promQuery(promPort, "nvmpath_path_ana_state_code{path=\"" + optimized + "\"}").get(0)
                    .get("value").get(1).asText()).isEqualTo("3");
            JsonNode usable = promQuery(promPort, "nvmpath_head_usable_paths");
            assertThat(usable.get(0).get("value").get(1).asText()).isEqualTo("1");

            // SIGTERM: graceful stop, exit 0
            serve.destroy();
            assertThat(serve.waitFor(60, TimeUnit.SECONDS)).as("stopped within 60 s").isTrue();
            assertThat(serve.exitValue()).as(Files.readString(err)).isZero();
            assertThat(Files.readString(err)).contains("shutting down").contains("stopped");
        } finally {
            if (prom != null) {
                prom.destroy();
                prom.waitFor(20, TimeUnit.SECONDS);
            }
            serve.destroyForcibly();
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void post(String url, String json) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url))
                .POST(HttpRequest.BodyPublishers.ofString(json)).header("Content-Type", "application/json").build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(url + " " + r.body()).isEqualTo(200);
    }

    @Test
    void a_second_sigterm_exits_at_once_while_the_first_waits_for_requests_in_flight() throws Exception {
        Peers.assumeTools("qemu-io", "qemu-utils");
        Path dir = Files.createTempDirectory("nvmpath-serve-demo");
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process serve = new ProcessBuilder(Peers.launcher(), "serve", "--demo", "--nbd-listen", "127.0.0.1:0",
                "--http-listen", "off", "--drain-timeout", "60", "--state-file",
                dir.resolve("host.properties").toString()).redirectOutput(out.toFile()).redirectError(err.toFile())
                .start();
        Process reader = null;
        try {
            String attach = await(out, Pattern.compile("^(sudo nbd-client .*)$", Pattern.MULTILINE), serve,
                    Duration.ofSeconds(120));
            Matcher a = Pattern.compile("sudo nbd-client 127\\.0\\.0\\.1 (\\d+) /dev/nbd0 -N (\\S+)").matcher(attach);
            assertThat(a.matches()).isTrue();
            String admin = await(err, Pattern.compile("--admin (http://\\S+)"), serve, T);
            // both paths go silent: a read stays in flight (keep-alive finds the loss, then it waits for a path)
            post(admin + "/api/v1/ports/1/fault", "{\"fault\": \"blackhole\"}");
            post(admin + "/api/v1/ports/2/fault", "{\"fault\": \"blackhole\"}");
            reader = new ProcessBuilder("qemu-io", "--image-opts", "-c", "read 0 4096",
                    "driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=127.0.0.1,file.server.port="
                            + a.group(1) + ",file.export=" + a.group(2)).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("qemu-io.txt").toFile()).start();
            Thread.sleep(1500);
            assertThat(reader.isAlive()).as("the read is in flight").isTrue();

            serve.destroy(); // SIGTERM: drains for up to 60 s
            Thread.sleep(1500);
            assertThat(serve.isAlive()).as("still draining after the first SIGTERM").isTrue();
            long t0 = System.nanoTime();
            serve.destroy(); // the second: at once
            assertThat(serve.waitFor(10, TimeUnit.SECONDS)).as("exited after the second SIGTERM").isTrue();
            System.out.printf("second SIGTERM: exited %d ms later with %d%n", (System.nanoTime() - t0) / 1_000_000,
                    serve.exitValue());
            assertThat(serve.exitValue()).isEqualTo(130);
            assertThat(Files.readString(err)).contains("second signal, exiting now");
        } finally {
            if (reader != null) {
                reader.destroyForcibly();
            }
            serve.destroyForcibly();
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
