package io.nvmpath.it.guest;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * One QEMU guest booted by {@code it-tests/guest/run.sh}, running a payload script.
 *
 * <p>Host-side forward ports are chosen free at start (bound to 127.0.0.1, port 0), so guests
 * never depend on fixed host ports; the guest-side ports are fixed by the payload. The console
 * (run.sh's stdout and stderr) is written to {@code target/guest-logs/<name>.log} and kept in
 * memory for {@link #awaitLine}. {@link #close()} stops run.sh with SIGTERM (run.sh then kills
 * its QEMU by PID) and waits; processes that outlive that are killed by their PID.
 *
 * <pre>{@code
 * try (GuestVm vm = GuestVm.builder("demo", payload).hostForward(4420).start()) {
 *     vm.awaitLine("READY", Duration.ofSeconds(60));
 *     connect("127.0.0.1", vm.hostPort(4420));
 * }
 * }</pre>
 */
public final class GuestVm implements AutoCloseable {

    /** Printed by the guest's init once the kernel is up and the payload is about to start. */
    public static final String BOOTED_MARKER = "GUEST-BOOTED";
    /** QEMU's message when a host forward port cannot be bound (start() then retries). */
    private static final String HOSTFWD_BIND_ERROR = "Could not set up host forwarding rule";
    private static final Pattern SAFE_WORD = Pattern.compile("[^\\s'\"\\\\]+");
    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final int START_ATTEMPTS = 3;
    private static final Map<String, AtomicInteger> LOG_NAMES = new ConcurrentHashMap<>();

    private final String name;
    private final Path logFile;
    private final Map<Integer, Integer> hostPorts;
    private final Process process;
    private final List<ProcessHandle> descendants = new ArrayList<>();
    private final Object lock = new Object();
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;
    private final Thread shutdownHook;
    private final Instant started = Instant.now();
    private boolean eof;
    private volatile boolean closed;

    private GuestVm(String name, Path logFile, Map<Integer, Integer> hostPorts, Process process,
                    BufferedWriter log) {
        this.name = name;
        this.logFile = logFile;
        this.hostPorts = Map.copyOf(hostPorts);
        this.process = process;
        this.reader = Thread.ofPlatform().daemon().name("guest-console-" + name)
                .unstarted(() -> pump(log));
        this.shutdownHook = Thread.ofPlatform().name("guest-kill-" + name).unstarted(this::kill);
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        reader.start();
    }

    /** A builder for a guest named {@code name} (log file name) running {@code payload}. */
    public static Builder builder(String name, Path payload) {
        return new Builder(name, payload);
    }

    /** The name given to the builder (also the log file's base name). */
    public String name() {
        return name;
    }

    /** The console log file under {@code target/guest-logs}. */
    public Path logFile() {
        return logFile;
    }

    /** The host port (on 127.0.0.1) that QEMU forwards to {@code guestPort} in the guest. */
    public int hostPort(int guestPort) {
        Integer p = hostPorts.get(guestPort);
        if (p == null) {
            throw new IllegalArgumentException("guest port " + guestPort + " is not forwarded (forwarded: "
                    + hostPorts.keySet() + ")");
        }
        return p;
    }

    /** Guest port to host port, for every host forward. */
    public Map<Integer, Integer> hostPorts() {
        return hostPorts;
    }

    /**
     * Waits until a console line containing {@code marker} has been printed (lines printed
     * before the call count too) and returns that line.
     *
     * @throws GuestException when the guest ends first or the timeout passes; the message
     *                        holds the end of the console log
     */
    public String awaitLine(String marker, Duration timeout) {
        return awaitAnyLine(timeout, marker);
    }

    /** Like {@link #awaitLine(String, Duration)}, for the first line containing any of the markers. */
    public String awaitAnyLine(Duration timeout, String... markers) {
        return awaitAnyLine(0, timeout, markers);
    }

    /** Like {@link #awaitAnyLine(Duration, String...)}, looking only at lines from index {@code fromLine} on. */
    public String awaitAnyLine(int fromLine, Duration timeout, String... markers) {
        long deadline = System.nanoTime() + timeout.toNanos();
        int next = Math.max(0, fromLine);
        synchronized (lock) {
            while (true) {
                for (; next < lines.size(); next++) {
                    String line = lines.get(next);
                    for (String m : markers) {
                        if (line.contains(m)) {
                            return line;
                        }
                    }
                }
                if (eof) {
                    throw new GuestException("guest '" + name + "' ended (run.sh exit " + exitText()
                            + ") before printing " + String.join(" or ", markers) + tail());
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new GuestException("guest '" + name + "' did not print " + String.join(" or ", markers)
                            + " within " + timeout.toSeconds() + " s" + tail());
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(lock, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new GuestException("interrupted while waiting for " + String.join(" or ", markers), e);
                }
            }
        }
    }

    /** A copy of the console lines so far. */
    public List<String> lines() {
        synchronized (lock) {
            return List.copyOf(lines);
        }
    }

    /** The number of console lines so far (an index for {@link #awaitAnyLine(int, Duration, String...)}). */
    public int lineCount() {
        synchronized (lock) {
            return lines.size();
        }
    }

    /** Time since run.sh was started (the last attempt, if start() retried). */
    public Duration uptime() {
        return Duration.between(started, Instant.now());
    }

    /**
     * Freezes the whole VM (SIGSTOP to QEMU): the guest and QEMU's user-mode network stop, while
     * the host side of every forwarded TCP connection stays open. A silent path loss, as a pulled
     * cable or a hung target looks to a host.
     */
    public void freeze() {
        signalQemu("STOP");
    }

    /** Undoes {@link #freeze()}. */
    public void thaw() {
        signalQemu("CONT");
    }

    private void signalQemu(String signal) {
        ProcessHandle qemu = process.toHandle().descendants()
                .filter(p -> p.info().command().map(c -> c.contains("qemu-system")).orElse(false))
                .findFirst()
                .orElseThrow(() -> new GuestException(name + ": no QEMU process to signal"));
        try {
            Process kill = new ProcessBuilder("kill", "-" + signal, String.valueOf(qemu.pid()))
                    .redirectErrorStream(true).start();
            if (!kill.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) || kill.exitValue() != 0) {
                throw new GuestException(name + ": kill -" + signal + " " + qemu.pid() + " failed");
            }
        } catch (IOException e) {
            throw new GuestException(name + ": cannot signal QEMU", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GuestException(name + ": interrupted", e);
        }
    }

    /** Whether run.sh (and so the guest) is still running. */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** run.sh's exit code once it has ended: the payload's exit code, 124 timeout, 125 crash, 130 killed. */
    public OptionalInt exitCode() {
        return process.isAlive() ? OptionalInt.empty() : OptionalInt.of(process.exitValue());
    }

    /** Waits up to {@code timeout} for the guest to end by itself; returns the exit code if it did. */
    public OptionalInt waitFor(Duration timeout) {
        try {
            if (process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                reader.join(5_000);
                return OptionalInt.of(process.exitValue());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return OptionalInt.empty();
    }

    /**
     * Stops the guest if it still runs: SIGTERM to run.sh (which kills QEMU by its PID and exits
     * 130), then SIGKILL to whatever of run.sh's processes is left after 20 s. Waits for the
     * console to be drained into the log. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        kill();
        try {
            reader.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down; the hook runs anyway
        }
    }

    private void kill() {
        // snapshot first: once run.sh is gone, its children are no longer its descendants
        synchronized (descendants) {
            process.descendants().forEach(descendants::add);
        }
        if (process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(20, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
        }
        synchronized (descendants) {
            for (ProcessHandle h : descendants) {
                if (h.isAlive()) {
                    h.destroyForcibly();
                }
            }
        }
    }

    private String exitText() {
        return process.isAlive() ? "-" : String.valueOf(process.exitValue());
    }

    /** The last console lines, for error messages. */
    public String tail() {
        List<String> copy = lines();
        int from = Math.max(0, copy.size() - 40);
        return "\n--- last " + (copy.size() - from) + " console lines of " + logFile + " ---\n"
                + String.join("\n", copy.subList(from, copy.size()));
    }

    private void pump(BufferedWriter log) {
        try (BufferedReader in = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                try {
                    log.write(line);
                    log.newLine();
                    log.flush();
                } catch (IOException e) {
                    // keep the in-memory copy even if the log file fails
                }
                synchronized (lock) {
                    lines.add(line);
                    lock.notifyAll();
                }
            }
        } catch (IOException e) {
            synchronized (lock) {
                lines.add("[GuestVm] console read failed: " + e);
            }
        } finally {
            try {
                process.waitFor(30, TimeUnit.SECONDS);
                log.write("[GuestVm] run.sh exit " + exitText() + " after " + uptime().toMillis() + " ms");
                log.newLine();
                log.close();
            } catch (IOException | InterruptedException e) {
                // nothing left to report to
            }
            synchronized (lock) {
                eof = true;
                lock.notifyAll();
            }
        }
    }

    /** Builder; {@link #start()} boots the guest. */
    public static final class Builder {
        private final String name;
        private final Path payload;
        private final List<Path> guestFiles = new ArrayList<>();
        private final Map<String, String> env = new LinkedHashMap<>();
        private final List<Integer> hostForwards = new ArrayList<>();
        private final Map<Integer, Integer> guestForwards = new LinkedHashMap<>();
        private Duration hardTimeout = Duration.ofMinutes(15);
        private Duration bootTimeout = Duration.ofSeconds(120);
        private GuestFlavour flavour = GuestFlavour.BOOKWORM;
        private Path guestDir;
        private Path logDir;

        private Builder(String name, Path payload) {
            if (!name.matches("[A-Za-z0-9._-]+")) {
                throw new IllegalArgumentException("guest name must be [A-Za-z0-9._-]+: " + name);
            }
            this.name = name;
            this.payload = payload;
        }

        /** Copies a host file into the guest's {@code /payload/} (run.sh GUEST_FILES). */
        public Builder guestFile(Path file) {
            guestFiles.add(file.toAbsolutePath());
            return this;
        }

        /** Exports VAR=value in the guest before the payload runs (run.sh GUEST_ENV; no whitespace or quotes). */
        public Builder env(String var, String value) {
            if (!ENV_NAME.matcher(var).matches() || !SAFE_WORD.matcher(value).matches()) {
                throw new IllegalArgumentException("GUEST_ENV entries must be NAME=word: " + var + "=" + value);
            }
            env.put(var, value);
            return this;
        }

        /** Forwards a free host port on 127.0.0.1 to {@code guestPort} in the guest (see {@link #hostPort}). */
        public Builder hostForward(int guestPort) {
            checkPort(guestPort);
            if (!hostForwards.contains(guestPort)) {
                hostForwards.add(guestPort);
            }
            return this;
        }

        /**
         * Lets the guest reach host 127.0.0.1:{@code hostPort} by connecting to
         * 10.0.2.100:{@code guestPort} (run.sh GUESTFWD; QEMU runs socat per connection).
         */
        public Builder guestForward(int guestPort, int hostPort) {
            checkPort(guestPort);
            checkPort(hostPort);
            guestForwards.put(guestPort, hostPort);
            return this;
        }

        /** run.sh's hard timeout for the whole VM (GUEST_TIMEOUT), a safety net; default 15 min. */
        public Builder hardTimeout(Duration timeout) {
            this.hardTimeout = timeout;
            return this;
        }

        /** How long {@link #start()} waits for {@value GuestVm#BOOTED_MARKER}; default 120 s. */
        public Builder bootTimeout(Duration timeout) {
            this.bootTimeout = timeout;
            return this;
        }

        /** Which guest build to boot (run.sh's NVMP_GUEST_CACHE); default {@link GuestFlavour#BOOKWORM}. */
        public Builder flavour(GuestFlavour flavour) {
            this.flavour = Objects.requireNonNull(flavour, "flavour");
            return this;
        }

        /** The guest folder with run.sh; default {@link Peers#guestDir()}. */
        public Builder guestDir(Path dir) {
            this.guestDir = dir;
            return this;
        }

        /** Where the console log goes; default {@code <guest dir>/../target/guest-logs}. */
        public Builder logDir(Path dir) {
            this.logDir = dir;
            return this;
        }

        /**
         * Starts run.sh and waits until the guest kernel has booted ({@value GuestVm#BOOTED_MARKER}).
         * When QEMU cannot bind a chosen host port (another process took it in between), it
         * retries with new ports, up to 3 attempts.
         *
         * @throws GuestException when the guest does not boot; the message holds the console tail
         */
        public GuestVm start() throws IOException {
            Path dir = guestDir != null ? guestDir : Peers.guestDir();
            Path runSh = dir.resolve("run.sh");
            if (!Files.isRegularFile(runSh)) {
                throw new IllegalStateException("no run.sh in " + dir);
            }
            if (!Files.isRegularFile(payload)) {
                throw new IllegalArgumentException("no payload script " + payload);
            }
            for (Path f : guestFiles) {
                if (!Files.isRegularFile(f) || !SAFE_WORD.matcher(f.toString()).matches()) {
                    throw new IllegalArgumentException("GUEST_FILES: missing file or whitespace in path: " + f);
                }
            }
            Path logs = logDir != null ? logDir : dir.toAbsolutePath().getParent().resolve("target").resolve("guest-logs");
            Files.createDirectories(logs);
            int n = LOG_NAMES.computeIfAbsent(name, k -> new AtomicInteger()).incrementAndGet();
            Path logFile = logs.resolve(n == 1 ? name + ".log" : name + "-" + n + ".log");

            GuestException last = null;
            for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
                Map<Integer, Integer> ports = freePorts(hostForwards);
                GuestVm vm = launch(runSh, logFile, ports, attempt);
                try {
                    vm.awaitLine(BOOTED_MARKER, bootTimeout);
                    return vm;
                } catch (GuestException e) {
                    vm.close();
                    boolean portTaken = vm.lines().stream().anyMatch(l -> l.contains(HOSTFWD_BIND_ERROR));
                    if (!portTaken) {
                        throw e;
                    }
                    last = e;
                }
            }
            throw last;
        }

        private GuestVm launch(Path runSh, Path logFile, Map<Integer, Integer> ports, int attempt) throws IOException {
            ProcessBuilder pb = new ProcessBuilder("bash", runSh.toString(), payload.toAbsolutePath().toString());
            Map<String, String> e = pb.environment();
            for (String var : List.of("HOSTFWD", "GUESTFWD", "GUEST_FILES", "GUEST_ENV", "GUEST_LOG", "GUEST_APPEND")) {
                e.remove(var);
            }
            e.put("HOSTFWD", ports.entrySet().stream()
                    .map(p -> p.getValue() + ":" + p.getKey()).collect(Collectors.joining(" ")));
            e.put("GUESTFWD", guestForwards.entrySet().stream()
                    .map(p -> p.getKey() + ":" + p.getValue()).collect(Collectors.joining(" ")));
            e.put("GUEST_FILES", guestFiles.stream().map(Path::toString).collect(Collectors.joining(" ")));
            e.put("GUEST_ENV", env.entrySet().stream()
                    .map(kv -> kv.getKey() + "=" + kv.getValue()).collect(Collectors.joining(" ")));
            e.put("GUEST_TIMEOUT", Long.toString(Math.max(30, hardTimeout.toSeconds())));
            e.put("NVMP_GUEST_CACHE", flavour.cache().toString());
            pb.redirectErrorStream(true);
            pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            BufferedWriter log = Files.newBufferedWriter(logFile, StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, attempt == 1 ? StandardOpenOption.TRUNCATE_EXISTING : StandardOpenOption.APPEND);
            log.write("[GuestVm] " + Instant.now() + " attempt " + attempt + ": " + String.join(" ", pb.command())
                    + " NVMP_GUEST_CACHE=" + e.get("NVMP_GUEST_CACHE") + " HOSTFWD='" + e.get("HOSTFWD") + "' GUESTFWD='" + e.get("GUESTFWD") + "' GUEST_ENV='"
                    + e.get("GUEST_ENV") + "'");
            log.newLine();
            log.flush();
            Process process;
            try {
                process = pb.start();
            } catch (IOException ex) {
                log.close();
                throw ex;
            }
            return new GuestVm(name, logFile, ports, process, log);
        }

        /** One free 127.0.0.1 port per guest port; all probes are held open together so they differ. */
        private static Map<Integer, Integer> freePorts(List<Integer> guestPorts) throws IOException {
            Map<Integer, Integer> out = new LinkedHashMap<>();
            List<ServerSocket> held = new ArrayList<>();
            try {
                for (int g : guestPorts) {
                    ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                    held.add(s);
                    out.put(g, s.getLocalPort());
                }
            } finally {
                for (ServerSocket s : held) {
                    s.close();
                }
            }
            return out;
        }

        private static void checkPort(int port) {
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("bad port " + port);
            }
        }
    }

    /** A guest that did not do what was expected; the message carries the console tail. */
    public static final class GuestException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public GuestException(String message) {
            super(message);
        }

        public GuestException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
