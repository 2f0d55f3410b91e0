package io.nvmpath.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * YAML configuration read as a tree, key by key, so that every error names the field as the YAML
 * spells it ({@code subsystems[0].namespaces[1].size}): the keys of one mapping with their field
 * path; each accessor checks the type and throws a {@link ConfigException} naming {@code path.key}
 * when it is wrong. The target's and the gateway's configurations are read with it; what is
 * particular to one of them (ANA states, durations, NQNs) stays with its loader.
 */
public record YamlFields(JsonNode node, String path) {

    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(B|KiB|MiB|GiB|TiB)?", Pattern.CASE_INSENSITIVE);
    private static final String SIZE_HINT = "use bytes or KiB/MiB/GiB/TiB";

    /** Builds one element of a YAML list from its node, its field path and its index. */
    @FunctionalInterface
    public interface Element<T> {
        T build(JsonNode node, String at, int index);
    }

    /** The largest configuration, secret or key file read: nothing an operator writes comes near it. */
    public static final int MAX_FILE_BYTES = 1 << 20;

    /**
     * The text of a configuration file; an unreadable one becomes a {@link ConfigException} naming it,
     * as does one longer than {@link #MAX_FILE_BYTES} (read no further: {@code /dev/zero} or a wrong
     * path to a disk image is refused, not loaded).
     */
    public static String readFile(Path file) {
        try (java.io.InputStream in = Files.newInputStream(file)) {
            byte[] b = in.readNBytes(MAX_FILE_BYTES + 1);
            if (b.length > MAX_FILE_BYTES) {
                throw new ConfigException(file.toString(), "longer than " + MAX_FILE_BYTES + " bytes: not a configuration"
                        + " or key file");
            }
            return new String(b, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file.toString(), "no such file");
        } catch (AccessDeniedException e) {
            throw new ConfigException(file.toString(), "permission denied");
        } catch (IOException e) {
            throw new ConfigException(file.toString(), "cannot read: " + e.getMessage());
        }
    }

    /** The YAML as a tree; a syntax error becomes one line with its line and column. */
    public static JsonNode readTree(ObjectMapper mapper, String yaml) {
        try {
            JsonNode root = mapper.readTree(yaml);
            return root == null || root.isMissingNode() ? mapper.createObjectNode() : root;
        } catch (JsonProcessingException e) {
            if (e.getCause() instanceof MarkedYAMLException y && y.getProblemMark() != null) {
                Mark m = y.getProblemMark();
                throw new ConfigException(lineColumn(m.getLine() + 1, m.getColumn() + 1), oneLine(y.getProblem()));
            }
            JsonLocation l = e.getLocation();
            String problem = oneLine(e.getOriginalMessage()).replaceFirst("^Duplicate field ", "duplicate key ");
            throw l == null ? new ConfigException("YAML", problem)
                    : new ConfigException(lineColumn(l.getLineNr(), l.getColumnNr()), problem);
        }
    }

    private static String lineColumn(int line, int column) {
        return "line " + line + ", column " + column;
    }

    private static String oneLine(String s) {
        return s == null ? "not YAML" : s.strip().replaceAll("\\s*\\R\\s*", " ");
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


    /** Checks that {@code node} is a mapping whose keys are all in {@code allowed}. */
    public static YamlFields of(JsonNode node, String path, Set<String> allowed) {
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
        return new YamlFields(node, path);
    }

    public static String child(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    public String at(String key) {
        return child(path, key);
    }

    /** Present and not empty: {@code key:}, {@code key: ~} and {@code key: ""} count as absent. */
    public boolean has(String key) {
        JsonNode v = node.get(key);
        return v != null && !v.isNull() && !(v.isTextual() && v.textValue().isEmpty());
    }

    public JsonNode get(String key) {
        return node.get(key);
    }

    public String string(String key, String absent) {
        return has(key) ? asString(get(key), at(key)) : absent;
    }

    public static String asString(JsonNode v, String at, int index) {
        return asString(v, at);
    }

    public static String asString(JsonNode v, String at) {
        if (v.isTextual()) {
            return v.textValue();
        }
        if (v.isNumber() || v.isBoolean()) {
            // YAML has already read it as a number or boolean (0.10 is 0.1, 0011 is octal): only quotes keep it
            throw new ConfigException(at, "expected a string, not " + describe(v) + " (put the value in quotes)");
        }
        throw new ConfigException(at, "expected a string, not " + describe(v));
    }

    /**
     * A label read by {@code parse} (which names the choices in its IllegalArgumentException), or
     * {@code absent} when the key is not there; a wrong one is a {@link ConfigException} at the key.
     */
    public <T> T label(String key, T absent, java.util.function.Function<String, T> parse) {
        if (!has(key)) {
            return absent;
        }
        try {
            return parse.apply(asString(get(key), at(key)));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(at(key), e.getMessage());
        }
    }

    public int integer(String key, int absent) {
        if (!has(key)) {
            return absent;
        }
        JsonNode v = get(key);
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new ConfigException(at(key), "expected an integer, not " + describe(v));
        }
        return v.intValue();
    }

    public int requiredInteger(String key) {
        if (!has(key)) {
            throw new ConfigException(at(key), "missing");
        }
        return integer(key, 0);
    }

    public boolean bool(String key, boolean absent) {
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
    public long size(String key) {
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
    public <T> List<T> list(String key, Element<T> element) {
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

    /** A value as an error message shows it: {@code "12XB"}, {@code the number 5}, {@code a list}. */
    public static String describe(JsonNode v) {
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
