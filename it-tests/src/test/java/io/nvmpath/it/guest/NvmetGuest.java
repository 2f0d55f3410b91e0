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
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The Linux kernel NVMe/TCP target (nvmet) in a QEMU guest, with a control channel.
 *
 * <p>The guest runs {@code guest/scripts/nvmet-target.sh}: subsystem, namespaces, ports and ANA
 * groups as described by {@link #facts()}. Host 127.0.0.1:{@link #port(int) port(n)} is
 * forwarded to nvmet port {@code n} in the guest. Control commands go over one TCP connection
 * that the guest opens to 10.0.2.100:{@value #CONTROL_GUEST_PORT}; QEMU's guest forward
 * (socat) joins it to a server socket of this class on an ephemeral 127.0.0.1 port. Each
 * command is one line, answered by one line, "OK ..." or "ERR ...".
 *
 * <pre>{@code
 * try (NvmetGuest t = NvmetGuest.start("my-test")) {
 *     connect(t.address(), t.port(1), t.subsystemNqn());
 *     t.setAnaState(1, 1, NvmetGuest.AnaState.INACCESSIBLE);
 * }
 * }</pre>
 */
public final class NvmetGuest implements AutoCloseable {

    /** Console line printed when the target is configured and both ports listen. */
    public static final String READY_MARKER = "NVMET-READY";
    /** Console line printed when the set-up failed (the guest then exits 1). */
    public static final String FAILED_MARKER = "NVMET-FAILED";
    /** The (virtual) port the guest connects to for the control channel, on 10.0.2.100. */
    public static final int CONTROL_GUEST_PORT = 4500;
    /** Default for {@link #start()}: time from launch to NVMET-READY (TCG boot is ~4 s, CI may be slower). */
    public static final Duration READY_TIMEOUT = Duration.ofSeconds(120);
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);
    private static final String HELLO = "HELLO nvmet-control token=";

    /** ANA states as nvmet's configfs spells them. */
    public enum AnaState {
        OPTIMIZED, NON_OPTIMIZED, INACCESSIBLE, PERSISTENT_LOSS, CHANGE;

        /** The configfs / control-protocol spelling, e.g. "non-optimized". */
        public String wire() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        public static AnaState fromWire(String s) {
            return valueOf(s.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
        }
    }

    private final GuestVm vm;
    private final NvmetFacts facts;
    private final Socket control;
    private final BufferedReader in;
    private final OutputStream out;
    private final Duration readyAfter;
    private boolean broken;
    private boolean closed;

    private NvmetGuest(GuestVm vm, NvmetFacts facts, Socket control, Duration readyAfter) throws IOException {
        this.vm = vm;
        this.facts = facts;
        this.control = control;
        this.in = new BufferedReader(new InputStreamReader(control.getInputStream(), StandardCharsets.UTF_8));
        this.out = control.getOutputStream();
        this.readyAfter = readyAfter;
    }

    /** Starts a guest target named "nvmet" (log file target/guest-logs/nvmet.log). */
    public static NvmetGuest start() throws IOException {
        return start("nvmet");
    }

    /** Starts a guest target; {@code name} names the console log file. Waits for NVMET-READY (120 s). */
    public static NvmetGuest start(String name) throws IOException {
        return start(name, READY_TIMEOUT);
    }

    /**
     * Boots the guest, waits for {@value #READY_MARKER} and for the guest's control connection.
     *
     * @throws GuestVm.GuestException when the target is not ready within {@code readyTimeout}
     */
    public static NvmetGuest start(String name, Duration readyTimeout) throws IOException {
        return start(name, readyTimeout, GuestFlavour.BOOKWORM);
    }

    /**
     * {@link #start(String, Duration)} on a guest of {@code flavour}: {@link GuestFlavour#TRIXIE}'s
     * nvmet (Linux 6.12) has DH-HMAC-CHAP ({@link #hostKey}) and NVMe/TCP TLS.
     */
    public static NvmetGuest start(String name, Duration readyTimeout, GuestFlavour flavour) throws IOException {
        Path dir = Peers.guestDir();
        NvmetFacts facts = NvmetFacts.load(dir);
        long t0 = System.nanoTime();
        long deadline = t0 + readyTimeout.toNanos();
        byte[] nonce = new byte[8];
        new SecureRandom().nextBytes(nonce);
        String token = HexFormat.of().formatHex(nonce);
        ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
        GuestVm vm = null;
        try {
            GuestVm.Builder b = GuestVm.builder(name, dir.resolve("scripts").resolve("nvmet-target.sh"))
                    .guestDir(dir)
                    .flavour(flavour)
                    .guestFile(dir.resolve("scripts").resolve("nvmet-lib.sh"))
                    .env("CONTROL_PORT", Integer.toString(CONTROL_GUEST_PORT))
                    .env("CONTROL_TOKEN", token)
                    .guestForward(CONTROL_GUEST_PORT, server.getLocalPort())
                    .bootTimeout(readyTimeout);
            for (int p = 1; p <= facts.portCount(); p++) {
                b.hostForward(facts.trsvcid(p));
            }
            vm = b.start();
            String line = vm.awaitAnyLine(GuestControl.remaining(deadline), READY_MARKER, FAILED_MARKER);
            if (line.contains(FAILED_MARKER)) {
                throw new GuestVm.GuestException("nvmet set-up failed in the guest" + vm.tail());
            }
            Duration readyAfter = Duration.ofNanos(System.nanoTime() - t0);
            Socket control = GuestControl.accept(server, HELLO + token, deadline, vm);
            return new NvmetGuest(vm, facts, control, readyAfter);
        } catch (IOException | RuntimeException e) {
            if (vm != null) {
                vm.close();
            }
            throw e;
        } finally {
            // one control connection per guest; nobody else may connect later
            server.close();
        }
    }

    /** The host address of the forwarded ports: always "127.0.0.1". */
    public String address() {
        return "127.0.0.1";
    }

    /** The host port (on {@link #address()}) of nvmet port {@code nvmetPort} (1 or 2). */
    public int port(int nvmetPort) {
        return vm.hostPort(facts.trsvcid(nvmetPort));
    }

    public String subsystemNqn() {
        return facts.subsystemNqn();
    }

    public NvmetFacts facts() {
        return facts;
    }

    /** The underlying VM (console lines, log file). */
    public GuestVm vm() {
        return vm;
    }

    /** Time from launch to NVMET-READY. */
    public Duration readyAfter() {
        return readyAfter;
    }

    /** Sets the ANA state of {@code group} on nvmet port {@code port}; waits for the guest's OK. */
    public void setAnaState(int port, int group, AnaState state) {
        command("ana " + port + " " + group + " " + state.wire());
    }

    /** Same, with the configfs spelling ("optimized", "non-optimized", "inaccessible", ...). */
    public void setAnaState(int port, int group, String state) {
        command("ana " + port + " " + group + " " + state);
    }

    /** Unlinks the subsystem from nvmet port {@code port}: its controllers go, the port stops listening. */
    public void removePort(int port) {
        command("port-remove " + port);
    }

    /** Links the subsystem to nvmet port {@code port} again: the port listens again. */
    public void addPort(int port) {
        command("port-add " + port);
    }

    /**
     * Gives host {@code hostNqn} a DH-HMAC-CHAP secret on the subsystem, and the controller's secret
     * when {@code ctrlKey} is not null (bidirectional authentication); from then on only hosts so
     * configured may connect ({@code attr_allow_any_host} 0). {@code hash} and {@code dhGroup} are
     * what nvmet insists on, in its spelling ("hmac(sha256)", "ffdhe2048", "null"). The secrets are
     * kept out of the guest's console log. Needs a kernel with NVMe target authentication
     * ({@link GuestFlavour#TRIXIE}).
     */
    public void hostKey(String hostNqn, String hash, String dhGroup, String key, String ctrlKey) {
        for (String word : new String[] {hostNqn, hash, dhGroup, key, ctrlKey == null ? "" : ctrlKey}) {
            if (word.chars().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("no blanks in a host-key argument");
            }
        }
        command("host-key " + hostNqn + " " + hash + " " + dhGroup + " " + key + (ctrlKey == null ? "" : " " + ctrlKey));
    }

    /**
     * NVMe/TCP TLS on nvmet port {@code port} for host {@code hostNqn}: the configured PSK {@code key}
     * ({@code NVMeTLSkey-1:..}) is inserted into the guest's {@code .nvme} keyring by nvme-cli's
     * {@code check-tls-key --insert}, tlshd runs the handshakes, and the port takes TLS 1.3 only
     * ({@code addr_tsas=tls1.3}). Needs {@link GuestFlavour#TRIXIE}.
     *
     * @return nvmet's view of the port, e.g. "tsas=tls1.3 treq=required"
     */
    public String portTls(int port, String hostNqn, String key) {
        String r = command("port-tls " + port + " " + hostNqn + " " + key);
        return r.substring(r.indexOf(' ', "port-tls ".length()) + 1);
    }

    /** Removes host {@code hostNqn}'s entry and secrets; with none left, any host may connect again. */
    public void removeHost(String hostNqn) {
        command("host-remove " + hostNqn);
    }

    /** The guest's state line, e.g. "port1=linked grp1=optimized grp2=non-optimized port2=...". */
    public String show() {
        return command("show");
    }

    /** Runs a shell command in the guest (output on the console / log); returns its exit code. */
    public int sh(String shellCommand) {
        String r = command("sh " + shellCommand);
        if (!r.startsWith("rc=")) {
            throw new GuestVm.GuestException("unexpected answer to sh: OK " + r);
        }
        return Integer.parseInt(r.substring(3).trim());
    }

    /**
     * Sends one control command and waits for its answer.
     *
     * @return the text after "OK" (may be empty)
     * @throws GuestVm.GuestException on "ERR ..." (with the guest's reason), on a timeout or a
     *                                lost channel; after a timeout or a lost channel every later
     *                                command fails too (answers could no longer be matched)
     */
    public synchronized String command(String line) {
        return command(line, COMMAND_TIMEOUT);
    }

    private synchronized String command(String line, Duration timeout) {
        if (line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0) {
            throw new IllegalArgumentException("one line only: " + line);
        }
        if (closed || broken) {
            throw new GuestVm.GuestException("control channel is " + (closed ? "closed" : "broken") + "; cannot send: " + redacted(line));
        }
        String shown = redacted(line);
        String answer;
        try {
            control.setSoTimeout((int) Math.max(1, timeout.toMillis()));
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            answer = in.readLine();
        } catch (SocketTimeoutException e) {
            broken = true;
            throw new GuestVm.GuestException("no answer to '" + shown + "' within " + timeout.toSeconds() + " s" + vm.tail(), e);
        } catch (IOException e) {
            broken = true;
            throw new GuestVm.GuestException("control channel failed on '" + shown + "': " + e + vm.tail(), e);
        }
        if (answer == null) {
            broken = true;
            throw new GuestVm.GuestException("control channel closed by the guest on '" + shown + "'" + vm.tail());
        }
        if (answer.equals("OK") || answer.startsWith("OK ")) {
            return answer.substring(2).trim();
        }
        if (answer.startsWith("ERR")) {
            throw new GuestVm.GuestException("guest refused '" + shown + "': " + answer.substring(3).trim());
        }
        broken = true;
        throw new GuestVm.GuestException("unexpected answer to '" + shown + "': " + answer);
    }

    /** The command as messages show it: a host-key command without its secrets. */
    private static String redacted(String line) {
        if (line.startsWith("port-tls ")) {
            return line.replaceAll("NVMeTLSkey-1:\\S*", "<key>");
        }
        if (!line.startsWith("host-key ")) {
            return line;
        }
        String[] w = line.split(" ");
        return String.join(" ", Arrays.copyOf(w, Math.min(w.length, 4))) + " <secrets>";
    }

    /** Sends "quit" (the guest tears the target down and powers off), then stops the VM. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        try {
            if (!broken && vm.isAlive()) {
                try {
                    command("quit", Duration.ofSeconds(10));
                    vm.waitFor(Duration.ofSeconds(30));
                } catch (RuntimeException e) {
                    System.err.println("NvmetGuest: quit failed, killing the guest: " + e.getMessage());
                }
            }
        } finally {
            closed = true;
            try {
                control.close();
            } catch (IOException e) {
                // already gone
            }
            vm.close();
        }
    }
}
