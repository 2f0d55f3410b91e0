package io.nvmpath.server.gateway;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The gateway's configuration ({@code serve --config gateway.yaml}); read and checked by
 * {@link GatewayConfigLoader}, which documents every key and its default.
 *
 * @param host the host's identity
 * @param portals where to connect: direct controllers and discovery controllers
 * @param controller controller timeouts and queues, for every path
 * @param multipath multipath behaviour for every subsystem
 * @param subsystems per-subsystem iopolicy and preferred path, by NQN
 * @param nbd the NBD listener
 * @param exports per-export settings (aliases, read-only, allowed client networks), by export name
 * @param http the HTTP side (metrics, health, readiness, API); null = none
 * @param log what is logged
 */
public record GatewayConfig(Host host, List<Portal> portals, Controller controller, Multipath multipath,
                            Map<String, Subsystem> subsystems, Nbd nbd, Map<String, Export> exports, Http http,
                            Log log) {

    /** The default NBD port (IANA). */
    public static final int DEFAULT_NBD_PORT = io.nvmpath.server.nbd.NbdServer.DEFAULT_PORT;
    /** The default HTTP port: loopback only, for Prometheus, the API and list-subsys. */
    public static final int DEFAULT_HTTP_PORT = 9810;

    /**
     * @param nqn host NQN; null = the one kept in the state file (created once, as nvme-cli keeps /etc/nvme/hostnqn)
     * @param id host ID; null = the one kept in the state file
     * @param stateFile where a generated NQN and ID are kept
     */
    public record Host(String nqn, String id, Path stateFile) {
    }

    /**
     * A direct controller ({@code subnqn} set) or a persistent discovery controller ({@code subnqn} null).
     *
     * @param dhchap the secrets this portal authenticates with (over the subsystem's), or null
     * @param tls NVMe/TCP TLS of this portal (over the subsystem's), or null
     */
    public record Portal(String traddr, int trsvcid, String subnqn, Dhchap dhchap, NvmeTls tls) {
        public Portal(String traddr, int trsvcid, String subnqn) {
            this(traddr, trsvcid, subnqn, null, null);
        }

        public boolean discovery() {
            return subnqn == null;
        }

        /** The same controller (address, port, subsystem), whatever the secrets. */
        public boolean sameEndpoint(Portal o) {
            return traddr.equals(o.traddr) && trsvcid == o.trsvcid && java.util.Objects.equals(subnqn, o.subnqn);
        }
    }

    /**
     * DH-HMAC-CHAP secrets ({@code nvme connect --dhchap-secret / --dhchap-ctrl-secret}), read from files
     * in nvme-cli's {@code DHHC-1:..} form when the configuration is loaded (and again at each reload).
     *
     * @param secret the host's secret, which the host proves to the controller
     * @param ctrlSecret the controller's secret, which the host then demands the controller prove
     *                   (bidirectional authentication); null for none
     * @param secretFile where {@code secret} was read from
     * @param ctrlSecretFile where {@code ctrlSecret} was read from, or null
     */
    public record Dhchap(io.nvmpath.fabric.auth.DhchapSecret secret, io.nvmpath.fabric.auth.DhchapSecret ctrlSecret,
                         Path secretFile, Path ctrlSecretFile) {
        public Dhchap {
            java.util.Objects.requireNonNull(secret, "secret");
        }

        /** The files, never the secrets (for plans and messages). */
        public String describe() {
            return "DH-HMAC-CHAP secret " + secretFile + (ctrlSecretFile == null ? " (unidirectional)"
                    : ", controller secret " + ctrlSecretFile + " (bidirectional)");
        }
    }

    /** Controller options applied to every path (see the README's table; names follow nvme-cli). */
    public record Controller(Duration keepAliveTimeout, Duration reconnectDelay, Duration ctrlLossTimeout,
                             Duration ioTimeout, Duration connectTimeout, int ioQueues, int ioQueueSize,
                             boolean headerDigest, boolean dataDigest, Duration dhchapReauthPeriod) {
    }

    /** Multipath options for every subsystem. */
    public record Multipath(String iopolicy, Duration noPathTimeout, String failback, Duration failbackDelay,
                            Duration delayedRemoval, String writeFailover, Duration unreportedQuiesceTime,
                            Marginal marginal) {
    }

    /**
     * When a path that keeps failing is held back: {@code failures} losses within {@code window} make
     * it marginal for {@code hold} (0 s: never held back).
     */
    public record Marginal(int failures, Duration window, Duration hold) {
        public static final Marginal DEFAULT = new Marginal(3, Duration.ofSeconds(10), Duration.ofSeconds(30));
    }

    /**
     * NVMe/TCP TLS 1.3 with a configured PSK ({@code nvme connect --tls --tls-key}): the PSK in the
     * interchange format ({@code NVMeTLSkey-1:..}) read from {@code pskFile} when the configuration is
     * loaded (and at each reload).
     */
    public record NvmeTls(io.nvmpath.fabric.auth.TlsPsk psk, Path pskFile) {
        public NvmeTls {
            java.util.Objects.requireNonNull(psk, "psk");
        }

        /** The file, never the key. */
        public String describe() {
            return "TLS 1.3, PSK " + pskFile;
        }
    }

    /**
     * Per-subsystem overrides; null fields take the multipath section's.
     *
     * @param dhchap the secrets every controller of the subsystem authenticates with, unless its portal
     *               has its own; null for none
     * @param tls TLS for every controller of the subsystem, unless its portal has its own; null for none
     */
    public record Subsystem(String iopolicy, String preferredPath, String writeFailover, Dhchap dhchap,
                            NvmeTls tls) {
        public Subsystem(String iopolicy, String preferredPath, String writeFailover) {
            this(iopolicy, preferredPath, writeFailover, null, null);
        }

        public Subsystem(String iopolicy, String preferredPath) {
            this(iopolicy, preferredPath, null);
        }
    }

    /**
     * The TLS of a connect to {@code nqn} at {@code traddr:trsvcid} ({@code nqn} null: a discovery
     * controller): the configured portal's own when it has some, else the subsystem's; null for none.
     */
    public NvmeTls tlsFor(String traddr, int trsvcid, String nqn) {
        return portalOrSubsystem(traddr, trsvcid, nqn, Portal::tls, Subsystem::tls);
    }

    /** As {@link #tlsFor}, for the DH-HMAC-CHAP secrets. */
    public Dhchap dhchapFor(String traddr, int trsvcid, String nqn) {
        return portalOrSubsystem(traddr, trsvcid, nqn, Portal::dhchap, Subsystem::dhchap);
    }

    private <T> T portalOrSubsystem(String traddr, int trsvcid, String nqn, java.util.function.Function<Portal, T> own,
                                    java.util.function.Function<Subsystem, T> ofSubsystem) {
        for (Portal p : portals) {
            T t = own.apply(p);
            if (t != null && p.traddr().equals(traddr) && p.trsvcid() == trsvcid
                    && java.util.Objects.equals(p.subnqn(), nqn)) {
                return t;
            }
        }
        Subsystem s = nqn == null ? null : subsystems.get(nqn);
        return s == null ? null : ofSubsystem.apply(s);
    }

    /** An address and port to listen on. */
    public record Listen(String address, int port) {
        @Override
        public String toString() {
            return (address.contains(":") ? "[" + address + "]" : address) + ":" + port;
        }
    }

    /**
     * TLS for the NBD listener: "off", "allow" (STARTTLS offered) or "require"; PEM files (see
     * {@link io.nvmpath.server.tls.TlsMaterial} for the forms read).
     *
     * @param keyPassphrase the file holding the key's passphrase (an encrypted key), or null
     * @param clientCa client certificates must chain to these CAs; null: clients are not authenticated
     */
    public record Tls(String mode, Path certificate, Path key, Path keyPassphrase, Path clientCa) {
        public static final Tls OFF = new Tls("off", null, null, null, null);
    }

    /**
     * @param listen where NBD clients connect (127.0.0.1 unless configured)
     * @param tls TLS settings
     * @param allow client networks allowed for every export without its own list; empty = any
     * @param maxPayload the largest request accepted, in bytes
     */
    public record Nbd(Listen listen, Tls tls, List<String> allow, int maxPayload) {
    }

    /**
     * The HTTP side.
     *
     * @param listen where it listens (127.0.0.1 unless configured)
     * @param tls HTTPS from these PEM files (mode "require"), or null for plain HTTP; with a client CA,
     *            a verified client certificate may change state
     * @param token a file holding the bearer token that state-changing requests (POST, DELETE) must
     *              carry, or null
     */
    public record Http(Listen listen, Tls tls, Path token) {
        public Http(Listen listen) {
            this(listen, null, null);
        }

        public String address() {
            return listen.address();
        }

        public int port() {
            return listen.port();
        }

        /** The same side listening elsewhere. */
        public Http at(Listen other) {
            return new Http(other, tls, token);
        }
    }

    /** @param level error, warn, info (default), debug or trace; the command line's -v wins */
    public record Log(String level) {
        public static final Log DEFAULT = new Log("info");
    }

    /** Per-export settings. */
    public record Export(List<String> aliases, boolean readOnly, List<String> allow) {
        public static final Export DEFAULT = new Export(List.of(), false, List.of());
    }
}
