package io.nvmpath.config;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What every configuration error says, whichever loader reads the document: the field, then the problem. */
class YamlFieldsTest {
    /** The mapper both loaders read with: a key given twice is an error. */
    private static final ObjectMapper YAML = new YAMLMapper(YAMLFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build());
    private static final Set<String> KEYS = Set.of("name", "port", "enabled", "size", "hosts", "limits");

    private static YamlFields top(String yaml) {
        return YamlFields.of(YamlFields.readTree(YAML, yaml), "", KEYS);
    }

    private static YamlFields limits(String yaml) {
        YamlFields top = top(yaml);
        return YamlFields.of(top.get("limits"), top.at("limits"), KEYS);
    }

    @Test
    void should_read_each_kind_of_value_and_default_what_is_absent() {
        YamlFields f = top("""
                name: gw1
                port: 4420
                enabled: true
                size: 64MiB
                hosts: [a, b]
                """);

        assertThat(f.string("name", null)).isEqualTo("gw1");
        assertThat(f.integer("port", 0)).isEqualTo(4420);
        assertThat(f.bool("enabled", false)).isTrue();
        assertThat(f.size("size")).isEqualTo(64L << 20);
        assertThat(f.list("hosts", (n, at, i) -> at + "=" + YamlFields.asString(n, at))).containsExactly(
                "hosts[0]=a", "hosts[1]=b");
        YamlFields empty = top("{}");
        assertThat(empty.string("name", "default")).isEqualTo("default");
        assertThat(empty.integer("port", 7)).isEqualTo(7);
        assertThat(empty.size("size")).isZero();
        assertThat(empty.list("hosts", YamlFields::asString)).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', textBlock = """
            # value        | present
            'name:'        | false
            'name: ~'      | false
            'name: ""'     | false
            'name: " "'    | true
            'name: x'      | true
            """)
    void should_count_an_empty_value_as_absent(String yaml, boolean present) {
        assertThat(top(yaml).has("name")).isEqualTo(present);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', textBlock = """
            # what is wrong              | document                 | field          | message
            an unknown key               | 'nmae: x'                | nmae           | 'nmae: unknown key (expected enabled, hosts, limits, name, port, size)'
            a port that is text          | 'port: "x"'              | port           | 'port: expected an integer, not "x"'
            a port beyond an int         | 'port: 99999999999'      | port           | 'port: expected an integer, not the number 99999999999'
            a word for a boolean         | 'enabled: maybe'         | enabled        | 'enabled: expected true or false, not "maybe"'
            an unquoted version          | 'name: 1.10'             | name           | 'name: expected a string, not the number 1.1 (put the value in quotes)'
            a string that is a list      | 'name: [a]'              | name           | 'name: expected a string, not a list'
            a negative size              | 'size: -512'             | size           | 'size: the number -512 is not a size (use bytes or KiB/MiB/GiB/TiB)'
            a decimal size unit          | 'size: 64MB'             | size           | 'size: "64MB" is not a size (use bytes or KiB/MiB/GiB/TiB)'
            a list that is a mapping     | 'hosts: {a: b}'          | hosts          | 'hosts: expected a list, not a mapping'
            a nested unknown key         | 'limits: {mtds: 5}'      | limits.mtds    | 'limits.mtds: unknown key (expected enabled, hosts, limits, name, port, size)'
            a nested mapping that is text | 'limits: big'           | limits         | 'limits: expected a mapping, not "big"'
            """)
    void should_name_the_field_when(String what, String yaml, String field, String message) {
        assertThatThrownBy(() -> {
            YamlFields f = yaml.startsWith("limits") ? limits(yaml) : top(yaml);
            f.string("name", null);
            f.integer("port", 0);
            f.bool("enabled", false);
            f.size("size");
            f.list("hosts", YamlFields::asString);
        })
                .isInstanceOf(ConfigException.class)
                .hasMessage(message)
                .extracting(e -> ((ConfigException) e).field()).isEqualTo(field);
    }

    @Test
    void should_say_a_required_key_is_missing() {
        assertThatThrownBy(() -> limits("limits: {}").requiredInteger("port"))
                .isInstanceOf(ConfigException.class)
                .hasMessage("limits.port: missing");
    }

    @Test
    void should_say_what_the_document_should_be_when_it_is_not_a_mapping() {
        assertThatThrownBy(() -> top("just some text\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessage("(document): expected a mapping, not \"just some text\"");
    }

    @Test
    void should_read_an_empty_document_as_an_empty_mapping() {
        JsonNode root = YamlFields.readTree(YAML, "");

        assertThat(root.isObject()).isTrue();
        assertThat(root.isEmpty()).isTrue();
    }

    @Test
    void should_give_a_syntax_error_in_one_line_with_its_line_and_column() {
        assertThatThrownBy(() -> YamlFields.readTree(YAML, "name: x\nhosts: [{name: a}\nport: 1\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessage("line 3, column 1: expected ',' or ']', but got <scalar>")
                .hasMessageNotContaining("\n");
    }

    @Test
    void should_refuse_a_key_given_twice_with_its_line() {
        assertThatThrownBy(() -> YamlFields.readTree(YAML, "name: x\nport: 1\nport: 2\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessageMatching("line 3, column \\d+: duplicate key 'port'");
    }

    @Test
    void should_name_the_file_when_it_does_not_exist(@TempDir Path dir) {
        Path file = dir.resolve("missing.yaml");

        assertThatThrownBy(() -> YamlFields.readFile(file))
                .isInstanceOf(ConfigException.class)
                .hasMessage(file + ": no such file")
                .extracting(e -> ((ConfigException) e).field()).isEqualTo(file.toString());
    }

    @Test
    void should_read_a_file_as_its_text(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("a.yaml"), "name: é\n");

        assertThat(YamlFields.readFile(file)).isEqualTo("name: é\n");
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource({"512, 512", "4KiB, 4096", "1 GiB, 1073741824", "256mib, 268435456", "2TiB, 2199023255552",
            "7B, 7"})
    void should_parse_sizes_with_binary_units(String text, long bytes) {
        assertThat(YamlFields.parseSize(text)).isEqualTo(bytes);
    }

    @Test
    void should_refuse_a_size_that_does_not_fit_in_64_bits() {
        assertThatThrownBy(() -> YamlFields.parseSize("99999999TiB"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("\"99999999TiB\" is too large");
    }

    @Test
    void should_describe_values_as_an_error_message_shows_them() {
        JsonNode n = YamlFields.readTree(YAML, "{t: x, n: 5, b: true, l: [1], m: {a: 1}, z: ~}");

        assertThat(List.of("t", "n", "b", "l", "m", "z")).extracting(k -> YamlFields.describe(n.get(k)))
                .containsExactly("\"x\"", "the number 5", "true", "a list", "a mapping", "null");
    }

    @Test
    void should_refuse_a_file_beyond_the_bound_without_reading_it_all(@TempDir Path dir) throws Exception {
        Path big = dir.resolve("image.raw");
        Files.write(big, new byte[YamlFields.MAX_FILE_BYTES + 1]);
        assertThatThrownBy(() -> YamlFields.readFile(big)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("image.raw").hasMessageContaining("not a configuration or key file");
        // an endless stream (a device given as a key file) is refused the same way
        assertThatThrownBy(() -> YamlFields.readFile(Path.of("/dev/zero"))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("longer than");
        Path fits = dir.resolve("fits.key");
        Files.writeString(fits, "DHHC-1:00:x:\n");
        assertThat(YamlFields.readFile(fits)).isEqualTo("DHHC-1:00:x:\n");
    }
}
