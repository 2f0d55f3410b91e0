package io.nvmpath.target.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.target.config.TargetConfig.Limits;
import io.nvmpath.target.config.TargetConfig.ListenConfig;
import io.nvmpath.target.config.TargetConfig.NamespaceConfig;
import io.nvmpath.target.config.TargetConfig.PortConfig;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
 *       is empty;</li>
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
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(B|KiB|MiB|GiB|TiB)?", Pattern.CASE_INSENSITIVE);
    private static final String SIZE_HINT = "use bytes or KiB/MiB/GiB/TiB";

    private static final Set<String> TOP_KEYS = keys("subsystems", "ports", "discovery", "admin", "anatt", "limits");
    private static final Set<String> SUBSYSTEM_KEYS = keys("nqn", "serial", "model", "firmware", "allowAnyHost",
            "hosts", "namespaces");
    private static final Set<String> NAMESPACE_KEYS = keys("nsid", "size", "path", "lbaSize", "anaGroup", "nguid",
            "eui64", "uuid", "readOnly");
    private static final Set<String> PORT_KEYS = keys("id", "address", "port", "advertise", "subsystems", "anaStates");
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
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file.toString(), "no such file");
        } catch (AccessDeniedException e) {
            throw new ConfigException(file.toString(), "permission denied");
        } catch (IOException e) {
            throw new ConfigException(file.toString(), "cannot read: " + e.getMessage());
        }
        Path dir = file.toAbsolutePath().getParent();
        return new ConfigLoader(dir).build(read(text)).validate();
    }

    /** Builds and validates the configuration in {@code yaml}; namespace paths are taken as written. */
    public static TargetConfig parse(String yaml) {
        return new ConfigLoader(null).build(read(yaml)).validate();
    }

    /** The YAML as a tree; a syntax error becomes one line with its line and column. */
    private static JsonNode read(String yaml) {
        try {
            JsonNode root = YAML.readTree(yaml);
            return root == null || root.isMissingNode() ? YAML.createObjectNode() : root;
        } catch (JsonProcessingException e) {
            if (e.getCause() instanceof MarkedYAMLException y && y.getProblemMark() != null) {
                Mark m = y.getProblemMark();
                throw new ConfigException(at(m.getLine() + 1, m.getColumn() + 1), oneLine(y.getProblem()));
            }
            JsonLocation l = e.getLocation();
            String problem = oneLine(e.getOriginalMessage()).replaceFirst("^Duplicate field ", "duplicate key ");
            throw l == null ? new ConfigException("YAML", problem)
                    : new ConfigException(at(l.getLineNr(), l.getColumnNr()), problem);
        }
    }

    private static String at(int line, int column) {
        return "line " + line + ", column " + column;
    }

    private static String oneLine(String s) {
        return s == null ? "not YAML" : s.strip().replaceAll("\\s*\\R\\s*", " ");
    }

    // ---- the document ------------------------------------------------------------------------

    private TargetConfig build(JsonNode root) {
        Fields top = Fields.of(root, "", TOP_KEYS);
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
        Fields f = Fields.of(node, at, SUBSYSTEM_KEYS);
        String nqn = f.string("nqn", null);
        List<String> hosts = f.list("hosts", Fields::asString);
        boolean allowAnyHost = f.bool("allowAnyHost", hosts.isEmpty());
        List<NamespaceConfig> namespaces = f.list("namespaces", (n, nat, i) -> namespace(n, nat));
        return new SubsystemConfig(nqn, f.string("serial", nqn == null ? null : serialOf(nqn)),
                f.string("model", DEFAULT_MODEL), f.string("firmware", DEFAULT_FIRMWARE), allowAnyHost, hosts,
                namespaces);
    }

    private NamespaceConfig namespace(JsonNode node, String at) {
        Fields f = Fields.of(node, at, NAMESPACE_KEYS);
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

    private static PortConfig port(JsonNode node, String at, int index, List<String> allNqns) {
        Fields f = Fields.of(node, at, PORT_KEYS);
        return new PortConfig(f.integer("id", index + 1), f.string("address", DEFAULT_ADDRESS),
                f.requiredInteger("port"), f.string("advertise", null),
                f.has("subsystems") ? f.list("subsystems", Fields::asString) : allNqns, f.anaStates("anaStates"));
    }

    private static ListenConfig listen(JsonNode node, String at, int defaultPort) {
        Fields f = Fields.of(node, at, LISTEN_KEYS);
        return new ListenConfig(f.string("address", DEFAULT_ADDRESS), f.integer("port", defaultPort));
    }

    private static Limits limits(JsonNode node, String at) {
        Fields f = Fields.of(node, at, LIMIT_KEYS);
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

    /**
     * Parses a size: a whole number of bytes, or one with a binary unit ({@code B}, {@code KiB},
     * {@code MiB}, {@code GiB}, {@code TiB}, any case, optionally after a space).
     *
     * @throws IllegalArgumentException when {@code text} is not one
     */
    public static long parseSize(String text) {
        Matcher m = SIZE.matcher(text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("\"" + text + "\" is not a size (" + SIZE_HINT + ")");
        }
        int shift = m.group(2) == null ? 0 : switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "kib" -> 10;
            case "mib" -> 20;
            case "gib" -> 30;
            case "tib" -> 40;
            default -> 0;
        };
        try {
            long n = Long.parseLong(m.group(1));
            if (n > Long.MAX_VALUE >> shift) {
                throw new NumberFormatException();
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("\"" + text + "\" is too large");
        }
    }

    private static Set<String> keys(String... names) {
        return Set.copyOf(Arrays.asList(names));
    }

    /** Builds one element of a YAML list from its node, its field path and its index. */
    @FunctionalInterface
    private interface Element<T> {
        T build(JsonNode node, String at, int index);
    }

    /**
     * The keys of one YAML mapping, read with their field path: each accessor checks the type and
     * throws a {@link ConfigException} naming {@code path.key} when it is wrong.
     */
    private record Fields(JsonNode node, String path) {
        /** Checks that {@code node} is a mapping whose keys are all in {@code allowed}. */
        static Fields of(JsonNode node, String path, Set<String> allowed) {
            if (!node.isObject()) {
                throw new ConfigException(path.isEmpty() ? "(document)" : path,
                        "expected a mapping, not " + describe(node));
            }
            for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
                String key = it.next();
                if (!allowed.contains(key)) {
                    throw new ConfigException(child(path, key), "unknown key (expected "
                            + allowed.stream().sorted().collect(Collectors.joining(", ")) + ")");
                }
            }
            return new Fields(node, path);
        }

        static String child(String path, String key) {
            return path.isEmpty() ? key : path + "." + key;
        }

        String at(String key) {
            return child(path, key);
        }

        /** Present and not empty: {@code key:}, {@code key: ~} and {@code key: ""} count as absent. */
        boolean has(String key) {
            JsonNode v = node.get(key);
            return v != null && !v.isNull() && !(v.isTextual() && v.textValue().isEmpty());
        }

        JsonNode get(String key) {
            return node.get(key);
        }

        String string(String key, String absent) {
            return has(key) ? asString(get(key), at(key)) : absent;
        }

        static String asString(JsonNode v, String at, int index) {
            return asString(v, at);
        }

        static String asString(JsonNode v, String at) {
            if (v.isTextual()) {
                return v.textValue();
            }
            if (v.isNumber() || v.isBoolean()) {
                // YAML has already read it as a number or boolean (0.10 is 0.1, 0011 is octal): only quotes keep it
                throw new ConfigException(at, "expected a string, not " + describe(v) + " (put the value in quotes)");
            }
            throw new ConfigException(at, "expected a string, not " + describe(v));
        }

        int integer(String key, int absent) {
            if (!has(key)) {
                return absent;
            }
            JsonNode v = get(key);
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw new ConfigException(at(key), "expected an integer, not " + describe(v));
            }
            return v.intValue();
        }

        int requiredInteger(String key) {
            if (!has(key)) {
                throw new ConfigException(at(key), "missing");
            }
            return integer(key, 0);
        }

        boolean bool(String key, boolean absent) {
            if (!has(key)) {
                return absent;
            }
            JsonNode v = get(key);
            if (!v.isBoolean()) {
                throw new ConfigException(at(key), "expected true or false, not " + describe(v));
            }
            return v.booleanValue();
        }

        /** A size in bytes; 0 when absent. */
        long size(String key) {
            if (!has(key)) {
                return 0;
            }
            JsonNode v = get(key);
            if (v.isIntegralNumber() && v.canConvertToLong() && v.longValue() >= 0) {
                return v.longValue();
            }
            if (v.isTextual()) {
                try {
                    return parseSize(v.textValue());
                } catch (IllegalArgumentException e) {
                    throw new ConfigException(at(key), e.getMessage());
                }
            }
            throw new ConfigException(at(key), describe(v) + " is not a size (" + SIZE_HINT + ")");
        }

        /** A list of {@code key}, each element built by {@code element} with its indexed path; empty when absent. */
        <T> List<T> list(String key, Element<T> element) {
            if (!has(key)) {
                return List.of();
            }
            JsonNode v = get(key);
            if (!v.isArray()) {
                throw new ConfigException(at(key), "expected a list, not " + describe(v));
            }
            List<T> out = new ArrayList<>();
            for (int i = 0; i < v.size(); i++) {
                out.add(element.build(v.get(i), at(key) + "[" + i + "]", i));
            }
            return out;
        }

        /** ANA group number to state label, e.g. {@code {1: optimized, 2: inaccessible}}. */
        Map<Integer, AnaState> anaStates(String key) {
            if (!has(key)) {
                return Map.of();
            }
            JsonNode v = get(key);
            if (!v.isObject()) {
                throw new ConfigException(at(key), "expected a mapping of ANA group to state, not " + describe(v));
            }
            Map<Integer, AnaState> out = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> e : v.properties()) {
                String at = at(key) + "." + e.getKey();
                int group;
                try {
                    group = Integer.parseInt(e.getKey().strip());
                } catch (NumberFormatException x) {
                    throw new ConfigException(at, "\"" + e.getKey() + "\" is not an ANA group number");
                }
                String label = asString(e.getValue(), at);
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

        /** A value as an error message shows it: {@code "12XB"}, {@code the number 5}, {@code a list}. */
        static String describe(JsonNode v) {
            if (v.isTextual()) {
                return "\"" + v.textValue() + "\"";
            }
            if (v.isNumber()) {
                return "the number " + v.asText();
            }
            if (v.isBoolean()) {
                return v.asText();
            }
            if (v.isArray()) {
                return "a list";
            }
            if (v.isObject()) {
                return "a mapping";
            }
            return v.isNull() ? "null" : v.getNodeType().toString().toLowerCase(Locale.ROOT);
        }
    }
}
