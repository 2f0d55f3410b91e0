package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.math.BigInteger;

/**
 * A command's result in both output formats, built side by side so they cannot drift apart: the
 * nvme-cli style text and the JSON document.
 */
record Report(ObjectNode json, String text) {
    static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** The text for {@link OutputFormat#normal}, the pretty-printed JSON (with a final newline) else. */
    String render(OutputFormat format) {
        return format == OutputFormat.json ? toJson(json) : text;
    }

    static String toJson(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node) + System.lineSeparator();
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + node, e);
        }
    }

    static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    /** Puts a 64-bit value read as unsigned from the wire (so never negative in the JSON). */
    static void putUnsigned(ObjectNode o, String name, long v) {
        if (v >= 0) {
            o.put(name, v);
        } else {
            o.put(name, new BigInteger(Long.toUnsignedString(v)));
        }
    }

    /** Text as C's {@code %#x} prints it: {@code 0x1b36}, and plain {@code 0} for zero. */
    static String hex(long v) {
        return v == 0 ? "0" : "0x" + Long.toHexString(v);
    }

    /**
     * "name : value" lines with the name padded to a fixed width, as nvme-cli prints identify data,
     * each value also put into a JSON object under the same name.
     */
    static final class Fields {
        private final ObjectNode json;
        private final StringBuilder text;
        private final int width;

        Fields(ObjectNode json, StringBuilder text, int width) {
            this.json = json;
            this.text = text;
            this.width = width;
        }

        /** A number nvme-cli prints in hex ({@code %#x}); a number in the JSON. */
        Fields hex(String name, long v) {
            putUnsigned(json, name, v);
            return line(name, Report.hex(v));
        }

        /** A number nvme-cli prints in decimal. */
        Fields dec(String name, long v) {
            putUnsigned(json, name, v);
            return line(name, Long.toUnsignedString(v));
        }

        /** A string: ASCII fields, NQNs, identifiers as lowercase hex; JSON null and no line when absent. */
        Fields str(String name, String v) {
            json.put(name, v);
            return v == null ? this : line(name, v);
        }

        Fields line(String name, String value) {
            text.append(String.format("%-" + width + "s: %s%n", name, value));
            return this;
        }
    }
}
