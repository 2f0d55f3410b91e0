package io.nvmpath.it.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nvmpath.it.guest.Peers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * fio's nbd engine against NBD servers, one process each, on this machine's cores: the gateway
 * ({@code bin/nvmpath serve} over {@code bin/nvmpath target} with two paths, and pinned to one),
 * {@code serve --demo} (target in the gateway's process), {@code nbdkit memory}, and {@code qemu-nbd}
 * on a file in /dev/shm. Workloads: 4 KiB random reads at iodepth 32 and 1 MiB sequential reads at
 * iodepth 8 over a 256 MiB region written first; 2 s ramp, 8 s measured, median of 3 rounds
 * (-Dnvmpath.bench.rounds), interleaved, every other round in reverse order. Also nbdkit's nbd plugin proxying
 * nbdkit memory — the same job as the gateway over a separate target, in C — and each server's own CPU time per
 * I/O (4 KiB) or per GiB (1 MiB). Prints a table of ratios against nbdkit; never fails on speed.
 *
 * <p>Run alone: {@code ./mvnw -pl it-tests verify -Dit.test=NbdBenchmark -Dtest=None
 * -Dsurefire.failIfNoSpecifiedTests=false}; the table is in
 * {@code it-tests/target/failsafe-reports/io.nvmpath.it.gateway.NbdBenchmark-output.txt}.
 */
class NbdBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Rounds, interleaved; -Dnvmpath.bench.rounds=N. */
    private static final int ROUNDS = Integer.getInteger("nvmpath.bench.rounds", 3);
    /** -Dnvmpath.bench.only=gateway: only the gateway over a separate target, head vs pinned. */
    private static final boolean ONLY_GATEWAY = "gateway".equals(System.getProperty("nvmpath.bench.only"));
    private static final String NQN = "nqn.2026-11.io.nvmpath:bench";
    /**
     * More transports for the gateway over a separate target, -Dnvmpath.bench.transports=nio,epoll (the
     * default row uses the process's own choice: io_uring where the kernel allows it).
     */
    private static final List<String> TRANSPORTS = List.of(System.getProperty("nvmpath.bench.transports", "")
            .split(",")).stream().filter(t -> !t.isBlank()).toList();
    /** Another build's launcher (bin/nvmpath of an older checkout) for a before/after row: -Dnvmpath.bench.before=PATH. */
    private static final String BEFORE = System.getProperty("nvmpath.bench.before");
    /**
     * Gateway rows with other JVM options, {@code -Dnvmpath.bench.variants="small-heap=-Xmx128m;g1=-XX:+UseG1GC"}: a
     * name, then the options the launcher gets as NVMPATH_JAVA_OPTS (an experiment's knob, compared in the same run).
     */
    private static final Map<String, String> VARIANTS = variants(System.getProperty("nvmpath.bench.variants", ""));
    /** -Dnvmpath.bench.jfr=true: each gateway records a JFR profile; its hot methods are printed at the end. */
    private static final boolean JFR = Boolean.getBoolean("nvmpath.bench.jfr");

    private static BenchProcesses procs;

    private static Map<String, String> variants(String spec) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String v : spec.split(";")) {
            int eq = v.indexOf('=');
            if (!v.isBlank() && eq > 0) {
                m.put(v.substring(0, eq).strip(), v.substring(eq + 1).strip());
            }
        }
        return m;
    }

    /** One NBD server under test; {@code process} (or null) is the one whose CPU time is its cost. */
    private record Server(String name, String uri, Process process) {
        Server(String name, String uri) {
            this(name, uri, null);
        }

        Server named(String other) {
            return new Server(other, uri, process);
        }
    }

    @BeforeAll
    static void tools() throws IOException {
        Peers.assumeTools("fio", "fio", "nbdkit", "nbdkit", "qemu-nbd", "qemu-utils");
        procs = new BenchProcesses("nvmpath-bench");
    }

    @AfterAll
    static void stop() throws Exception {
        if (procs != null) {
            procs.close();
        }
        Files.deleteIfExists(Path.of("/dev/shm/nvmpath-bench.img"));
    }

    /** The gateway over a separate target process; {@code paths} 1 = pinned to port 1. */
    private static Server gateway(String name, int targetPort1, int targetPort2, int paths) throws Exception {
        return gateway(name, targetPort1, targetPort2, paths, Peers.launcher(), null);
    }

    /** As above, run by {@code launcher}, on {@code transport} (null: the process's own choice). */
    private static Server gateway(String name, int targetPort1, int targetPort2, int paths, String launcher,
                                  String transport) throws Exception {
        return gateway(name, targetPort1, targetPort2, paths, launcher, transport, null);
    }

    /** As above, with {@code javaOpts} (or null) as the launcher's NVMPATH_JAVA_OPTS. */
    private static Server gateway(String name, int targetPort1, int targetPort2, int paths, String launcher,
                                  String transport, String javaOpts) throws Exception {
        int nbd = BenchProcesses.freePort();
        Path cfg = procs.dir().resolve(name + ".yaml");
        String portals = "  - {traddr: 127.0.0.1, trsvcid: " + targetPort1 + ", subnqn: \"" + NQN + "\"}\n"
                + (paths == 2 ? "  - {traddr: 127.0.0.1, trsvcid: " + targetPort2 + ", subnqn: \"" + NQN + "\"}\n" : "");
        Files.writeString(cfg, "host: {stateFile: " + procs.dir().resolve(name + ".host") + "}\nportals:\n"
                + portals + "nbd: {listen: {port: " + nbd + "}}\nhttp: off\n");
        Map<String, String> env = new LinkedHashMap<>();
        if (transport != null) {
            env.put("NVMPATH_TRANSPORT", transport);
        }
        String opts = javaOpts == null ? "" : javaOpts;
        if (JFR) {
            opts += " -XX:StartFlightRecording=filename=" + procs.dir().resolve(name + ".jfr")
                    + ",settings=profile,dumponexit=true";
        }
        if (!opts.isBlank()) {
            env.put("NVMPATH_JAVA_OPTS", opts.strip());
        }
        Process p = procs.spawn(name, List.of(launcher, "serve", "--config", cfg.toString()), env);
        procs.awaitPort(nbd, p, name);
        return new Server(name, "nbd://127.0.0.1:" + nbd + "/" + NQN + "/1", p);
    }

    @Test
    void fio_through_the_gateway_against_nbdkit_and_qemu_nbd() throws Exception {
        // the target: its own process, two optimized ports
        BenchProcesses.Target target = procs.target(NQN);
        int t1 = target.port1();
        int t2 = target.port2();

        List<Server> servers = new ArrayList<>();
        if (ONLY_GATEWAY) {
            servers.add(new Server("nbdkit memory", null));
            servers.add(new Server("nbdkit nbd proxy", null));
            servers.add(new Server("qemu-nbd /dev/shm", null));
            servers.add(new Server("serve --demo (head, 2 paths)", null));
        } else {
            startBaselines(servers);
        }
        servers.add(gateway("gateway-head", t1, t2, 2).named("serve (head over 2 paths)"));
        servers.add(gateway("gateway-pinned", t1, t2, 1).named("serve (pinned to 1 path)"));
        for (String t : TRANSPORTS) {
            servers.add(gateway("gateway-" + t, t1, t2, 2, Peers.launcher(), t).named("serve (head), " + t));
        }
        for (Map.Entry<String, String> v : VARIANTS.entrySet()) {
            servers.add(gateway("gateway-" + v.getKey(), t1, t2, 2, Peers.launcher(), null, v.getValue())
                    .named("serve (head), " + v.getKey()));
        }
        if (BEFORE != null) {
            servers.add(gateway("gateway-before", t1, t2, 2, BEFORE, null).named("serve (head), before"));
        }
        Thread.sleep(2000);
        servers.removeIf(s -> s.uri() == null);
        run(servers);
        if (JFR) {
            procs.close(); // the gateways write their recordings as they exit
            for (Server s : servers) {
                Path jfr = procs.dir().resolve(s.name().startsWith("serve (head over") ? "gateway-head.jfr"
                        : s.name().startsWith("serve (pinned") ? "gateway-pinned.jfr"
                        : s.name().endsWith("before") ? "gateway-before.jfr"
                        : "gateway-" + s.name().substring(s.name().lastIndexOf(' ') + 1) + ".jfr");
                if (Files.exists(jfr)) {
                    Tool.Result hot = Tool.run(Duration.ofSeconds(120), Path.of(System.getProperty("java.home"),
                            "bin", "jfr").toString(), "view", "--width", "160", "hot-methods", jfr.toString());
                    System.out.println("\n==== " + s.name() + ": JFR hot methods (" + jfr + ")\n" + hot.out());
                }
            }
        }
    }

    private static void startBaselines(List<Server> servers) throws Exception {
        int kit = BenchProcesses.freePort();
        Process memory = procs.spawn("nbdkit", List.of("nbdkit", "-f", "-i", "127.0.0.1", "-p", String.valueOf(kit),
                "memory", "1G"));
        procs.awaitPort(kit, memory, "nbdkit");
        servers.add(new Server("nbdkit memory", "nbd://127.0.0.1:" + kit, memory));
        // the same job as the gateway over a separate target, done in C: nbdkit's nbd plugin proxying nbdkit memory
        int proxy = BenchProcesses.freePort();
        Process nbdProxy = procs.spawn("nbdkit-nbd", List.of("nbdkit", "-f", "-i", "127.0.0.1", "-p",
                String.valueOf(proxy), "nbd", "uri=nbd://127.0.0.1:" + kit));
        procs.awaitPort(proxy, nbdProxy, "nbdkit-nbd");
        servers.add(new Server("nbdkit nbd proxy", "nbd://127.0.0.1:" + proxy, nbdProxy));
        Path shm = Path.of("/dev/shm/nvmpath-bench.img");
        Tool.run(Duration.ofSeconds(30), "truncate", "-s", "1G", shm.toString()).requireOk("truncate");
        int qn = BenchProcesses.freePort();
        procs.awaitPort(qn, procs.spawn("qemu-nbd", List.of("qemu-nbd", "-f", "raw", "-b", "127.0.0.1", "-p",
                String.valueOf(qn), "-t", "-e", "8", "--cache=none", "--aio=threads", shm.toString())), "qemu-nbd");
        servers.add(new Server("qemu-nbd /dev/shm", "nbd://127.0.0.1:" + qn));
        int demoNbd = BenchProcesses.freePort();
        Process demo = procs.spawn("serve-demo", List.of(Peers.launcher(), "serve", "--demo", "--nbd-listen",
                "127.0.0.1:" + demoNbd, "--http-listen", "off", "--state-file",
                procs.dir().resolve("demo.host").toString()));
        procs.awaitPort(demoNbd, demo, "serve-demo");
        Thread.sleep(2000); // the demo's paths connect after the listener is up
        servers.add(new Server("serve --demo (head, 2 paths)", "nbd://127.0.0.1:" + demoNbd
                + "/nqn.2026-11.io.nvmpath:demo/1", demo));
    }

    private static void run(List<Server> servers) throws Exception {
        for (Server s : servers) {
            fio(s, "prefill", "write", "1m", 8, false).requireOk("prefill " + s.name());
        }
        Map<String, Map<String, List<Double>>> all = new LinkedHashMap<>();
        Map<String, Map<String, List<Double>>> cpuAll = new LinkedHashMap<>();
        Map<String, Map<String, List<Double>>> sysAll = new LinkedHashMap<>();
        String[][] workloads = {{"4k randread qd32", "randread", "4k", "32"}, {"1M seqread qd8", "read", "1m", "8"}};
        for (int round = 0; round < ROUNDS; round++) {
            for (String[] w : workloads) {
                // odd rounds run the servers in reverse order: what runs before a server (another JVM still
                // compiling, say) must not always be the same
                List<Server> order = new ArrayList<>(servers);
                if (round % 2 == 1) {
                    java.util.Collections.reverse(order);
                }
                for (Server s : order) {
                    // the server's CPU over fio's measured 8 s: sampled when the 2 s ramp ends and when fio is done
                    java.util.concurrent.CompletableFuture<Tool.Result> run = java.util.concurrent.CompletableFuture
                            .supplyAsync(() -> {
                                try {
                                    return fio(s, w[0], w[1], w[2], Integer.parseInt(w[3]), true);
                                } catch (Exception e) {
                                    throw new java.util.concurrent.CompletionException(e);
                                }
                            });
                    Thread.sleep(2000); // fio's ramp_time: its numbers start here
                    double[] t0 = s.process() == null ? new double[] {Double.NaN, Double.NaN}
                            : BenchProcesses.cpuTimes(s.process());
                    Tool.Result r = run.join();
                    double[] t1 = s.process() == null ? new double[] {Double.NaN, Double.NaN}
                            : BenchProcesses.cpuTimes(s.process());
                    double cpu = t1[0] + t1[1] - t0[0] - t0[1];
                    double sysShare = (t1[1] - t0[1]) / cpu;
                    r.requireOk(w[0] + " " + s.name());
                    JsonNode job = JSON.readTree(r.out().substring(r.out().indexOf('{'))).get("jobs").get(0);
                    assertThat(job.get("error").asInt()).isZero();
                    double iops = job.get("read").get("iops").asDouble();
                    double mibs = job.get("read").get("bw_bytes").asDouble() / (1 << 20);
                    long ios = job.get("read").get("total_ios").asLong();
                    long bytes = job.get("read").get("io_bytes").asLong();
                    boolean seq = w[1].equals("read");
                    double v = seq ? mibs : iops;
                    // 4 KiB: µs of server CPU per I/O; 1 MiB: s of server CPU per GiB
                    double c = seq ? cpu / (bytes / (double) (1L << 30)) : cpu * 1e6 / ios;
                    all.computeIfAbsent(w[0], k -> new LinkedHashMap<>()).computeIfAbsent(s.name(),
                            k -> new ArrayList<>()).add(v);
                    cpuAll.computeIfAbsent(w[0], k -> new LinkedHashMap<>()).computeIfAbsent(s.name(),
                            k -> new ArrayList<>()).add(c);
                    sysAll.computeIfAbsent(w[0], k -> new LinkedHashMap<>()).computeIfAbsent(s.name(),
                            k -> new ArrayList<>()).add(sysShare);
                    System.out.printf(Locale.ROOT, "round %d %-18s %-30s %12.0f %s, CPU %.3f %s%n", round + 1, w[0],
                            s.name(), v, seq ? "MiB/s" : "IOPS", c, seq ? "s/GiB" : "µs/IO");
                }
            }
        }
        Map<String, Map<String, Double>> best = new LinkedHashMap<>();
        all.forEach((w, byServer) -> byServer.forEach((name, values) ->
                best.computeIfAbsent(w, k -> new LinkedHashMap<>()).put(name, median(values))));
        StringBuilder table = new StringBuilder("\nfio nbd engine, median of " + ROUNDS + " rounds (2 cores, every "
                + "server and fio on the same machine); CPU is the serving process's own (utime+stime over the measured"
                + " 8 s: for the gateway over a separate target, not the target's; for serve --demo, with its target);"
                + " kernel = the share of that CPU that is stime (socket copies, TCP, syscalls)\n");
        for (var w : best.entrySet()) {
            double base = w.getValue().getOrDefault("nbdkit memory", Double.NaN);
            double proxyBase = w.getValue().getOrDefault("nbdkit nbd proxy", Double.NaN);
            double head = w.getValue().get("serve (head over 2 paths)");
            boolean small = w.getKey().startsWith("4k");
            Map<String, List<Double>> cpus = cpuAll.get(w.getKey());
            double proxyCpu = cpus.containsKey("nbdkit nbd proxy") ? median(cpus.get("nbdkit nbd proxy")) : Double.NaN;
            table.append(String.format(Locale.ROOT, "%n%-18s %-30s %12s %10s %10s %10s %12s %10s %7s%n", w.getKey(),
                    "server", small ? "IOPS" : "MiB/s", "vs nbdkit", "vs proxy", "vs pinned",
                    small ? "CPU µs/IO" : "CPU s/GiB", "CPU vs proxy", "kernel"));
            for (var e : w.getValue().entrySet()) {
                double cpu = median(cpus.get(e.getKey()));
                double sys = median(sysAll.get(w.getKey()).get(e.getKey()));
                table.append(String.format(Locale.ROOT, "%-18s %-30s %12.0f %9.2fx %9.2fx %9.2fx %12.3f %9.2fx %6.0f%%%n",
                        "", e.getKey(), e.getValue(), e.getValue() / base, e.getValue() / proxyBase,
                        e.getValue() / w.getValue().get("serve (pinned to 1 path)"), cpu, cpu / proxyCpu, sys * 100));
            }
            List<Double> heads = all.get(w.getKey()).get("serve (head over 2 paths)");
            List<Double> pinned = all.get(w.getKey()).get("serve (pinned to 1 path)");
            List<String> perRound = new ArrayList<>();
            for (int i = 0; i < heads.size(); i++) {
                perRound.add(String.format(Locale.ROOT, "%.3f", heads.get(i) / pinned.get(i)));
            }
            table.append(String.format(Locale.ROOT, "%-18s head vs pinned: %.3fx (medians); per round %s%n", "",
                    head / w.getValue().get("serve (pinned to 1 path)"), perRound));
        }
        System.out.println(table);
    }

    private static double median(List<Double> values) {
        List<Double> v = new ArrayList<>(values);
        v.sort(null);
        int n = v.size();
        return n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2;
    }

    private static Tool.Result fio(Server s, String name, String rw, String bs, int depth, boolean timed)
            throws Exception {
        List<String> cmd = new ArrayList<>(List.of("fio", "--name=" + name.replace(' ', '-'), "--ioengine=nbd",
                "--uri=" + s.uri(), "--rw=" + rw, "--bs=" + bs, "--iodepth=" + depth, "--size=256m",
                "--output-format=json"));
        if (timed) {
            cmd.addAll(List.of("--time_based", "--ramp_time=2", "--runtime=8"));
        }
        return Tool.run(Duration.ofSeconds(120), cmd.toArray(String[]::new));
    }
}
