package io.nvmpath.server.gateway;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.nvmpath.multipath.FailbackMode;
import io.nvmpath.multipath.IoPolicy;
import io.nvmpath.multipath.PathId;
import io.nvmpath.multipath.WriteFailover;
import io.nvmpath.server.nbd.ClientNetwork;
import io.nvmpath.server.tls.TlsMaterial;
import io.nvmpath.server.tls.TlsMaterialException;
import io.nvmpath.config.ConfigException;
import io.nvmpath.config.SecretText;
import io.nvmpath.config.YamlFields;
import io.nvmpath.fabric.auth.DhchapSecret;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a {@link GatewayConfig} from YAML; every error names the field as the YAML spells it
 * ({@code portals[1].trsvcid: expected an integer, not "x"}). All sections are optional:
 * <pre>
 * host:                       # default: NQN and ID generated once and kept in stateFile
 *   nqn: nqn.2014-08.org.nvmexpress:uuid:...
 *   id: 5f1c...               # a UUID
 *   stateFile: /var/lib/nvmpath/host.properties   # default: that, or ~/.local/state/nvmpath/host.properties
 * portals:                    # direct controllers, or discovery controllers (no subnqn)
 *   - {traddr: 10.0.0.1, trsvcid: 4420, subnqn: nqn.2026-11.example:array1}
 *   - {traddr: 10.0.0.2, trsvcid: 8009}                       # discovery, kept connected
 *   - {traddr: 10.0.0.3, subnqn: nqn.2026-11.example:secure,  # DH-HMAC-CHAP: files in nvme-cli's DHHC-1 form
 *      dhchapSecretFile: host.key, dhchapCtrlSecretFile: ctrl.key,   # the controller's: bidirectional
 *      tls: {psk: tls.key}}                                    # NVMe/TCP TLS 1.3, NVMeTLSkey-1 PSK
 * controller:                 # durations: 500ms, 5s, 10m; ctrlLossTimeout may be "forever"
 *   keepAliveTimeout: 5s
 *   reconnectDelay: 10s
 *   ctrlLossTimeout: 600s
 *   ioTimeout: 30s
 *   connectTimeout: 10s
 *   ioQueues: 2               # per path; default: one per event-loop thread
 *   ioQueueSize: 128
 *   headerDigest: false
 *   dataDigest: false
 *   dhchapReauthPeriod: 0s    # DH-HMAC-CHAP again on every queue of an authenticated path (0s: never)
 * multipath:
 *   iopolicy: numa            # numa, first, round-robin, queue-depth, service-time
 *   noPathTimeout: 30s        # how long I/O waits for a path; "forever" queues without bound in time
 *   failback: immediate       # immediate, delayed, manual
 *   failbackDelay: 10s
 *   delayedRemoval: 0s
 *   writeFailover: safe       # safe: a write its path lost waits until that controller cannot run it; immediate
 *   unreportedQuiesceTime: 1s # the Command Quiesce Time assumed for a controller that reports CQT 0
 *   marginal: {failures: 3, window: 10s, hold: 30s}   # a path lost that often is held back; hold 0s: never
 * subsystems:                 # per subsystem, by NQN
 *   nqn.2026-11.example:array1: {iopolicy: round-robin, preferredPath: "10.0.0.1:4420", writeFailover: immediate}
 *   nqn.2026-11.example:secure: {dhchapSecretFile: host.key, tls: {psk: tls.key}}  # every portal, discovered too
 * nbd:
 *   listen: {address: 127.0.0.1, port: 10809}
 *   tls: {mode: off, certificate: cert.pem, key: key.pem, keyPassphrase: pass.txt, clientCa: ca.pem}   # off, allow, require
 *   allow: [127.0.0.0/8]      # client networks for exports without their own list; default any
 *   maxPayload: 32MiB
 * exports:                    # by export name, {@code <subnqn>/<nsid>}
 *   nqn.2026-11.example:array1/1: {aliases: [db], readOnly: false, allow: [10.1.0.0/16]}
 * log: {level: info}           # error, warn, info, debug, trace; reloadable
 * http:                       # metrics, API, health; "http: off" for none
 *   listen: {address: 127.0.0.1, port: 9810}
 *   tls: {certificate: cert.pem, key: key.pem, keyPassphrase: pass.txt, clientCa: ca.pem}   # HTTPS
 *   token: api-token           # POST/DELETE need "Authorization: Bearer <its contents>"
 * </pre>
 * Relative file names are relative to the configuration file's directory. Secrets are only read from
 * files (a {@code dhchapSecret} written into the configuration is refused); a portal's secrets apply to
 * it, a subsystem's to each of its portals without their own; a changed secret file is read at the next
 * reload and used from the next connect.
 */
