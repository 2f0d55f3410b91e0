package io.nvmpath.it.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nvmpath.it.guest.Peers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the gateway holds in memory under 1,024 outstanding 64 KiB requests: fio's nbd engine, 4 jobs
 * (4 NBD connections) of iodepth 256, random reads and writes for 20 s, twice in a row, through
 * {@code bin/nvmpath serve} with the launcher's default JVM settings over {@code bin/nvmpath target}
 * in another process. Per run it prints the gateway's peak RSS (VmHWM, reset before each run) and
 * Netty's direct memory afterwards (from its own /metrics), and the growth from run 1 to run 2. The
 * goals (RSS at most 256 MiB, direct memory flat within 16 MiB) are printed beside them; a benchmark
 * does not fail on them. -Dnvmpath.bench.before=LAUNCHER adds another build's gateway for contrast.
 *
 * <p>Run alone: {@code ./mvnw -pl it-tests verify -Dit.test=MemoryBenchmark -Dtest=None
 * -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class MemoryBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String NQN = "nqn.2026-11.io.nvmpath:memory";
    private static final String BEFORE = System.getProperty("nvmpath.bench.before");
    private static final int SECONDS = Integer.getInteger("nvmpath.bench.seconds", 20);
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final Pattern DIRECT = Pattern.compile(
            "^nvmpath_netty_direct_memory_used_bytes\\{[^}]*source=\"(\\w+)\"[^}]*\\} ([0-9.eE+-]+)$", Pattern.MULTILINE);

    private static BenchProcesses procs;

    @BeforeAll
    static void tools() throws IOException {
        Peers.assumeTools("fio", "fio");
        procs = new BenchProcesses("nvmpath-memory");
    }

    @AfterAll
    static void stop() throws Exception {
        if (procs != null) {
            procs.close();
        }
    }

    /** A gateway with an HTTP endpoint, once its export answers /ready. */
    private record Gateway(String name, Process process, String nbdUri, int http) {
    }

    private static Gateway gateway(String name, String launcher, int t1, int t2) throws Exception {
        int nbd = BenchProcesses.freePort();
        int http = BenchProcesses.freePort();
        Path cfg = procs.dir().resolve(name + ".yaml");
        Files.writeString(cfg, "host: {stateFile: " + procs.dir().resolve(name + ".host") + "}\nportals:\n"
                + "  - {traddr: 127.0.0.1, trsvcid: " + t1 + ", subnqn: \"" + NQN + "\"}\n"
                + "  - {traddr: 127.0.0.1, trsvcid: " + t2 + ", subnqn: \"" + NQN + "\"}\n"
                + "nbd: {listen: {port: " + nbd + "}}\nhttp: {listen: {address: 127.0.0.1, port: " + http + "}}\n");
        Process p = procs.spawn(name, List.of(launcher, "serve", "--config", cfg.toString()));
        procs.awaitPort(http, p, name);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (get(http, "/ready").statusCode() != 200) {
            assertThat(System.nanoTime() - end).as(name + " ready within 60 s").isNegative();
            Thread.sleep(100);
        }
        return new Gateway(name, p, "nbd://127.0.0.1:" + nbd + "/" + NQN + "/1", http);
    }

    private static HttpResponse<String> get(int port, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Netty's direct memory in use by source (pooled, adaptive, platform), in MiB. */
    private static Map<String, Double> directMemory(Gateway g) throws Exception {
        Map<String, Double> bySource = new LinkedHashMap<>();
        Matcher m = DIRECT.matcher(get(g.http(), "/metrics").body());
        while (m.find()) {
            bySource.put(m.group(1), Double.parseDouble(m.group(2)) / (1 << 20));
        }
        return bySource;
    }

    @Test
    void peak_rss_and_direct_memory_under_1024_outstanding_64k_requests() throws Exception {
        BenchProcesses.Target target = procs.target(NQN);

        List<Gateway> gateways = new ArrayList<>();
        gateways.add(gateway("gateway", Peers.launcher(), target.port1(), target.port2()));
        if (BEFORE != null) {
            gateways.add(gateway("gateway-before", BEFORE, target.port1(), target.port2()));
        }
        StringBuilder table = new StringBuilder(String.format(Locale.ROOT,
                "%nfio nbd engine, 4 jobs x iodepth 256, randrw 64 KiB, %d s per run; default JVM settings"
                        + " of the launcher (no cgroup limit); 2 cores%n%-16s %4s %10s %14s %10s %16s   %24s%n",
                SECONDS, "gateway", "run", "IOPS", "peak RSS MiB", "RSS goal", "peak direct MiB",
                "Netty direct MiB after the run"));
        for (Gateway g : gateways) {
            double firstDirect = Double.NaN;
            for (int run = 1; run <= 2; run++) {
                BenchProcesses.resetPeakRss(g.process());
                java.util.concurrent.CompletableFuture<Tool.Result> fio = java.util.concurrent.CompletableFuture
                        .supplyAsync(() -> {
                            try {
                                return Tool.run(Duration.ofSeconds(SECONDS + 120), "fio", "--name=memory",
                                        "--ioengine=nbd", "--uri=" + g.nbdUri(), "--rw=randrw", "--bs=64k",
                                        "--iodepth=256", "--numjobs=4", "--size=256m", "--time_based",
                                        "--runtime=" + SECONDS, "--group_reporting", "--output-format=json");
                            } catch (Exception e) {
                                throw new java.util.concurrent.CompletionException(e);
                            }
                        });
                // Netty's direct memory while the requests are outstanding, sampled twice a second
                double peakDirect = 0;
                while (!fio.isDone()) {
                    for (double v : directMemory(g).values()) {
                        peakDirect = Math.max(peakDirect, v);
                    }
                    try {
                        fio.get(500, TimeUnit.MILLISECONDS);
                    } catch (java.util.concurrent.TimeoutException stillRunning) {
                        // sample again
                    }
                }
                Tool.Result r = fio.join();
                r.requireOk("fio through " + g.name());
                JsonNode job = JSON.readTree(r.out().substring(r.out().indexOf('{'))).get("jobs").get(0);
                assertThat(job.get("error").asInt()).as("fio errors through " + g.name()).isZero();
                double iops = job.get("read").get("iops").asDouble() + job.get("write").get("iops").asDouble();
                long peakKib = BenchProcesses.peakRssKib(g.process());
                Map<String, Double> direct = directMemory(g);
                double total = direct.values().stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
                if (run == 1) {
                    firstDirect = total;
                }
                table.append(String.format(Locale.ROOT, "%-16s %4d %10.0f %14.1f %10s %16.1f   %24s%s%n", g.name(),
                        run, iops, peakKib / 1024.0, peakKib / 1024.0 <= 256 ? "met" : "NOT met", peakDirect,
                        direct.entrySet().stream()
                                .map(e -> String.format(Locale.ROOT, "%s %.1f", e.getKey(), e.getValue())).toList(),
                        run == 2 ? String.format(Locale.ROOT, "  growth %.1f MiB (goal <= 16: %s)", total - firstDirect,
                                total - firstDirect <= 16 ? "met" : "NOT met") : ""));
            }
        }
        System.out.println(table);
    }
}
