package io.nvmpath.fabric.host;

import io.nvmpath.fabric.auth.DhchapSecret;
import io.nvmpath.fabric.auth.TlsPsk;
import io.nvmpath.fabric.time.Scheduler;

import java.time.Duration;
import java.util.Objects;
import java.util.UUID;

/**
 * How a host connects to and keeps a controller: the knobs of {@code nvme connect}, with Linux's
 * defaults. Fluent setters; a {@link Controller} takes a copy.
 */
public final class ControllerOptions {
    /** Linux's NVME_AQ_DEPTH. */
    public static final int DEFAULT_ADMIN_QUEUE_SIZE = 32;
    /** Linux's default queue_size for fabrics. */
    public static final int DEFAULT_IO_QUEUE_SIZE = 128;

    private UUID hostId = UUID.randomUUID();
    private String hostNqn;
    private boolean headerDigest;
    private boolean dataDigest;
    private int ioQueues;
    private int ioQueueSize = DEFAULT_IO_QUEUE_SIZE;
    private int adminQueueSize = DEFAULT_ADMIN_QUEUE_SIZE;
    private Duration keepAliveTimeout = Duration.ofSeconds(5);
    private Duration reconnectDelay = Duration.ofSeconds(10);
    private Duration ctrlLossTimeout = Duration.ofSeconds(600);
    private Duration fastIoFailTimeout;
    private boolean holdIoWhileReconnecting;
    private Duration ioTimeout = Duration.ofSeconds(30);
    private Duration adminTimeout = Duration.ofSeconds(60);
    private Duration connectTimeout = Duration.ofSeconds(10);
    private int maxPduData = 8 << 20;
    private boolean disableSqFlowControl;
    private Scheduler scheduler = Scheduler.SYSTEM;
    /**
     * The DH-HMAC-CHAP secrets as one value, volatile: a controller's rotation replaces both at once
     * while its queues' event loops read them.
     */
    private volatile DhchapSecrets dhchap = DhchapSecrets.NONE;
    private Duration dhchapReauthPeriod = Duration.ZERO;
    private TlsPsk tlsPsk;

    private record DhchapSecrets(DhchapSecret host, DhchapSecret ctrl) {
        static final DhchapSecrets NONE = new DhchapSecrets(null, null);
    }

    public ControllerOptions copy() {
        ControllerOptions o = new ControllerOptions();
        o.hostId = hostId;
        o.hostNqn = hostNqn;
        o.headerDigest = headerDigest;
        o.dataDigest = dataDigest;
        o.ioQueues = ioQueues;
        o.ioQueueSize = ioQueueSize;
        o.adminQueueSize = adminQueueSize;
        o.keepAliveTimeout = keepAliveTimeout;
        o.reconnectDelay = reconnectDelay;
        o.ctrlLossTimeout = ctrlLossTimeout;
        o.fastIoFailTimeout = fastIoFailTimeout;
        o.holdIoWhileReconnecting = holdIoWhileReconnecting;
        o.ioTimeout = ioTimeout;
        o.adminTimeout = adminTimeout;
        o.connectTimeout = connectTimeout;
        o.maxPduData = maxPduData;
        o.disableSqFlowControl = disableSqFlowControl;
        o.scheduler = scheduler;
        o.dhchap = dhchap;
        o.dhchapReauthPeriod = dhchapReauthPeriod;
        o.tlsPsk = tlsPsk;
        return o;
    }

    /** HOSTID sent in Connect; nvme-cli keeps it in /etc/nvme/hostid. */
    public UUID hostId() {
        return hostId;
    }

    public ControllerOptions hostId(UUID id) {
        this.hostId = Objects.requireNonNull(id);
        return this;
    }

    /** HOSTNQN; by default the UUID form built from the host ID, as nvme-cli generates it. */
    public String hostNqn() {
        return hostNqn != null ? hostNqn : "nqn.2014-08.org.nvmexpress:uuid:" + hostId;
    }