public final class GatewayConfigLoader {
    private static final ObjectMapper YAML = new YAMLMapper(YAMLFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build());
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h)?", Pattern.CASE_INSENSITIVE);
    private static final Pattern NQN = Pattern.compile("nqn\\.\\d{4}-\\d{2}\\.[^\\s:]+(:\\S+)?");

    private static final Set<String> TOP = Set.of("host", "portals", "controller", "multipath", "subsystems", "nbd",
            "exports", "http", "log");
    private static final Set<String> LOG = Set.of("level");
    private static final Set<String> HOST = Set.of("nqn", "id", "stateFile");
    /** Keys of the secrets: the File forms are read; the inline ones are refused with a pointer to them. */
    private static final Set<String> DHCHAP = Set.of("dhchapSecretFile", "dhchapCtrlSecretFile", "dhchapSecret",
            "dhchapCtrlSecret");
    private static final Set<String> PORTAL = union(Set.of("traddr", "trsvcid", "subnqn", "tls"), DHCHAP);
    private static final Set<String> PORTAL_TLS = Set.of("psk", "handshake");
    private static final Set<String> CONTROLLER = Set.of("keepAliveTimeout", "reconnectDelay", "ctrlLossTimeout",
            "ioTimeout", "connectTimeout", "ioQueues", "ioQueueSize", "headerDigest", "dataDigest",
            "dhchapReauthPeriod");
    private static final Set<String> MULTIPATH = Set.of("iopolicy", "noPathTimeout", "failback", "failbackDelay",
            "delayedRemoval", "writeFailover", "unreportedQuiesceTime", "marginal");
    private static final Set<String> MARGINAL = Set.of("failures", "window", "hold");
    private static final Set<String> SUBSYSTEM = union(Set.of("iopolicy", "preferredPath", "writeFailover", "tls"), DHCHAP);
    private static final Set<String> NBD = Set.of("listen", "tls", "allow", "maxPayload");
    private static final Set<String> TLS = Set.of("mode", "certificate", "key", "keyPassphrase", "clientCa");
    private static final Set<String> EXPORT = Set.of("aliases", "readOnly", "allow");
    private static final Set<String> HTTP = Set.of("listen", "tls", "token");
    private static final Set<String> HTTP_TLS = Set.of("certificate", "key", "keyPassphrase", "clientCa");
    private static final Set<String> LISTEN = Set.of("address", "port");

    private final Path baseDir;

    private GatewayConfigLoader(Path baseDir) {
        this.baseDir = baseDir;
    }

    /** Reads and checks {@code file}; a {@link ConfigException} names the wrong field. */
    public static GatewayConfig load(Path file) {
        String text = YamlFields.readFile(file);
        return new GatewayConfigLoader(file.toAbsolutePath().getParent()).build(YamlFields.readTree(YAML, text));
    }

    /** Reads and checks {@code yaml}; relative file names are taken as written. */
    public static GatewayConfig parse(String yaml) {
        return new GatewayConfigLoader(null).build(YamlFields.readTree(YAML, yaml));
    }

    /** The defaults: no portals, NBD on 127.0.0.1:10809, HTTP on 127.0.0.1:9810. */
    public static GatewayConfig defaults() {
        return parse("{}");
    }

    private GatewayConfig build(JsonNode root) {
        YamlFields top = YamlFields.of(root, "", TOP);
        GatewayConfig.Host host = host(top);
        List<GatewayConfig.Portal> portals = top.list("portals", (n, at, i) -> portal(n, at));
        checkPortalsUnique(portals, top.at("portals"));
        GatewayConfig.Controller controller = controller(sub(top, "controller", CONTROLLER));
        GatewayConfig.Multipath multipath = multipath(sub(top, "multipath", MULTIPATH));
        Map<String, GatewayConfig.Subsystem> subsystems = new LinkedHashMap<>();
        mapping(top, "subsystems", (n, at) -> {
            requireNqn(at.substring(at.indexOf('.') + 1), at);
            YamlFields f = YamlFields.of(n, at, SUBSYSTEM);
            return new GatewayConfig.Subsystem(iopolicy(f, null), preferredPath(f), writeFailover(f, null), dhchap(f),
                    portalTls(f));
        }, subsystems);
        GatewayConfig.Nbd nbd = nbd(sub(top, "nbd", NBD));
        Map<String, GatewayConfig.Export> exports = new LinkedHashMap<>();
        mapping(top, "exports", (n, at) -> {
            YamlFields f = YamlFields.of(n, at, EXPORT);
            return new GatewayConfig.Export(f.list("aliases", YamlFields::asString), f.bool("readOnly", false),
                    networks(f, "allow"));
        }, exports);
        checkAliases(exports);
        GatewayConfig.Http http = null;
        JsonNode h = root.get("http");
        boolean off = h != null && ((h.isTextual() && h.textValue().equalsIgnoreCase("off"))
                || (h.isBoolean() && !h.booleanValue())); // YAML 1.1 reads a bare off as false
        if (!off) {
            http = http(sub(top, "http", HTTP));
        }
        YamlFields lf = sub(top, "log", LOG);
        String level = lf.string("level", "info");
        try {
            io.nvmpath.server.log.LogLevel.jul(level);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(lf.at("level"), e.getMessage());
        }
        return new GatewayConfig(host, portals, controller, multipath, Map.copyOf(subsystems), nbd,
                Map.copyOf(exports), http, new GatewayConfig.Log(level.toLowerCase(java.util.Locale.ROOT)));
    }

    /** A sub-mapping of {@code top}; an empty one when absent. */
    private static YamlFields sub(YamlFields top, String key, Set<String> keys) {
        JsonNode n = top.has(key) ? top.get(key) : YAML.createObjectNode();
        return YamlFields.of(n, key, keys);
    }

    private GatewayConfig.Host host(YamlFields top) {
        YamlFields f = sub(top, "host", HOST);
        String nqn = f.string("nqn", null);
        if (nqn != null) {
            requireNqn(nqn, f.at("nqn"));
        }
        String id = f.string("id", null);
        if (id != null) {
            try {
                java.util.UUID.fromString(id);
            } catch (IllegalArgumentException e) {
                throw new ConfigException(f.at("id"), "\"" + id + "\" is not a UUID");
            }
        }
        String state = f.string("stateFile", null);
        return new GatewayConfig.Host(nqn, id, state == null ? null : file(state));
    }

    private static String preferredPath(YamlFields f) {
        String p = f.string("preferredPath", null);
        try {
            return p == null ? null : PathId.portalAddress(p);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(f.at("preferredPath"), e.getMessage());
        }
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> u = new java.util.HashSet<>(a);
        u.addAll(b);
        return Set.copyOf(u);
    }

    /**
     * {@code dhchapSecretFile} and {@code dhchapCtrlSecretFile} of {@code f}, read and checked (CRC,
     * length, form: the error names the field, never the secret); null when neither is given.
     */
    private GatewayConfig.Dhchap dhchap(YamlFields f) {
        SecretText host = SecretText.read(f, "dhchapSecret", baseDir, false);
        SecretText ctrl = SecretText.read(f, "dhchapCtrlSecret", baseDir, false);
        if (host == null) {
            if (ctrl != null) {
                throw new ConfigException(ctrl.at(), "needs dhchapSecretFile: the host authenticates first");
            }
            return null;
        }
        return new GatewayConfig.Dhchap(host.parse(DhchapSecret::parse), ctrl == null ? null : ctrl.parse(DhchapSecret::parse),
                host.file(), ctrl == null ? null : ctrl.file());
    }

    /**
     * {@code tls: {psk: FILE, handshake: linux|spec}} of a portal or subsystem: the PSK read and checked
     * (handshake: {@link io.nvmpath.fabric.auth.TlsHandshake}, linux when absent); null without it.
     */
    private GatewayConfig.NvmeTls portalTls(YamlFields f) {
        if (!f.has("tls")) {
            return null;
        }
        YamlFields t = YamlFields.of(f.get("tls"), f.at("tls"), PORTAL_TLS);
        SecretText psk = SecretText.file(t, "psk", baseDir);
        if (psk == null) {
            throw new ConfigException(t.at("psk"), "required: the file that holds the PSK (NVMeTLSkey-1:..)");
        }
        io.nvmpath.fabric.auth.TlsHandshake handshake = t.label("handshake", io.nvmpath.fabric.auth.TlsHandshake.LINUX,
                io.nvmpath.fabric.auth.TlsHandshake::fromLabel);
        return new GatewayConfig.NvmeTls(psk.parse(io.nvmpath.fabric.auth.TlsPsk::parse).withHandshake(handshake),
                psk.file());
    }

    /** Two portals for the same controller would be one portal with two sets of secrets. */
    private static void checkPortalsUnique(List<GatewayConfig.Portal> portals, String at) {
        for (int i = 0; i < portals.size(); i++) {
            for (int j = 0; j < i; j++) {
                if (portals.get(i).sameEndpoint(portals.get(j))) {
                    throw new ConfigException(at + "[" + i + "]", "the same portal as " + at + "[" + j + "]");
                }
            }
        }
    }

    private GatewayConfig.Portal portal(JsonNode node, String at) {
        YamlFields f = YamlFields.of(node, at, PORTAL);
        String traddr = f.string("traddr", null);
        if (traddr == null) {
            throw new ConfigException(f.at("traddr"), "missing");
        }
        String subnqn = f.string("subnqn", null);
        if (subnqn != null) {
            requireNqn(subnqn, f.at("subnqn"));
        }
        int port = f.integer("trsvcid", subnqn == null ? 8009 : 4420);
        requirePort(port, f.at("trsvcid"), false);
        return new GatewayConfig.Portal(traddr, port, subnqn, dhchap(f), portalTls(f));
    }

    private static GatewayConfig.Controller controller(YamlFields f) {
        int queues = f.integer("ioQueues", 0);
        if (queues < 0 || queues > 64) {
            throw new ConfigException(f.at("ioQueues"), queues + " is out of 0..64 (0 = one per event-loop thread)");
        }
        int depth = f.integer("ioQueueSize", 128);
        if (depth < 2 || depth > 1024) {
            throw new ConfigException(f.at("ioQueueSize"), depth + " is out of 2..1024");
        }
        return new GatewayConfig.Controller(duration(f, "keepAliveTimeout", Duration.ofSeconds(5), false),
                duration(f, "reconnectDelay", Duration.ofSeconds(10), false),
                duration(f, "ctrlLossTimeout", Duration.ofSeconds(600), true),
                duration(f, "ioTimeout", Duration.ofSeconds(30), false),
                duration(f, "connectTimeout", Duration.ofSeconds(10), false), queues, depth,
                f.bool("headerDigest", false), f.bool("dataDigest", false),
                duration(f, "dhchapReauthPeriod", Duration.ZERO, false));
    }

    private static GatewayConfig.Multipath multipath(YamlFields f) {
        String failback = f.string("failback", "immediate").toLowerCase(Locale.ROOT);
        try {
            FailbackMode.valueOf(failback.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(f.at("failback"), "\"" + failback + "\" is not one of immediate, delayed, manual");
        }
        return new GatewayConfig.Multipath(iopolicy(f, "numa"), duration(f, "noPathTimeout", Duration.ofSeconds(30),
                true), failback, duration(f, "failbackDelay", Duration.ofSeconds(10), false),
                duration(f, "delayedRemoval", Duration.ZERO, false), writeFailover(f, "safe"),
                duration(f, "unreportedQuiesceTime", Duration.ofSeconds(1), false), marginal(f));
    }

    private static GatewayConfig.Marginal marginal(YamlFields mp) {
        if (!mp.has("marginal")) {
            return GatewayConfig.Marginal.DEFAULT;
        }
        YamlFields f = YamlFields.of(mp.get("marginal"), mp.at("marginal"), MARGINAL);
        GatewayConfig.Marginal d = GatewayConfig.Marginal.DEFAULT;
        int failures = f.integer("failures", d.failures());
        if (failures < 1 || failures > 100) {
            throw new ConfigException(f.at("failures"), failures + " is out of 1..100");
        }
        Duration window = duration(f, "window", d.window(), false);
        if (window.isZero()) {
            throw new ConfigException(f.at("window"), "the window must be longer than 0s");
        }
        return new GatewayConfig.Marginal(failures, window, duration(f, "hold", d.hold(), false));
    }

    private static String writeFailover(YamlFields f, String absent) {
        String w = f.string("writeFailover", absent);
        try {
            return w == null ? null : WriteFailover.fromLabel(w).label();
        } catch (IllegalArgumentException e) {
            throw new ConfigException(f.at("writeFailover"), e.getMessage());
        }
    }

    private static String iopolicy(YamlFields f, String absent) {
        String p = f.string("iopolicy", absent);
        if (p == null) {
            return null;
        }
        try {
            return IoPolicy.fromLabel(p).label();
        } catch (IllegalArgumentException e) {
            throw new ConfigException(f.at("iopolicy"), e.getMessage());
        }
    }

    private GatewayConfig.Nbd nbd(YamlFields f) {
        GatewayConfig.Listen listen = listen(f, "listen", GatewayConfig.DEFAULT_NBD_PORT);
        GatewayConfig.Tls tls = GatewayConfig.Tls.OFF;
        if (f.has("tls")) {
            YamlFields t = YamlFields.of(f.get("tls"), f.at("tls"), TLS);
            String mode = t.string("mode", "require").toLowerCase(Locale.ROOT);
            if (!List.of("off", "allow", "require").contains(mode)) {
                throw new ConfigException(t.at("mode"), "\"" + mode + "\" is not one of off, allow, require");
            }
            tls = tlsFiles(t, mode);
        }
        long max = f.has("maxPayload") ? f.size("maxPayload") : 32L << 20;
        if (max < 4096 || max > (256L << 20)) {
            throw new ConfigException(f.at("maxPayload"), max + " bytes is out of 4KiB..256MiB");
        }
        return new GatewayConfig.Nbd(listen, tls, networks(f, "allow"), (int) max);
    }

    private GatewayConfig.Http http(YamlFields f) {
        GatewayConfig.Listen listen = listen(f, "listen", GatewayConfig.DEFAULT_HTTP_PORT);
        GatewayConfig.Tls tls = null;
        if (f.has("tls")) {
            YamlFields t = YamlFields.of(f.get("tls"), f.at("tls"), HTTP_TLS);
            tls = tlsFiles(t, "require");
        }
        Path token = null;
        if (f.has("token")) {
            token = file(f.string("token", null));
            requireFile(token, f.at("token"));
            try {
                if (Files.readString(token).isBlank()) {
                    throw new ConfigException(f.at("token"), token + " is empty");
                }
            } catch (java.io.IOException e) {
                throw new ConfigException(f.at("token"), "cannot read " + token + ": " + e.getMessage());
            }
        }
        return new GatewayConfig.Http(listen, tls, token);
    }

    /** The PEM files of a TLS section, each read, the key matching the certificate. */
    private GatewayConfig.Tls tlsFiles(YamlFields t, String mode) {
        Path cert = t.has("certificate") ? file(t.string("certificate", null)) : null;
        Path key = t.has("key") ? file(t.string("key", null)) : null;
        Path ca = t.has("clientCa") ? file(t.string("clientCa", null)) : null;
        Path pass = t.has("keyPassphrase") ? file(t.string("keyPassphrase", null)) : null;
        if (!mode.equals("off")) {
            requireFile(cert, t.at("certificate"));
            requireFile(key, t.at("key"));
            try {
                TlsMaterial.load(cert, key, pass, ca); // every form, the key matching the certificate
            } catch (TlsMaterialException e) {
                throw new ConfigException(t.at(switch (e.part()) {
                    case CERTIFICATE -> "certificate";
                    case KEY -> "key";
                    case KEY_PASSPHRASE -> "keyPassphrase";
                    case CLIENT_CA -> "clientCa";
                }), e.getMessage());
            }
        }
        return new GatewayConfig.Tls(mode, cert, key, pass, ca);
    }

    private static List<String> networks(YamlFields f, String key) {
        List<String> l = f.list(key, YamlFields::asString);
        for (int i = 0; i < l.size(); i++) {
            try {
                ClientNetwork.parse(l.get(i));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(f.at(key) + "[" + i + "]", e.getMessage());
            }
        }
        return l;
    }

    private static GatewayConfig.Listen listen(YamlFields parent, String key, int defaultPort) {
        YamlFields f = YamlFields.of(parent.has(key) ? parent.get(key) : YAML.createObjectNode(), parent.at(key),
                LISTEN);
        int port = f.integer("port", defaultPort);
        requirePort(port, f.at("port"), true);
        return new GatewayConfig.Listen(f.string("address", "127.0.0.1"), port);
    }

    private interface Entry<T> {
        T build(JsonNode node, String at);
    }

    private static <T> void mapping(YamlFields top, String key, Entry<T> entry, Map<String, T> out) {
        if (!top.has(key)) {
            return;
        }
        JsonNode n = top.get(key);
        if (!n.isObject()) {
            throw new ConfigException(key, "expected a mapping by name, not " + YamlFields.describe(n));
        }
        for (Map.Entry<String, JsonNode> e : n.properties()) {
            JsonNode v = e.getValue().isNull() ? YAML.createObjectNode() : e.getValue();
            out.put(e.getKey(), entry.build(v, key + "." + e.getKey()));
        }
    }

    private static void checkAliases(Map<String, GatewayConfig.Export> exports) {
        Map<String, String> seen = new LinkedHashMap<>();
        for (Map.Entry<String, GatewayConfig.Export> e : exports.entrySet()) {
            List<String> aliases = e.getValue().aliases();
            for (int i = 0; i < aliases.size(); i++) {
                String a = aliases.get(i);
                String at = "exports." + e.getKey() + ".aliases[" + i + "]";
                if (a.isEmpty() || a.length() > 4096) {
                    throw new ConfigException(at, "an export name has 1..4096 bytes");
                }
                String other = seen.putIfAbsent(a, e.getKey());
                if (other != null || exports.containsKey(a)) {
                    throw new ConfigException(at, "\"" + a + "\" already names " + (other != null ? other : a));
                }
            }
        }
    }

    private static Duration duration(YamlFields f, String key, Duration absent, boolean foreverAllowed) {
        if (!f.has(key)) {
            return absent;
        }
        JsonNode v = f.get(key);
        if (v.isIntegralNumber() && v.canConvertToLong() && v.longValue() >= 0) {
            return Duration.ofSeconds(v.longValue());
        }
        if (v.isTextual()) {
            String s = v.textValue().strip();
            if (foreverAllowed && s.equalsIgnoreCase("forever")) {
                return Duration.ofSeconds(-1);
            }
            Matcher m = DURATION.matcher(s);
            if (m.matches()) {
                String unit = m.group(2) == null ? "s" : m.group(2).toLowerCase(Locale.ROOT);
                try {
                    long n = Long.parseLong(m.group(1));
                    Duration d = switch (unit) {
                        case "ms" -> Duration.ofMillis(n);
                        case "m" -> Duration.ofMinutes(n);
                        case "h" -> Duration.ofHours(n);
                        default -> Duration.ofSeconds(n);
                    };
                    d.toMillis(); // every user of a duration takes it in milliseconds
                    return d;
                } catch (NumberFormatException | ArithmeticException tooLong) {
                    // found by GatewayConfigFuzzTest: a long run of digits was a NumberFormatException
                    throw new ConfigException(f.at(key), "\"" + s + "\" is too long a duration");
                }
            }
        }
        throw new ConfigException(f.at(key), YamlFields.describe(v) + " is not a duration (500ms, 5s, 10m"
                + (foreverAllowed ? ", forever" : "") + ")");
    }

    private static void requireNqn(String nqn, String at) {
        if (nqn.length() > 223 || !NQN.matcher(nqn).matches()) {
            throw new ConfigException(at, "\"" + nqn + "\" is not an NQN (nqn.yyyy-mm.reverse-domain:name, at most 223 bytes)");
        }
    }

    private static void requirePort(int port, String at, boolean zeroAllowed) {
        if (port < (zeroAllowed ? 0 : 1) || port > 65535) {
            throw new ConfigException(at, port + " is not a port (" + (zeroAllowed ? 0 : 1) + "..65535)");
        }
    }

    private Path file(String name) {
        Path p = Path.of(name);
        return baseDir == null || p.isAbsolute() ? p : baseDir.resolve(p).normalize();
    }

    private static void requireFile(Path p, String at) {
        if (p == null) {
            throw new ConfigException(at, "missing (TLS needs a PEM file)");
        }
        if (!Files.isReadable(p)) {
            throw new ConfigException(at, "cannot read " + p);
        }
    }
}
