package io.nvmpath.it.guest;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Linux kernel NVMe/TCP host (nvme_tcp, {@code nvme_core multipath=Y}) in a QEMU guest,
 * driven by shell commands over a control channel.
 *
 * <p>The guest runs {@code guest/scripts/kernel-host.sh}: it loads the modules, sets the fixed
 * host identity {@link #HOST_NQN} / {@link #HOST_ID} and prints {@value #READY_MARKER}. Targets
 * on the host are reached through QEMU guest forwards: {@code start(name, Map.of(4420, hostPort))}
 * makes a connect to {@link #targetAddress()}:4420 in the guest land on 127.0.0.1:hostPort on the
 * host (QEMU runs socat per connection). Control commands go over one TCP connection that the
 * guest opens to 10.0.2.100:{@value #CONTROL_GUEST_PORT}, joined to a server socket of this class
 * on an ephemeral 127.0.0.1 port, as for {@link NvmetGuest}. Every command has its own timeout,
 * which the guest enforces (it kills the command and still answers), so a hung command does not
 * break the channel.
 *
 * <pre>{@code
 * try (KernelHostGuest h = KernelHostGuest.start("my-test", Map.of(4420, target.port()))) {
 *     h.nvmeConnect(4420, "nqn.2026-11.test:sub1");
 *     KernelHostGuest.Result r = h.sh("cat /sys/class/nvme/nvme0/state", Duration.ofSeconds(10));
 * }
 * }</pre>
 */
public final class KernelHostGuest implements AutoCloseable {

    /** Console line printed when the modules are loaded and the host identity is set. */
    public static final String READY_MARKER = "KERNEL-HOST-READY";
    /** Console line printed when the set-up failed (the guest then exits 1). */
    public static final String FAILED_MARKER = "KERNEL-HOST-FAILED";
    /** The (virtual) port the guest connects to for the control channel, on 10.0.2.100. */
    public static final int CONTROL_GUEST_PORT = 4500;
    /** The guest-side address of every guest forward (run.sh GUESTFWD_ADDR). */
    public static final String TARGET_ADDRESS = "10.0.2.100";
    /** The guest's fixed host NQN (written to /etc/nvme/hostnqn; kernel-host.sh's default). */
    public static final String HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:6e766d70-686f-4000-8000-000000000001";
    /** The guest's fixed host ID (written to /etc/nvme/hostid). */
    public static final String HOST_ID = "6e766d70-686f-4000-8000-000000000001";
    /** Default for {@link #start}: time from launch to the control connection. */
    public static final Duration READY_TIMEOUT = Duration.ofSeconds(120);
    /** Timeout of the convenience commands (nvme connect, discover, list-subsys, sysfs reads). */
    public static final Duration NVME_TIMEOUT = Duration.ofSeconds(90);
    /** Extra time the Java side allows beyond a command's own timeout before it gives up on the channel. */
    private static final Duration CHANNEL_MARGIN = Duration.ofSeconds(30);
    private static final String HELLO = "HELLO kernel-host token=";
    private static final String OUTPUT_PREFIX = "| ";
    private static final Pattern JOB_NAME = Pattern.compile("[A-Za-z0-9._-]+");
    private static final Pattern TRSVCID = Pattern.compile("trsvcid=(\\d+)");

    /** A command's exit code and its output (stdout and stderr interleaved, lines joined with '\n'). */
    public record Result(int rc, String output) {

        public boolean ok() {
            return rc == 0;
        }

        public List<String> lines() {
            return output.isEmpty() ? List.of() : List.of(output.split("\n", -1));
        }

        /** This result when rc is 0; else a {@link GuestVm.GuestException} naming {@code what} and the output. */
        public Result requireOk(String what) {
            if (rc != 0) {
                throw new GuestVm.GuestException(what + " failed with exit code " + rc + ":\n" + output);
            }
            return this;
        }
    }

    /** A command (or a wait for a job) that did not end within its timeout; the channel stays usable. */
    public static final class CommandTimeoutException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final String partialOutput;

        CommandTimeoutException(String message, String partialOutput) {
            super(message + (partialOutput.isEmpty() ? " (no output)" : "; output so far:\n" + partialOutput));
            this.partialOutput = partialOutput;
        }

        public String partialOutput() {
            return partialOutput;
        }
    }

    private final GuestVm vm;
    private final Map<Integer, Integer> forwards;
    /** Where the guest connects its control channel, open while it runs: the guest reconnects after a loss. */
    private final ServerSocket server;
    private final String token;
    private Socket control;
    private BufferedReader in;
    private OutputStream out;
    private final Duration readyAfter;
    private boolean broken;
    private boolean closed;

    private KernelHostGuest(GuestVm vm, Map<Integer, Integer> forwards, ServerSocket server, String token,
                            Socket control, Duration readyAfter) throws IOException {
        this.vm = vm;
        this.forwards = Map.copyOf(forwards);
        this.server = server;
        this.token = token;
        this.readyAfter = readyAfter;
        attach(control);
    }

    private void attach(Socket s) throws IOException {
        this.control = s;
        this.in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
        this.out = s.getOutputStream();
    }

    /** Starts a kernel-host guest; {@code name} names the console log file. Waits up to 120 s. */
    public static KernelHostGuest start(String name, Map<Integer, Integer> guestPortToHostPort) throws IOException {
        return start(name, guestPortToHostPort, READY_TIMEOUT);
    }

    /**
     * Boots the guest, waits for {@value #READY_MARKER} and for the guest's control connection.
     *
     * @param guestPortToHostPort guest port on {@link #TARGET_ADDRESS} -> host port on 127.0.0.1
     *                            (e.g. 4420 -> the target's ephemeral port); must not use
     *                            {@value #CONTROL_GUEST_PORT}
     * @throws GuestVm.GuestException when the guest is not ready within {@code readyTimeout}
     */
    public static KernelHostGuest start(String name, Map<Integer, Integer> guestPortToHostPort, Duration readyTimeout)
            throws IOException {
        return start(name, guestPortToHostPort, readyTimeout, GuestFlavour.BOOKWORM);
    }

    /** {@link #start(String, Map, Duration)} with a guest of {@code flavour} (its kernel and user space). */
    public static KernelHostGuest start(String name, Map<Integer, Integer> guestPortToHostPort, Duration readyTimeout,
                                        GuestFlavour flavour) throws IOException {
        if (guestPortToHostPort.containsKey(CONTROL_GUEST_PORT)) {
            throw new IllegalArgumentException("guest port " + CONTROL_GUEST_PORT + " is the control channel's");
        }
        Path dir = Peers.guestDir();
        long t0 = System.nanoTime();
        long deadline = t0 + readyTimeout.toNanos();
        byte[] nonce = new byte[8];
        new SecureRandom().nextBytes(nonce);
        String token = HexFormat.of().formatHex(nonce);
        ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
        GuestVm vm = null;
        try {
            GuestVm.Builder b = GuestVm.builder(name, dir.resolve("scripts").resolve("kernel-host.sh"))
                    .guestDir(dir)
                    .flavour(flavour)
                    .env("CONTROL_PORT", Integer.toString(CONTROL_GUEST_PORT))
                    .env("CONTROL_TOKEN", token)
                    .env("HOST_NQN", HOST_NQN)
                    .env("HOST_ID", HOST_ID)
                    .guestForward(CONTROL_GUEST_PORT, server.getLocalPort())
                    .bootTimeout(readyTimeout);
            new TreeMap<>(guestPortToHostPort).forEach(b::guestForward);
            vm = b.start();
            String line = vm.awaitAnyLine(GuestControl.remaining(deadline), READY_MARKER, FAILED_MARKER);
            if (line.contains(FAILED_MARKER)) {
                throw new GuestVm.GuestException("kernel host set-up failed in the guest" + vm.tail());
            }
            Socket control = GuestControl.accept(server, HELLO + token, deadline, vm);
            Duration readyAfter = Duration.ofNanos(System.nanoTime() - t0);
            return new KernelHostGuest(vm, guestPortToHostPort, server, token, control, readyAfter);
        } catch (IOException | RuntimeException e) {
            if (vm != null) {
                vm.close();
            }
            server.close();
            throw e;
        }
    }

    /** The address of every target in the guest: {@value #TARGET_ADDRESS}. */
    public String targetAddress() {
        return TARGET_ADDRESS;
    }

    /** Guest port -> host port, as given to {@link #start}. */
    public Map<Integer, Integer> forwards() {
        return forwards;
    }

    /** The underlying VM (console lines, log file). */
    public GuestVm vm() {
        return vm;
    }

    /** Time from launch to the control connection. */
    public Duration readyAfter() {
        return readyAfter;
    }

    // ------------------------------------------------------------------ commands

    /**
     * Runs {@code cmd} with {@code sh -c} in the guest (stdin /dev/null) and returns its exit
     * code and output (stdout and stderr together).
     *
     * @throws CommandTimeoutException when it runs longer than {@code timeout}; the guest has
     *                                 then killed its process group, and the channel is usable
     */
    public Result sh(String cmd, Duration timeout) {
        return call("sh -t " + seconds(timeout) + " " + cmd, timeout);
    }

    /** {@link #sh} that throws a {@link GuestVm.GuestException} with the output unless rc is 0; returns the output. */
    public String shOk(String cmd, Duration timeout) {
        return sh(cmd, timeout).requireOk(cmd).output();
    }

    /** Starts {@code cmd} in the background as job {@code name} (output to /tmp/jobs/NAME.log in the guest). */
    public void bg(String name, String cmd) {
        checkJobName(name);
        String ok = okCall("bg " + name + " " + cmd);
        if (!ok.startsWith("bg " + name)) {
            throw new GuestVm.GuestException("unexpected answer to bg: OK " + ok);
        }
    }

    /**
     * Waits for job {@code name} to end and returns its exit code and output.
     *
     * @throws CommandTimeoutException when it has not ended within {@code timeout}; the job keeps
     *                                 running (await it again, or {@link #kill} it)
     */
    public Result await(String name, Duration timeout) {
        checkJobName(name);
        return call("wait " + name + " " + seconds(timeout), timeout);
    }

    /** SIGKILL to job {@code name}'s process group; {@link #await} then returns rc 137. */
    public void kill(String name) {
        checkJobName(name);
        okCall("kill " + name);
    }

    /** A round trip on the control channel. */
    public void ping() {
        okCall("ping");
    }

    // ------------------------------------------------------------------ nvme conveniences

    /**
     * {@code nvme connect -t tcp -a 10.0.2.100 -s GUESTPORT -n NQN EXTRA...}. A failed connect
     * gives rc != 0 (not an exception); the output then holds nvme-cli's message and the kernel's
     * messages from the attempt ("dmesg: ..." lines, see {@link #withKernelLog}).
     */
    public Result nvmeConnect(int guestPort, String nqn, String... extraArgs) {
        return sh(withKernelLog(nvme("connect", guestPort, "-n", nqn, extraArgs)), NVME_TIMEOUT);
    }

    /** {@code nvme discover -t tcp -a 10.0.2.100 -s GUESTPORT EXTRA...} (e.g. "-o", "json"). */
    public Result nvmeDiscover(int guestPort, String... extraArgs) {
        return sh(withKernelLog(nvme("discover", guestPort, null, null, extraArgs)), NVME_TIMEOUT);
    }

    /**
     * {@code cmd}, and when it fails, the kernel messages logged while it ran, each as a line
     * "dmesg: ..." after its output. nvme-cli reports a refused connect only as "could not add
     * new controller: failed to write to nvme-fabrics device"; the reason is in the kernel log.
     */
    static String withKernelLog(String cmd) {
        return "m=kernel-host-mark-$$-$RANDOM; echo \"$m\" > /dev/kmsg; " + cmd + "; rc=$?;"
                + " [ $rc -eq 0 ] || dmesg | sed -n \"/$m/,\\$p\" | grep -v \"$m\" | sed 's/^/dmesg: /'; exit $rc";
    }

    /**
     * {@code nvme list-subsys DEV}, e.g. "/dev/nvme0n1". nvme-cli 2.3 prints the paths' ANA
     * states only when given a namespace device; {@code null} lists all subsystems without them.
     */
    public Result listSubsys(String device) {
        return sh(device == null ? "nvme list-subsys" : "nvme list-subsys " + quote(device), NVME_TIMEOUT);
    }

    /** {@code nvme disconnect-all}. */
    public Result disconnectAll() {
        return sh("nvme disconnect-all", NVME_TIMEOUT);
    }

    /**
     * The ANA state of every path: path device name (e.g. "nvme0c1n1", from
     * /sys/class/nvme/nvme1/nvme0c1n1/ana_state) -> state ("optimized", "non-optimized",
     * "inaccessible", ...). Sorted by name; empty when nothing is connected.
     */
    public Map<String, String> anaStates() {
        return sysfsMap("for f in /sys/class/nvme/*/nvme*c*n*/ana_state; do [ -r \"$f\" ] || continue;"
                + " p=${f%/ana_state}; echo \"${p##*/} $(cat \"$f\")\"; done");
    }

    /** Reads completed per path device (field 1 of /sys/block/nvmeXcYnZ/stat), e.g. "nvme0c0n1" -> 1234. */
    public Map<String, Long> readsPerPath() {
        Map<String, Long> m = new TreeMap<>();
        sysfsMap("for f in /sys/block/nvme*c*n*/stat; do [ -r \"$f\" ] || continue;"
                + " p=${f%/stat}; echo \"${p##*/} $(awk '{print $1}' \"$f\")\"; done")
                .forEach((k, v) -> m.put(k, Long.parseLong(v.trim())));
        return m;
    }

    /** Completed I/O (reads + writes, fields 1 and 5 of the block stat) per path device ("nvme0c1n1"). */
    public Map<String, Long> iosPerPath() {
        Map<String, Long> m = new TreeMap<>();
        sysfsMap("for f in /sys/block/nvme*c*n*/stat; do [ -r \"$f\" ] || continue;"
                + " p=${f%/stat}; echo \"${p##*/} $(awk '{print $1 + $5}' \"$f\")\"; done")
                .forEach((k, v) -> m.put(k, Long.parseLong(v.trim())));
        return m;
    }

    /**
     * Waits until path device {@code path} has completed at least {@code atLeast} I/Os, sampling once per
     * control round trip; fails naming {@code what} after 60 s.
     */
    public void awaitIos(String path, long atLeast, String what) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (iosPerPath().getOrDefault(path, 0L) < atLeast) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no " + what + " within 60 s (" + path + " below " + atLeast + " I/Os): "
                        + iosPerPath());
            }
            ping();
        }
    }

    /**
     * One path of a multipath namespace, from sysfs: the path device (e.g. "nvme0c1n1" = subsystem
     * 0, controller 1, namespace 1), its controller ("nvme1"), the controller's state ("live",
     * "connecting", ...) and address ("traddr=10.0.2.100,trsvcid=4421,src_addr=10.0.2.15"), the
     * namespace's ANA group ID and the path's ANA state.
     */
    public record PathInfo(String path, String controller, String controllerState, String address,
                           int anaGroup, String anaState) {

        /** The namespace ID (the number after the last 'n' of the path device). */
        public int nsid() {
            return Integer.parseInt(path.substring(path.lastIndexOf('n') + 1));
        }

        /** The guest port of the controller's connection (trsvcid in its address), or -1. */
        public int guestPort() {
            Matcher m = TRSVCID.matcher(address);
            return m.find() ? Integer.parseInt(m.group(1)) : -1;
        }
    }

    /** Every path of every multipath namespace (see {@link PathInfo}), sorted by path device name. */
    public List<PathInfo> paths() {
        Result r = sh("for p in /sys/class/nvme/*/nvme*c*n*; do [ -r \"$p/ana_state\" ] || continue;"
                + " c=${p%/*}; echo \"${p##*/} ${c##*/} $(cat \"$c/state\") $(cat \"$p/ana_grpid\")"
                + " $(cat \"$p/ana_state\") $(cat \"$c/address\")\"; done", NVME_TIMEOUT).requireOk("reading sysfs");
        List<PathInfo> out = new ArrayList<>();
        for (String line : r.lines()) {
            String[] f = line.trim().split("\\s+", 6);
            if (f.length >= 5) {
                out.add(new PathInfo(f[0], f[1], f[2], f.length > 5 ? f[5] : "", Integer.parseInt(f[3]), f[4]));
            }
        }
        out.sort(Comparator.comparing(PathInfo::path));
        return out;
    }

    /**
     * Polls {@link #paths()} (every 200 ms) until {@code condition} holds and returns the paths
     * that satisfied it. {@code nvme connect} returns before the kernel has scanned the new
     * controller's namespaces, so a test waits for the paths it expects with this.
     *
     * @throws GuestVm.GuestException when the condition does not hold within {@code timeout};
     *                                the message holds the last paths seen
     */
    public List<PathInfo> awaitPaths(Predicate<List<PathInfo>> condition, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<PathInfo> p = paths();
            if (condition.test(p)) {
                return p;
            }
            if (System.nanoTime() > deadline) {
                throw new GuestVm.GuestException("paths did not reach the expected state within "
                        + timeout.toSeconds() + " s; last seen: " + p);
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new GuestVm.GuestException("interrupted while waiting for paths", e);
            }
        }
    }

    /**
     * Every NVMe controller: name (e.g. "nvme1") -> "STATE ADDRESS" from sysfs, e.g.
     * "live traddr=10.0.2.100,trsvcid=4421,src_addr=10.0.2.15".
     */
    public Map<String, String> controllers() {
        return sysfsMap("for c in /sys/class/nvme/nvme*; do [ -r \"$c/state\" ] || continue;"
                + " echo \"${c##*/} $(cat \"$c/state\") $(cat \"$c/address\" 2>/dev/null)\"; done");
    }

    private Map<String, String> sysfsMap(String script) {
        Result r = sh(script, NVME_TIMEOUT).requireOk("reading sysfs");
        Map<String, String> m = new TreeMap<>();
        for (String line : r.lines()) {
            int sp = line.indexOf(' ');
            if (sp > 0) {
                m.put(line.substring(0, sp), line.substring(sp + 1).trim());
            }
        }
        return m;
    }

    private String nvme(String verb, int guestPort, String opt, String value, String... extraArgs) {
        StringBuilder sb = new StringBuilder("nvme ").append(verb).append(" -t tcp -a ").append(TARGET_ADDRESS)
                .append(" -s ").append(guestPort);
        if (opt != null) {
            sb.append(' ').append(opt).append(' ').append(quote(value));
        }
        for (String a : extraArgs) {
            sb.append(' ').append(quote(a));
        }
        return sb.toString();
    }

    /** {@code s} as one shell word (single-quoted unless it is plainly safe). */
    public static String quote(String s) {
        if (!s.isEmpty() && s.matches("[A-Za-z0-9_./:=,@%+-]+")) {
            return s;
        }
        return "'" + s.replace("'", "'\\''") + "'";
    }

    private static long seconds(Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive: " + timeout);
        }
        return Math.max(1, (timeout.toMillis() + 999) / 1000);
    }

    private static void checkJobName(String name) {
        if (!JOB_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("job name must be [A-Za-z0-9._-]+: " + name);
        }
    }

    // ------------------------------------------------------------------ channel

    private record Answer(List<String> output, String last) {
        String text() {
            return String.join("\n", output);
        }
    }

    /** A command answered by "RC n" (or "TIMEOUT s", thrown as {@link CommandTimeoutException}). */
    private Result call(String line, Duration timeout) {
        Answer a = exchange(line, timeout.plus(CHANNEL_MARGIN));
        if (a.last().startsWith("RC ")) {
            try {
                return new Result(Integer.parseInt(a.last().substring(3).trim()), a.text());
            } catch (NumberFormatException e) {
                broken = true;
                throw new GuestVm.GuestException("unexpected answer to '" + line + "': " + a.last());
            }
        }
        if (a.last().startsWith("TIMEOUT")) {
            throw new CommandTimeoutException("'" + line + "' did not end within " + timeout.toSeconds() + " s",
                    a.text());
        }
        throw refusal(line, a);
    }

    /** A command answered by "OK ..."; returns the text after OK. */
    private String okCall(String line) {
        Answer a = exchange(line, CHANNEL_MARGIN);
        if (a.last().equals("OK") || a.last().startsWith("OK ")) {
            return a.last().substring(2).trim();
        }
        throw refusal(line, a);
    }

    private GuestVm.GuestException refusal(String line, Answer a) {
        if (a.last().startsWith("ERR")) {
            return new GuestVm.GuestException("guest refused '" + line + "': " + a.last().substring(3).trim());
        }
        broken = true;
        return new GuestVm.GuestException("unexpected answer to '" + line + "': " + a.last());
    }

    /**
     * Sends one command line and reads its answer: "| " output lines, then one final line.
     * After a socket timeout or a lost channel every later command fails at once (answers
     * could no longer be matched).
     */
    private synchronized Answer exchange(String line, Duration socketTimeout) {
        if (line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0) {
            throw new IllegalArgumentException("one line only: " + line);
        }
        if (closed || broken) {
            throw new GuestVm.GuestException("control channel is " + (closed ? "closed" : "broken") + "; cannot send: " + line);
        }
        List<String> output = new ArrayList<>();
        try {
            control.setSoTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, socketTimeout.toMillis())));
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            while (true) {
                String answer = in.readLine();
                if (answer == null) {
                    broken = true;
                    throw new GuestVm.GuestException("control channel closed by the guest on '" + line + "'" + vm.tail());
                }
                if (answer.startsWith(OUTPUT_PREFIX)) {
                    output.add(answer.substring(OUTPUT_PREFIX.length()));
                } else if (answer.equals("|")) {
                    output.add("");
                } else {
                    return new Answer(output, answer);
                }
            }
        } catch (SocketTimeoutException e) {
            broken = true;
            throw new GuestVm.GuestException("no answer to '" + line + "' within " + socketTimeout.toSeconds() + " s"
                    + vm.tail(), e);
        } catch (IOException e) {
            broken = true;
            throw new GuestVm.GuestException("control channel failed on '" + line + "': " + e + vm.tail(), e);
        }
    }

    /**
     * Sends "quit" (the guest kills leftover jobs, runs {@code nvme disconnect-all} and powers
     * off), then stops the VM.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        try {
            if (vm.isAlive()) {
                try {
                    quit();
                    vm.waitFor(Duration.ofSeconds(60));
                } catch (RuntimeException | IOException e) {
                    System.err.println("KernelHostGuest: quit failed, killing the guest: " + e.getMessage());
                }
            }
        } finally {
            closed = true;
            try {
                control.close();
                server.close();
            } catch (IOException e) {
                // already gone
            }
            vm.close();
        }
    }

    /**
     * Sends "quit". When the channel was lost (seen twice in CI: the guest read end of input while
     * the host side still had the socket), the guest connects again within a second or two: quit is
     * sent once more on the new channel, so a lost channel does not cost the clean shutdown.
     */
    private void quit() throws IOException {
        if (!broken) {
            try {
                Answer a = exchange("quit", Duration.ofSeconds(10));
                if (!a.last().startsWith("OK")) {
                    System.err.println("KernelHostGuest: unexpected answer to quit: " + a.last());
                }
                return;
            } catch (GuestVm.GuestException e) {
                System.err.println("KernelHostGuest: quit on the control channel failed (" + e.getMessage().lines()
                        .findFirst().orElse("") + "); waiting for the guest to reconnect");
            }
        }
        control.close();
        attach(GuestControl.accept(server, HELLO + token, System.nanoTime() + Duration.ofSeconds(30).toNanos(), vm));
        broken = false;
        Answer a = exchange("quit", Duration.ofSeconds(10));
        System.err.println("KernelHostGuest: quit on a new control channel: " + a.last());
    }
}
