package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.multipath.FailoverRecord;
import io.nvmpath.multipath.IoPolicy;
import io.nvmpath.multipath.MultipathOptions;
import io.nvmpath.server.bench.Bench;
import io.nvmpath.server.bench.BenchConfig;
import io.nvmpath.server.bench.BenchException;
import io.nvmpath.server.bench.BenchResult;
import io.nvmpath.server.bench.RwMode;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code nvmpath bench}: a closed-loop load (fio's options where it has them) through a namespace
 * head over one path per {@code -s}, or with {@code --single-path} through one controller, reporting
 * IOPS, bandwidth, latency quantiles, I/O per path, errors by status, failovers and the longest
 * completion stall. Exit 1 when any I/O failed or any block did not verify.
 */
@Command(name = "bench",
        description = {"Run a load through a namespace head (one path per -s) or, with --single-path, one "
                + "controller, and report IOPS, bandwidth, latency, I/O per path, errors, failovers and the "
                + "longest completion stall.",
                "Exit status 1 when an I/O failed or a block did not verify."})
final class BenchCommand extends CliCommand {
    /** After Ctrl-C, how long the JVM waits for the drain and the report. */
    private static final long INTERRUPT_REPORT_SECONDS = 30;

    @Option(names = {"-a", "--traddr"}, required = true, paramLabel = "ADDR",
            description = "Transport address of the NVMe/TCP ports (IP address or host name).")
    String traddr;

    @Option(names = {"-s", "--trsvcid"}, paramLabel = "PORT",
            description = "TCP port of one path; repeat for each path (default: 4420).")
    List<Integer> trsvcids = new ArrayList<>();

    @Option(names = {"-n", "--nqn"}, required = true, paramLabel = "SUBNQN", description = "Subsystem NQN.")
    String nqn;

    @Mixin
    HostOptions host;

    @Option(names = "--nsid", paramLabel = "NSID", defaultValue = "1", description = "Namespace ID (default: ${DEFAULT-VALUE}).")
    long nsid;

    @Option(names = "--rw", paramLabel = "MODE", defaultValue = "randread", converter = RwConverter.class,
            description = "read, write, randread, randwrite or randrw (default: ${DEFAULT-VALUE}).")
    RwMode rw;

    @Option(names = "--bs", paramLabel = "SIZE", defaultValue = "4k", converter = SizeConverter.class,
            description = "Bytes per I/O, k/m suffixes (default: ${DEFAULT-VALUE}).")
    long bs;

    @Option(names = "--iodepth", paramLabel = "N", defaultValue = "32",
            description = "I/Os kept in flight (default: ${DEFAULT-VALUE}).")
    int iodepth;

    @Option(names = "--runtime", paramLabel = "SECONDS", defaultValue = "10",
            description = "Length of the measured phase (default: ${DEFAULT-VALUE}).")
    double runtime;

    @Option(names = "--ramp-time", paramLabel = "SECONDS", defaultValue = "0",
            description = "Load before the measured phase, not counted (default: ${DEFAULT-VALUE}).")
    double rampTime;

    @Option(names = "--rwmixread", paramLabel = "PCT", defaultValue = "50",
            description = "Share of reads for randrw, in percent (default: ${DEFAULT-VALUE}).")
    int rwmixread;

    @Option(names = "--iopolicy", paramLabel = "POLICY", defaultValue = "numa", converter = IoPolicyConverter.class,
            description = "numa, first, round-robin, queue-depth or service-time (default: ${DEFAULT-VALUE}).")
    IoPolicy iopolicy;

    @Option(names = "--verify",
            description = "Write a pattern over the region first; check every block read (and, for modes that "
                    + "write, read the region back at the end).")
    boolean verify;

    @Option(names = "--single-path",
            description = "One controller on the first -s, no namespace head: the baseline.")
    boolean singlePath;

    @Option(names = "--size", paramLabel = "BYTES", converter = SizeConverter.class,
            description = "Region from LBA 0 the I/O covers, k/m/g suffixes (default: the namespace, at most 1g).")
    Long size;

    @Option(names = "--kato", paramLabel = "MS", defaultValue = "5000",
            description = "Keep-alive timeout in milliseconds (default: ${DEFAULT-VALUE}).")
    long katoMillis;

    @Option(names = "--reconnect-delay", paramLabel = "MS", defaultValue = "10000",
            description = "Delay between reconnect attempts in milliseconds (default: ${DEFAULT-VALUE}).")
    long reconnectDelayMillis;

    @Option(names = "--no-path-timeout", paramLabel = "MS", defaultValue = "30000",
            description = "How long I/O waits for a usable path in milliseconds (default: ${DEFAULT-VALUE}).")
    long noPathTimeoutMillis;

    @Option(names = "--threads", paramLabel = "N",
            description = "Event loops of the host (default: the number of CPUs, at least 2).")
    Integer threads;

    @Override
    void validate() {
        if (trsvcids.isEmpty()) {
            trsvcids.add(4420);
        }
        for (int p : trsvcids) {
            Usage.check(cmd(), p >= 1 && p <= 65535, "--trsvcid must be 1..65535, not " + p);
        }
        Usage.check(cmd(), !traddr.isBlank(), "--traddr is empty");
        Usage.check(cmd(), !nqn.isBlank(), "--nqn is empty");
        Usage.nsid(cmd(), nsid, false);
        Usage.check(cmd(), bs >= 512 && bs <= (32 << 20) && bs % 512 == 0,
                "--bs must be a multiple of 512 from 512 to 32m, not " + bs);
        Usage.check(cmd(), iodepth >= 1 && iodepth <= 4096, "--iodepth must be 1..4096, not " + iodepth);
        Usage.check(cmd(), runtime > 0 && runtime <= 86400, "--runtime must be more than 0 and at most 86400 s");
        Usage.check(cmd(), rampTime >= 0 && rampTime <= 86400, "--ramp-time must be 0..86400 s");
        Usage.check(cmd(), rwmixread >= 0 && rwmixread <= 100, "--rwmixread must be 0..100, not " + rwmixread);
        Usage.check(cmd(), size == null || size >= bs, "--size must hold at least one block of --bs " + bs);
        Usage.check(cmd(), katoMillis >= 0, "--kato must be 0 or more");
        Usage.check(cmd(), reconnectDelayMillis >= 0, "--reconnect-delay must be 0 or more");
        Usage.check(cmd(), noPathTimeoutMillis > 0, "--no-path-timeout must be positive");
        Usage.check(cmd(), threads == null || (threads >= 1 && threads <= 256), "--threads must be 1..256");
    }

    @Override
    void run() {
        ControllerOptions co = host.toControllerOptions().ioQueues(0)
                .keepAliveTimeout(Duration.ofMillis(katoMillis))
                .reconnectDelay(Duration.ofMillis(reconnectDelayMillis));
        MultipathOptions mo = MultipathOptions.defaults().withIoPolicy(iopolicy)
                .withNoPathTimeout(Duration.ofMillis(noPathTimeoutMillis)).withController(co);
        List<TransportAddress> portals = new ArrayList<>();
        for (int p : trsvcids) {
            portals.add(new TransportAddress(traddr, p));
        }
        BenchConfig.Builder b = BenchConfig.builder(nqn, portals).nsid((int) nsid).rw(rw).blockSize((int) bs)
                .ioDepth(iodepth).runtime(seconds(runtime)).rampTime(seconds(rampTime)).mixRead(rwmixread)
                .verify(verify).singlePath(singlePath).regionBytes(size == null ? 0 : size).multipath(mo);
        if (threads != null) {
            b.threads(threads);
        }
        BenchResult r;
        CountDownLatch printed = new CountDownLatch(1);
        try (Bench bench = Bench.start(b.build())) {
            // Ctrl-C ends the run early, as with fio: the numbers so far are still printed
            Thread hook = new Thread(() -> {
                bench.stop();
                try {
                    printed.await(INTERRUPT_REPORT_SECONDS, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "nvmpath-bench-interrupt");
            Runtime.getRuntime().addShutdownHook(hook);
            try {
                r = bench.await();
                print(report(r));
            } finally {
                printed.countDown();
                removeHook(hook);
            }
        } catch (BenchException e) {
            throw new Failures.CliException(e.getMessage(), e);
        }
        if (!r.passed()) {
            throw new Failures.CliException(r.errorCount() + " I/O error(s), " + r.verifyErrors() + " verify error(s)"
                    + (r.firstVerifyError() == null ? "" : "; first: " + r.firstVerifyError()));
        }
    }

    private static void removeHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down: the hook is running
        }
    }

    private static Duration seconds(double s) {
        return Duration.ofNanos((long) (s * 1e9));
    }

    /** The result as a table for a person and as one JSON document. */
    static Report report(BenchResult r) {
        BenchConfig c = r.config();
        String nl = System.lineSeparator();
        ObjectNode json = Report.object();
        ObjectNode cfg = json.putObject("config");
        cfg.put("traddr", c.portals().get(0).traddr());
        ArrayNode ports = cfg.putArray("trsvcid");
        c.portals().forEach(p -> ports.add(p.trsvcid()));
        cfg.put("nqn", c.nqn());
        cfg.put("nsid", c.nsid() & 0xFFFFFFFFL);
        cfg.put("rw", c.rw().label());
        cfg.put("bs", c.blockSize());
        cfg.put("iodepth", c.ioDepth());
        cfg.put("runtime", c.runtime().toMillis() / 1e3);
        cfg.put("rampTime", c.rampTime().toMillis() / 1e3);
        if (c.rw() == RwMode.RANDRW) {
            cfg.put("rwmixread", c.mixRead());
        }
        cfg.put("iopolicy", c.singlePath() ? null : c.ioPolicy().label());
        cfg.put("verify", c.verify());
        cfg.put("singlePath", c.singlePath());
        cfg.put("size", r.regionBytes());
        cfg.put("lbaSize", r.lbaSize());
        cfg.put("katoMs", c.controller().keepAliveTimeout().toMillis());
        cfg.put("reconnectDelayMs", c.controller().reconnectDelay().toMillis());
        cfg.put("threads", c.threads());
        if (c.verify()) {
            cfg.put("seed", c.seed());
        }
        json.put("seconds", round(r.seconds(), 3));
        json.put("iops", round(r.iops(), 1));
        json.put("bandwidthMiBps", round(r.bandwidthMiBps(), 2));
        ObjectNode lat = json.putObject("latencyUs");
        lat.put("p50", round(r.latencyUs().p50(), 1));
        lat.put("p99", round(r.latencyUs().p99(), 1));
        lat.put("p999", round(r.latencyUs().p999(), 1));
        lat.put("max", round(r.latencyUs().max(), 1));
        lat.put("mean", round(r.latencyUs().mean(), 1));
        json.put("ios", r.ios());
        json.put("bytes", r.bytes());
        ObjectNode errors = json.putObject("errors");
        r.errors().forEach(errors::put);
        json.put("verifyErrors", r.verifyErrors());
        if (r.firstVerifyError() != null) {
            json.put("firstVerifyError", r.firstVerifyError());
        }
        ObjectNode perPath = json.putObject("perPath");
        r.perPath().forEach(perPath::put);
        ObjectNode paths = json.putObject("paths");
        r.paths().forEach(paths::put);
        json.put("maxStallMs", round(r.maxStallMs(), 3));
        if (r.head() != null) {
            json.put("failovers", r.head().failovers());
            json.put("retries", r.head().retries());
            json.set("failoverEvents", Report.MAPPER.valueToTree(r.head().events()));
            json.put("noPathWaits", r.head().noPathWaits());
            json.put("noPathFailures", r.head().noPathFailures());
        }

        StringBuilder t = new StringBuilder();
        t.append(String.format(Locale.ROOT, "bench: %s, %s blocks, iodepth %d, %.1f s on namespace %d of %s%n",
                c.rw().label(), size(c.blockSize()), c.ioDepth(), r.seconds(), c.nsid() & 0xFFFFFFFFL, c.nqn()));
        line(t, "paths", c.singlePath() ? "single path (one controller, no head)"
                : "namespace head, iopolicy " + c.ioPolicy().label() + ", " + r.paths().size() + " path(s)");
        line(t, "region", size(r.regionBytes()) + " from LBA 0 (" + r.lbaSize() + " B blocks)"
                + (c.verify() ? ", verified" : ""));
        line(t, "iops", String.format(Locale.ROOT, "%.0f", r.iops()));
        line(t, "bandwidth", String.format(Locale.ROOT, "%.1f MiB/s", r.bandwidthMiBps()));
        line(t, "latency", String.format(Locale.ROOT, "p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us",
                r.latencyUs().p50(), r.latencyUs().p99(), r.latencyUs().p999(), r.latencyUs().max()));
        line(t, "ios", Long.toString(r.ios()));
        line(t, "errors", Long.toString(r.errorCount()));
        for (Map.Entry<String, Long> e : r.errors().entrySet()) {
            t.append(String.format(Locale.ROOT, "    %-40s %d%n", e.getKey(), e.getValue()));
        }
        line(t, "verify errors", c.verify() ? r.verifyErrors() + (r.firstVerifyError() == null ? ""
                : " (first: " + r.firstVerifyError() + ")") : "off");
        line(t, "max stall", String.format(Locale.ROOT, "%.1f ms", r.maxStallMs()));
        if (r.head() != null) {
            line(t, "failovers", r.head().failovers() + " (retries " + r.head().retries() + ", waited for a path "
                    + r.head().noPathWaits() + ", failed for want of one " + r.head().noPathFailures() + ")");
            for (FailoverRecord f : r.head().events()) {
                t.append(String.format(Locale.ROOT, "    %-22s %s -> %s, stall %s, %d reads, %d writes%s%n", f.cause(),
                        f.from(), f.to() == null ? "no path" : f.to(),
                        f.stallMillis() < 0 ? "-" : f.stallMillis() + " ms", f.reads(), f.writes(),
                        f.fenced() == 0 ? "" : " (" + f.fenced() + " fenced, released by " + f.fenceMethod() + " after "
                                + f.fenceWaitMillis() + " ms)"));
            }
        }
        t.append("per path:").append(nl);
        for (Map.Entry<String, Long> e : r.perPath().entrySet()) {
            double share = r.ios() == 0 ? 0 : 100.0 * e.getValue() / r.ios();
            String state = r.paths().get(e.getKey());
            t.append(String.format(Locale.ROOT, "    %-24s %12d  %5.1f%%%s%n", e.getKey(), e.getValue(), share,
                    state == null ? "" : "  " + state));
        }
        return new Report(json, t.toString());
    }

    private static void line(StringBuilder t, String name, String value) {
        t.append(String.format(Locale.ROOT, "%-14s: %s%n", name, value));
    }

    private static double round(double v, int digits) {
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }

    /** 4096 as "4 KiB", 1073741824 as "1 GiB", 1536 as "1536 B". */
    static String size(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int u = 0;
        long v = bytes;
        while (u < units.length - 1 && v >= 1024 && v % 1024 == 0) {
            v /= 1024;
            u++;
        }
        return v + " " + units[u];
    }

    /** Sizes as fio writes them: 4096, 4k, 128K, 1m, 1g (powers of 1024), with an optional "b" or "ib". */
    static final class SizeConverter implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            String s = value.trim().toLowerCase(Locale.ROOT);
            if (s.endsWith("ib")) {
                s = s.substring(0, s.length() - 2);
            } else if (s.endsWith("b")) {
                s = s.substring(0, s.length() - 1);
            }
            int shift = 0;
            if (!s.isEmpty()) {
                switch (s.charAt(s.length() - 1)) {
                    case 'k' -> shift = 10;
                    case 'm' -> shift = 20;
                    case 'g' -> shift = 30;
                    case 't' -> shift = 40;
                    default -> shift = -1;
                }
                if (shift >= 0) {
                    s = s.substring(0, s.length() - 1);
                } else {
                    shift = 0;
                }
            }
            try {
                long n = Long.parseLong(s);
                if (n <= 0 || n > (Long.MAX_VALUE >> shift)) {
                    throw new NumberFormatException();
                }
                return n << shift;
            } catch (NumberFormatException e) {
                throw new TypeConversionException("'" + value + "' is not a size (e.g. 4096, 4k, 1m, 1g)");
            }
        }
    }

    static final class RwConverter implements ITypeConverter<RwMode> {
        @Override
        public RwMode convert(String value) {
            try {
                return RwMode.fromLabel(value);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    static final class IoPolicyConverter implements ITypeConverter<IoPolicy> {
        @Override
        public IoPolicy convert(String value) {
            try {
                return IoPolicy.fromLabel(value);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }
}
