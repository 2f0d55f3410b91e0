package io.nvmpath.target.config;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.nvmpath.config.ConfigException;
import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.DhGroup;
import io.nvmpath.fabric.auth.DhchapSecret;
import io.nvmpath.config.SecretText;
import io.nvmpath.config.YamlFields;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.target.config.TargetConfig.DhchapHost;
import io.nvmpath.target.config.TargetConfig.Limits;
import io.nvmpath.target.config.TargetConfig.ListenConfig;
import io.nvmpath.target.config.TargetConfig.NamespaceConfig;
import io.nvmpath.target.config.TargetConfig.PortConfig;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Reads a {@link TargetConfig} from YAML. The document is read as a tree and the records are built
 * here, key by key, so that every error names the field as the YAML spells it
 * ({@code subsystems[0].namespaces[1].size}) — unknown keys, wrong types, bad sizes, unknown ANA
 * states — before {@link TargetConfig#validate()} checks the semantics.
 *
 * <p>Keys are the record components' names in camelCase. Optional keys and sections:
 * <ul>
 *   <li>{@code discovery}, {@code admin}: absent means none; each of their keys defaults
 *       (address 127.0.0.1, port 8009 and {@value TargetConfig#DEFAULT_ADMIN_PORT});</li>
 *   <li>{@code limits}: absent means {@link Limits#DEFAULTS}, and so does each absent limit;</li>
 *   <li>{@code anatt}: 10 seconds;</li>
 *   <li>a subsystem's {@code serial} is derived from its NQN, {@code model} is {@value #DEFAULT_MODEL},
 *       {@code firmware} {@value #DEFAULT_FIRMWARE}; {@code allowAnyHost} is true when {@code hosts}
 *       is empty; {@code cqt} is 0 ms and {@code crossControllerReset} true;</li>
 *   <li>a namespace's {@code lbaSize} is 512, {@code anaGroup} 1; without {@code path} it lives in
 *       memory; a relative {@code path} is relative to the configuration file's directory;</li>
 *   <li>a port's {@code id} is its position from 1, {@code address} 127.0.0.1, {@code subsystems}
 *       every subsystem; ANA groups not in {@code anaStates} are optimized.</li>
 * </ul>
 * Sizes are a number of bytes or a string with a binary unit: {@code 512}, {@code 4KiB},
 * {@code 256MiB}, {@code 1GiB}, {@code 2TiB}. A key with an empty value counts as absent.
 */
public final class ConfigLoader {
    /** Identify Controller MN of a subsystem that does not give one. */
    public static final String DEFAULT_MODEL = "nvmpath target";
    /** Identify Controller FR of a subsystem that does not give one. */
    public static final String DEFAULT_FIRMWARE = "0.1";
    /** The address ports, discovery and admin bind when the YAML does not say: loopback only. */
    public static final String DEFAULT_ADDRESS = "127.0.0.1";
    /** The well-known NVMe/TCP discovery port. */
    public static final int DEFAULT_DISCOVERY_PORT = 8009;
    /** ANA transition time when the YAML does not give {@code anatt}. */
    public static final int DEFAULT_ANATT = 10;

    private static final ObjectMapper YAML = new YAMLMapper(YAMLFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build());

    private static final Set<String> TOP_KEYS = keys("subsystems", "ports", "discovery", "admin", "anatt", "limits");
    private static final Set<String> SUBSYSTEM_KEYS = keys("nqn", "serial", "model", "firmware", "allowAnyHost",
            "hosts", "namespaces", "cqt", "crossControllerReset");
    private static final Set<String> HOST_KEYS = keys("nqn", "dhchapKey", "dhchapKeyFile", "dhchapCtrlKey",
            "dhchapCtrlKeyFile", "dhchapHash", "dhchapDhGroup");
    private static final Set<String> NAMESPACE_KEYS = keys("nsid", "size", "path", "lbaSize", "anaGroup", "nguid",
            "eui64", "uuid", "readOnly");
    private static final Set<String> PORT_KEYS = keys("id", "address", "port", "advertise", "subsystems", "anaStates",
            "tls");
    private static final Set<String> PORT_TLS_KEYS = keys("psk", "handshake");
    private static final Set<String> LISTEN_KEYS = keys("address", "port");
    private static final Set<String> LIMIT_KEYS = keys("mdts", "inCapsuleDataSize", "maxH2CData", "ioQueueSize",
            "maxIoQueues", "headerDigest", "dataDigest");

    private final Path baseDir;

    private ConfigLoader(Path baseDir) {
        this.baseDir = baseDir;
    }

    /**
     * Reads, builds and validates the configuration in {@code file}.
     *
     * @throws ConfigException naming the wrong field, the line and column of a YAML syntax error,
     *                         or the file when it cannot be read
     */
    public static TargetConfig load(Path file) {
        String text = YamlFields.readFile(file);
        Path dir = file.toAbsolutePath().getParent();
        return new ConfigLoader(dir).build(read(text)).validate();
    }

    /** Builds and validates the configuration in {@code yaml}; namespace paths are taken as written. */
    public static TargetConfig parse(String yaml) {
        return new ConfigLoader(null).build(read(yaml)).validate();
    }

    /** The YAML as a tree; a syntax error becomes one line with its line and column. */
    private static JsonNode read(String yaml) {
        return YamlFields.readTree(YAML, yaml);
    }

    // ---- the document ------------------------------------------------------------------------

    private TargetConfig build(JsonNode root) {
        YamlFields top = YamlFields.of(root, "", TOP_KEYS);
        List<SubsystemConfig> subsystems = top.list("subsystems", (node, at, i) -> subsystem(node, at));
        List<String> allNqns = subsystems.stream().map(SubsystemConfig::nqn).toList();
        List<PortConfig> ports = top.list("ports", (node, at, i) -> port(node, at, i, allNqns));
        ListenConfig discovery = top.has("discovery") ? listen(top.get("discovery"), "discovery",
                DEFAULT_DISCOVERY_PORT) : null;
        ListenConfig admin = top.has("admin") ? listen(top.get("admin"), "admin",
                TargetConfig.DEFAULT_ADMIN_PORT) : null;
        Limits limits = top.has("limits") ? limits(top.get("limits"), "limits") : Limits.DEFAULTS;
        int anatt = top.integer("anatt", DEFAULT_ANATT);
        return new TargetConfig(subsystems, ports, discovery, limits, admin, anatt);
    }

    private SubsystemConfig subsystem(JsonNode node, String at) {
        YamlFields f = YamlFields.of(node, at, SUBSYSTEM_KEYS);
        String nqn = f.string("nqn", null);
        Map<String, DhchapHost> dhchap = new LinkedHashMap<>();
        List<String> hosts = f.list("hosts", (n, hat, i) -> host(n, hat, dhchap));
        boolean allowAnyHost = f.bool("allowAnyHost", hosts.isEmpty());
        List<NamespaceConfig> namespaces = f.list("namespaces", (n, nat, i) -> namespace(n, nat));
        return new SubsystemConfig(nqn, f.string("serial", nqn == null ? null : serialOf(nqn)),
                f.string("model", DEFAULT_MODEL), f.string("firmware", DEFAULT_FIRMWARE), allowAnyHost, hosts,
                namespaces, f.integer("cqt", 0), f.bool("crossControllerReset", true), dhchap);
    }

    /**
     * A host entry: its NQN, or a mapping with {@code nqn} and its DH-HMAC-CHAP settings, each secret
     * inline ({@code dhchapKey}, {@code dhchapCtrlKey}) or in a file ({@code dhchapKeyFile},
     * {@code dhchapCtrlKeyFile}, relative to the configuration file's directory), in the
     * {@code DHHC-1:<hh>:<base64>:} form of nvme-cli and nvmet. A bad secret is refused naming the
     * field and what is wrong, never the secret.
     */
    private String host(JsonNode node, String at, Map<String, DhchapHost> dhchap) {
        if (!node.isObject()) {
            return YamlFields.asString(node, at);
        }
        YamlFields f = YamlFields.of(node, at, HOST_KEYS);
        String nqn = f.string("nqn", null);
        if (nqn == null) {
            throw new ConfigException(f.at("nqn"), "required");
        }
        DhchapSecret hostKey = secret(f, "dhchapKey");
        DhchapSecret ctrlKey = secret(f, "dhchapCtrlKey");
        String hashName = f.string("dhchapHash", null);
        String groupName = f.string("dhchapDhGroup", null);
        if (hostKey == null) {
            for (String k : List.of("dhchapCtrlKey", "dhchapCtrlKeyFile", "dhchapHash", "dhchapDhGroup")) {
                if (f.has(k)) {
                    throw new ConfigException(f.at(k), "needs dhchapKey or dhchapKeyFile");
                }
            }
            return nqn;
        }
        AuthHash hash = hashName == null ? null : AuthHash.fromName(hashName.strip());
        if (hashName != null && hash == null) {
            throw new ConfigException(f.at("dhchapHash"), "\"" + hashName
                    + "\" is not hmac(sha256), hmac(sha384) or hmac(sha512)");
        }
        DhGroup group = groupName == null ? null : DhGroup.fromName(groupName.strip());
        if (groupName != null && group == null) {
            throw new ConfigException(f.at("dhchapDhGroup"), "\"" + groupName
                    + "\" is not null or ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144, ffdhe8192");
        }
        dhchap.put(nqn, new DhchapHost(hostKey, ctrlKey, hash, group));
        return nqn;
    }

    /** The secret of {@code key} (inline) or {@code key}File, or {@code null} when neither is given. */
    private DhchapSecret secret(YamlFields f, String key) {
        SecretText t = SecretText.read(f, key, baseDir, true);
        return t == null ? null : t.parse(DhchapSecret::parse);
    }

    private NamespaceConfig namespace(JsonNode node, String at) {
        YamlFields f = YamlFields.of(node, at, NAMESPACE_KEYS);
        int nsid = f.requiredInteger("nsid");
        long size = f.size("size");
        String path = f.string("path", null);
        if (path != null && baseDir != null) {
            path = baseDir.resolve(path).normalize().toString();
        }
        return new NamespaceConfig(nsid, size, path, f.integer("lbaSize", 512), f.integer("anaGroup", 1),
                f.string("nguid", null), f.string("eui64", null), f.string("uuid", null),
                f.bool("readOnly", false));
    }

    private PortConfig port(JsonNode node, String at, int index, List<String> allNqns) {
        YamlFields f = YamlFields.of(node, at, PORT_KEYS);
        return new PortConfig(f.integer("id", index + 1), f.string("address", DEFAULT_ADDRESS),
                f.requiredInteger("port"), f.string("advertise", null),
                f.has("subsystems") ? f.list("subsystems", YamlFields::asString) : allNqns, anaStates(f, "anaStates"),
                tls(f));
    }

    /**
     * {@code tls: {psk: FILE}}: the port's configured PSK in the interchange format
     * ({@code NVMeTLSkey-1:..}), read from FILE (relative to the configuration's directory); null
     * without a {@code tls} mapping.
     */
    private io.nvmpath.fabric.auth.TlsPsk tls(YamlFields port) {
        if (!port.has("tls")) {
            return null;
        }
        YamlFields t = YamlFields.of(port.get("tls"), port.at("tls"), PORT_TLS_KEYS);
        SecretText psk = SecretText.file(t, "psk", baseDir);
        if (psk == null) {
            throw new ConfigException(t.at("psk"), "required: the file that holds the PSK (NVMeTLSkey-1:..)");
        }
        return psk.parse(io.nvmpath.fabric.auth.TlsPsk::parse).withHandshake(t.label("handshake",
                io.nvmpath.fabric.auth.TlsHandshake.LINUX, io.nvmpath.fabric.auth.TlsHandshake::fromLabel));
    }

    /** ANA group number to state label, e.g. {@code {1: optimized, 2: inaccessible}}. */
    private static Map<Integer, AnaState> anaStates(YamlFields f, String key) {
        if (!f.has(key)) {
            return Map.of();
        }
        JsonNode v = f.get(key);
        if (!v.isObject()) {
            throw new ConfigException(f.at(key), "expected a mapping of ANA group to state, not "
                    + YamlFields.describe(v));
        }
        Map<Integer, AnaState> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : v.properties()) {
            String at = f.at(key) + "." + e.getKey();
            int group;
            try {
                group = Integer.parseInt(e.getKey().strip());
            } catch (NumberFormatException x) {
                throw new ConfigException(at, "\"" + e.getKey() + "\" is not an ANA group number");
            }
            String label = YamlFields.asString(e.getValue(), at);
            AnaState state = AnaState.fromLabel(label.strip());
            if (state == null) {
                throw new ConfigException(at, "\"" + label + "\" is not an ANA state ("
                        + Arrays.stream(AnaState.values()).map(AnaState::label).collect(Collectors.joining(", "))
                        + ")");
            }
            out.put(group, state);
        }
        return out;
    }

    private static ListenConfig listen(JsonNode node, String at, int defaultPort) {
        YamlFields f = YamlFields.of(node, at, LISTEN_KEYS);
        return new ListenConfig(f.string("address", DEFAULT_ADDRESS), f.integer("port", defaultPort));
    }

    private static Limits limits(JsonNode node, String at) {
        YamlFields f = YamlFields.of(node, at, LIMIT_KEYS);
        Limits d = Limits.DEFAULTS;
        return new Limits(f.integer("mdts", d.mdts()), f.integer("inCapsuleDataSize", d.inCapsuleDataSize()),
                f.integer("maxH2CData", d.maxH2CData()), f.integer("ioQueueSize", d.ioQueueSize()),
                f.integer("maxIoQueues", d.maxIoQueues()), f.bool("headerDigest", d.headerDigest()),
                f.bool("dataDigest", d.dataDigest()));
    }

    /**
     * A serial number that stays the same for the same NQN across restarts: {@code NVMPATH} and 13
     * hex digits of the NQN's hash (20 characters, the width of Identify Controller SN).
     */
    static String serialOf(String nqn) {
        long h = 1125899906842597L;
        for (byte b : nqn.getBytes(StandardCharsets.UTF_8)) {
            h = 31 * h + b;
        }
        return "NVMPATH" + HexFormat.of().withUpperCase().toHexDigits(h).substring(3);
    }

    private static Set<String> keys(String... names) {
        return Set.copyOf(Arrays.asList(names));
    }
}
