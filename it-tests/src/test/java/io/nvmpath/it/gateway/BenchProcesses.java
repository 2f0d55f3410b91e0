package io.nvmpath.it.gateway;

import io.nvmpath.it.guest.Peers;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The processes a benchmark runs its peers in, and what /proc says of them: each process's output
 * goes to {@code NAME.log} in the benchmark's own directory, a start waits until it listens (with
 * the log in the failure if it exits first), and {@link #close} stops them all, SIGTERM then SIGKILL
 * after 20 s. {@link #cpuSeconds} and {@link #peakRssKib} read a process's own CPU time and peak
 * RSS, so a benchmark can charge a server with its own cost.
 */
final class BenchProcesses implements AutoCloseable {
    /** Clock ticks per second of /proc/PID/stat's utime and stime. */
    private static final double TICKS = 100.0;
    private static final long LISTEN_SECONDS = 60;

    /** A {@code bin/nvmpath target} process serving one subsystem on two ports. */
    record Target(Process process, int port1, int port2) {
    }

    private final Path dir;
    private final List<Process> processes = new ArrayList<>();

    /** A new temporary directory named after {@code prefix} holds the configurations and logs. */
    BenchProcesses(String prefix) throws IOException {
        this.dir = Files.createTempDirectory(prefix);
    }

    /** The directory of the configurations and logs. */
    Path dir() {
        return dir;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    Process spawn(String name, List<String> cmd) throws IOException {
        return spawn(name, cmd, Map.of());
    }

    /** Starts {@code cmd} with {@code env} added, its output in {@code NAME.log}; stopped by {@link #close}. */
    Process spawn(String name, List<String> cmd, Map<String, String> env) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".log").toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        processes.add(p);
        return p;
    }

    /** Returns once something listens on {@code port}; fails with {@code name}'s log if {@code p} exits first. */
    void awaitPort(int port, Process p, String name) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(LISTEN_SECONDS);
        while (System.nanoTime() - end < 0) {
            if (!p.isAlive()) {
                throw new AssertionError(name + " exited: " + Files.readString(dir.resolve(name + ".log")));
            }
            try (Socket s = new Socket("127.0.0.1", port)) {
                return;
            } catch (IOException e) {
                Thread.sleep(100);
            }
        }
        throw new AssertionError(name + " not listening on " + port);
    }

    /** {@code bin/nvmpath target} in its own process: subsystem {@code nqn}, a 1 GiB namespace, two ports. */
    Target target(String nqn) throws Exception {
        int t1 = freePort();
        int t2 = freePort();
        Path cfg = dir.resolve("target.yaml");
        Files.writeString(cfg, "subsystems:\n  - nqn: \"" + nqn + "\"\n    namespaces: [{nsid: 1, size: 1GiB}]\n"
                + "ports:\n  - {port: " + t1 + "}\n  - {port: " + t2 + "}\n");
        Process p = spawn("target", List.of(Peers.launcher(), "target", "--config", cfg.toString()));
        awaitPort(t1, p, "target");
        awaitPort(t2, p, "target");
        return new Target(p, t1, t2);
    }

    /** utime + stime of {@code p} in seconds (its own process: bin/nvmpath execs java, nbdkit runs with -f). */
    static double cpuSeconds(Process p) throws IOException {
        double[] t = cpuTimes(p);
        return t[0] + t[1];
    }

    /** {utime, stime} of {@code p} in seconds: time in the process's own code and in the kernel for it. */
    static double[] cpuTimes(Process p) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return new double[] {Long.parseLong(f[11]) / TICKS, Long.parseLong(f[12]) / TICKS}; // fields 14, 15 of stat(5)
    }

    /** The peak RSS of {@code p} (VmHWM) in KiB, since it started or since {@link #resetPeakRss}. */
    static long peakRssKib(Process p) throws IOException {
        return statusKib(p, "VmHWM");
    }

    /** Starts the peak RSS of {@code p} over from its RSS now (clear_refs 5, see proc(5)). */
    static void resetPeakRss(Process p) throws IOException {
        Files.writeString(Path.of("/proc", Long.toString(p.pid()), "clear_refs"), "5");
    }

    private static long statusKib(Process p, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(p.pid()), "status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        throw new IllegalStateException(field + " not in /proc/" + p.pid() + "/status");
    }

    /** Stops every process started here: SIGTERM, SIGKILL after 20 s. Again later stops those started since. */
    @Override
    public void close() throws InterruptedException {
        for (Process p : processes) {
            p.destroy();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        processes.clear();
    }
}
