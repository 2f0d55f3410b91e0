package io.nvmpath.deploy.grafana;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code deploy/grafana}: the provisioning a Grafana container reads (the Prometheus datasource, a
 * file provider for the board's folder) and the board itself, as JSON Grafana loads. The board's
 * queries are checked against the gateway's meters by the it-tests' {@code GrafanaBoardTest}.
 */
class ProvisioningTest {
    private static final String DASHBOARDS = "/var/lib/grafana/dashboards";

    @Test
    void should_provision_the_compose_prometheus_as_the_default_datasource() throws IOException {
        JsonNode yaml = yaml(grafana().resolve("provisioning/datasources/prometheus.yaml"));

        assertThat(yaml.path("apiVersion").asInt()).isEqualTo(1);
        assertThat(yaml.path("datasources")).hasSize(1);
        JsonNode ds = yaml.path("datasources").get(0);
        assertThat(ds.path("name").asText()).isEqualTo("Prometheus");
        assertThat(ds.path("uid").asText()).isEqualTo("prometheus");
        assertThat(ds.path("type").asText()).isEqualTo("prometheus");
        assertThat(ds.path("url").asText()).isEqualTo("http://prometheus:9090");
        assertThat(ds.path("isDefault").asBoolean()).isTrue();
    }

    @Test
    void should_load_the_boards_of_the_dashboards_folder_from_files() throws IOException {
        JsonNode yaml = yaml(grafana().resolve("provisioning/dashboards/nvmpath.yaml"));

        assertThat(yaml.path("apiVersion").asInt()).isEqualTo(1);
        assertThat(yaml.path("providers")).hasSize(1);
        JsonNode provider = yaml.path("providers").get(0);
        assertThat(provider.path("type").asText()).isEqualTo("file");
        assertThat(provider.path("options").path("path").asText()).isEqualTo(DASHBOARDS);
    }

    @Test
    void should_be_a_dashboard_grafana_loads_with_uid_nvmpath() throws IOException {
        JsonNode board = new ObjectMapper().readTree(Files.readString(grafana().resolve("nvmpath.json")));

        assertThat(board.path("uid").asText()).isEqualTo("nvmpath");
        assertThat(board.path("title").asText()).isEqualTo("nvmpath gateway");
        assertThat(board.path("schemaVersion").asInt()).isEqualTo(39);
        assertThat(board.path("refresh").asText()).isEqualTo("10s");
        JsonNode datasource = variable(board, "datasource");
        assertThat(datasource.path("type").asText()).isEqualTo("datasource");
        assertThat(datasource.path("query").asText()).isEqualTo("prometheus");
        for (String name : List.of("subsystem", "nsid", "path", "export")) {
            JsonNode v = variable(board, name);
            assertThat(v.path("multi").asBoolean()).as("%s multi", name).isTrue();
            assertThat(v.path("includeAll").asBoolean()).as("%s includeAll", name).isTrue();
            assertThat(v.path("datasource").path("uid").asText()).as("%s datasource", name).isEqualTo("${datasource}");
        }
    }

    @Test
    void should_query_the_datasource_variable_from_every_panel_and_target() throws IOException {
        JsonNode board = new ObjectMapper().readTree(Files.readString(grafana().resolve("nvmpath.json")));
        List<JsonNode> panels = new ArrayList<>();
        collect(board.path("panels"), panels);

        assertThat(panels).isNotEmpty().allSatisfy(p -> {
            String title = p.path("title").asText();
            assertThat(p.path("datasource").path("uid").asText()).as("datasource of %s", title)
                    .isEqualTo("${datasource}");
            assertThat(p.path("targets")).as("targets of %s", title).isNotEmpty()
                    .allSatisfy(t -> assertThat(t.path("datasource").path("uid").asText()).isEqualTo("${datasource}"));
        });
    }

    /** The compose file mounts the board into the folder the provider reads, and the provisioning where Grafana looks. */
    @Test
    void should_be_mounted_by_the_compose_grafana_where_the_provisioning_points() throws IOException {
        JsonNode compose = yaml(grafana().resolveSibling("compose").resolve("compose.yaml"));
        List<String> volumes = new ArrayList<>();
        compose.path("services").path("grafana").path("volumes").forEach(v -> volumes.add(v.asText()));

        assertThat(volumes).anySatisfy(v -> assertThat(v).startsWith("../grafana/provisioning:/etc/grafana/provisioning"));
        assertThat(volumes).anySatisfy(v -> assertThat(v).startsWith("../grafana/nvmpath.json:" + DASHBOARDS + "/"));
    }

    private static JsonNode variable(JsonNode board, String name) {
        for (JsonNode v : board.path("templating").path("list")) {
            if (name.equals(v.path("name").asText())) {
                return v;
            }
        }
        throw new AssertionError("no template variable " + name);
    }

    /** Every panel that is not a row, those in collapsed rows included. */
    private static void collect(JsonNode list, List<JsonNode> into) {
        for (JsonNode p : list) {
            if (!"row".equals(p.path("type").asText())) {
                into.add(p);
            }
            collect(p.path("panels"), into);
        }
    }

    private static JsonNode yaml(Path file) throws IOException {
        return new YAMLMapper().readTree(Files.readString(file));
    }

    /** {@code deploy/grafana}, found from the working directory or one of its parents. */
    private static Path grafana() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("deploy").resolve("grafana");
            if (Files.isRegularFile(candidate.resolve("nvmpath.json"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("no deploy/grafana/nvmpath.json above " + Path.of("").toAbsolutePath());
    }
}