    public ControllerOptions hostNqn(String nqn) {
        this.hostNqn = nqn;
        return this;
    }

    public boolean headerDigest() {
        return headerDigest;
    }

    public ControllerOptions headerDigest(boolean on) {
        this.headerDigest = on;
        return this;
    }

    public boolean dataDigest() {
        return dataDigest;
    }

    public ControllerOptions dataDigest(boolean on) {
        this.dataDigest = on;
        return this;
    }

    /** I/O queues to ask for; 0 means one per event-loop thread. */
    public int ioQueues() {
        return ioQueues;
    }

    public ControllerOptions ioQueues(int n) {
        if (n < 0 || n > 1024) {
            throw new IllegalArgumentException("ioQueues must be 0..1024, not " + n);
        }
        this.ioQueues = n;
        return this;
    }

    /** Entries per I/O queue (SQSIZE + 1); at most SQSIZE - 1 commands are outstanding. */
    public int ioQueueSize() {
        return ioQueueSize;
    }

    public ControllerOptions ioQueueSize(int n) {
        if (n < 2 || n > 4096) {
            throw new IllegalArgumentException("ioQueueSize must be 2..4096, not " + n);
        }
        this.ioQueueSize = n;
        return this;
    }

    public int adminQueueSize() {
        return adminQueueSize;
    }

    /** KATO: the controller drops us after this long without a command; zero turns keep-alive off. */
    public Duration keepAliveTimeout() {
        return keepAliveTimeout;
    }

    public ControllerOptions keepAliveTimeout(Duration d) {
        this.keepAliveTimeout = nonNegative(d, "keepAliveTimeout");
        return this;
    }

    public Duration reconnectDelay() {
        return reconnectDelay;
    }

    public ControllerOptions reconnectDelay(Duration d) {
        this.reconnectDelay = nonNegative(d, "reconnectDelay");
        return this;
    }

    /** How long to keep trying to reconnect before deleting the controller; negative = forever. */
    public Duration ctrlLossTimeout() {
        return ctrlLossTimeout;
    }

    public ControllerOptions ctrlLossTimeout(Duration d) {
        this.ctrlLossTimeout = Objects.requireNonNull(d);
        return this;
    }

    /** With {@link #holdIoWhileReconnecting()}: fail held I/O this long after the loss; null = off. */
    public Duration fastIoFailTimeout() {
        return fastIoFailTimeout;
    }

    public ControllerOptions fastIoFailTimeout(Duration d) {
        this.fastIoFailTimeout = d == null ? null : nonNegative(d, "fastIoFailTimeout");
        return this;
    }

    /**
     * Off (the default, what a multipath layer wants): I/O submitted while the controller is not LIVE
     * completes at once with Host Pathing Error. On (a single-path user): it waits, bounded, for the
     * reconnect, until {@link #fastIoFailTimeout()} or controller loss.
     */
    public boolean holdIoWhileReconnecting() {
        return holdIoWhileReconnecting;
    }

    public ControllerOptions holdIoWhileReconnecting(boolean on) {
        this.holdIoWhileReconnecting = on;
        return this;
    }

    /** An I/O command outstanding longer than this resets the controller. */
    public Duration ioTimeout() {
        return ioTimeout;
    }

    public ControllerOptions ioTimeout(Duration d) {
        this.ioTimeout = positive(d, "ioTimeout");
        return this;
    }

    public Duration adminTimeout() {
        return adminTimeout;
    }

    public ControllerOptions adminTimeout(Duration d) {
        this.adminTimeout = positive(d, "adminTimeout");
        return this;
    }

    /** TCP connect plus ICReq/ICResp must finish within this. */
    public Duration connectTimeout() {
        return connectTimeout;
    }

    public ControllerOptions connectTimeout(Duration d) {
        this.connectTimeout = positive(d, "connectTimeout");
        return this;
    }

    /**
     * Ask for SQ flow control to be disabled on the I/O queues (Connect CATTR bit 2, nvme-cli's
     * {@code --disable-sqflow}): the controller may then complete reads with a C2HData SUCCESS flag
     * and no response capsule. This host never relies on SQHD, so it is safe either way.
     */
    public boolean disableSqFlowControl() {
        return disableSqFlowControl;
    }

    public ControllerOptions disableSqFlowControl(boolean on) {
        this.disableSqFlowControl = on;
        return this;
    }

    /** Largest data section accepted in one received PDU. */
    public int maxPduData() {
        return maxPduData;
    }

    public ControllerOptions maxPduData(int bytes) {
        this.maxPduData = bytes;
        return this;
    }

    /**
     * Where the controller's and its queues' time comes from: keep-alive, reconnect delay, command
     * and connect timeouts, fast_io_fail_tmo, CSTS polling. Real time by default; a test gives a
     * manual clock so those run when it says, not when a wall clock does.
     */
    public Scheduler scheduler() {
        return scheduler;
    }

    public ControllerOptions scheduler(Scheduler s) {
        this.scheduler = Objects.requireNonNull(s);
        return this;
    }

    /**
     * The host's DH-HMAC-CHAP secret ({@code nvme connect --dhchap-secret}), or {@code null}: used on
     * every queue whose Connect response asks for authentication (AUTHREQ ATR).
     */
    public DhchapSecret dhchapSecret() {
        return dhchap.host();
    }

    public ControllerOptions dhchapSecret(DhchapSecret secret) {
        this.dhchap = new DhchapSecrets(secret, dhchap.ctrl());
        return this;
    }

    /** Both secrets at once (the controller's is {@code null} for unidirectional authentication). */
    public ControllerOptions dhchapSecrets(DhchapSecret secret, DhchapSecret ctrlSecret) {
        this.dhchap = new DhchapSecrets(secret, ctrlSecret);
        return this;
    }

    /**
     * The controller's secret ({@code --dhchap-ctrl-secret}), or {@code null}: when set, the host
     * also challenges the controller and checks its response R2 (bidirectional authentication).
     * Needs {@link #dhchapSecret}.
     */
    public DhchapSecret dhchapCtrlSecret() {
        return dhchap.ctrl();
    }

    public ControllerOptions dhchapCtrlSecret(DhchapSecret secret) {
        this.dhchap = new DhchapSecrets(dhchap.host(), secret);
        return this;
    }

    /**
     * How often a LIVE controller whose queues authenticated runs DH-HMAC-CHAP again on each of them,
     * admin queue first ({@link Duration#ZERO}, the default: only when asked). The queues carry I/O
     * meanwhile; a refused re-authentication is logged and counted, and the controller decides what
     * follows (Linux nvmet ends the association).
     */
    public Duration dhchapReauthPeriod() {
        return dhchapReauthPeriod;
    }

    public ControllerOptions dhchapReauthPeriod(Duration d) {
        this.dhchapReauthPeriod = nonNegative(d, "dhchapReauthPeriod");
        return this;
    }

    /**
     * The configured TLS PSK ({@code nvme connect --tls --tls-key}), or {@code null} for plain TCP: every
     * queue then runs TLS 1.3 under the PSK identity {@code NVMe0R0<hh> <hostnqn> <subsysnqn>} of its
     * retained PSK before its ICReq.
     */
    public TlsPsk tlsPsk() {
        return tlsPsk;
    }

    public ControllerOptions tlsPsk(TlsPsk psk) {
        this.tlsPsk = psk;
        return this;
    }

    private static Duration nonNegative(Duration d, String name) {
        if (d == null || d.isNegative()) {
            throw new IllegalArgumentException(name + " must be zero or more");
        }
        return d;
    }

    private static Duration positive(Duration d, String name) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be positive");
        }
        return d;
    }
}
