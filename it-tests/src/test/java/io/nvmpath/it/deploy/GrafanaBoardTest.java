package io.nvmpath.it.deploy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nvmpath.it.guest.Peers;
import io.nvmpath.server.http.GatewayMeter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * The dashboard {@code deploy/grafana/nvmpath.json} read through {@link GrafanaBoard}: every panel
 * queries, every query fills, and every series and label it asks for is one {@link GatewayMeter}
 * declares; then {@link GrafanaBoard} itself on a small board. A unit test: no Grafana, no Prometheus
 * (only {@code promtool}, when installed, for a real PromQL parse).
 */
class GrafanaBoardTest {
    private static final Map<String, String> ANY = Map.of(
            "subsystem", ".+", "nsid", ".+", "path", ".+", "export", ".+");
    private static final Pattern METRIC = Pattern.compile("\\bnvmpath_[a-z0-9_]+\\b");
    private static final Pattern SELECTOR = Pattern.compile("\\b(nvmpath_[a-z0-9_]+)\\s*\\{([^}]*)}");
    private static final Pattern MATCHER = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)\\s*(=~|!~|!=|=)");
    private static final Pattern GROUPING = Pattern.compile("\\b(?:by|without|on|ignoring)\\s*\\(([^)]*)\\)");

    @TempDir
    Path tmp;

    @Test
    void should_give_every_panel_of_the_board_at_least_one_query() {
        GrafanaBoard board = GrafanaBoard.load(boardFile());

        assertThat(board.uid()).contains("nvmpath");
        assertThat(board.variables()).contains("datasource", "subsystem", "nsid", "path", "export");
        assertThat(board.panels()).hasSizeGreaterThan(10)
                .allSatisfy(p -> assertThat(p.exprs()).as("targets of \"%s\"", p.title()).isNotEmpty());
    }

    @Test
    void should_fill_every_query_of_the_board_with_a_regex_or_a_label_value() {
        GrafanaBoard board = GrafanaBoard.load(boardFile());
        int targets = board.panels().stream().mapToInt(p -> p.exprs().size()).sum();

        assertThat(board.queries(ANY)).hasSize(targets)
                .allSatisfy(q -> assertThat(q).doesNotContain("$", "[[").contains("nvmpath_"));
        assertThat(board.queries(Map.of("subsystem", "nqn.2026-11.io.nvmpath:demo", "nsid", "1",
                "path", "127.0.0.1:4420", "export", "nqn.2026-11.io.nvmpath:demo/1")))
                .anySatisfy(q -> assertThat(q).contains("path=~\"127.0.0.1:4420\""))
                .anySatisfy(q -> assertThat(q).contains("[1m]"))
                .allSatisfy(q -> assertThat(q).doesNotContain("$"));
    }

    @Test
    void should_use_only_series_the_gateway_meter_declares() {
        Map<String, GatewayMeter> declared = declaredSeries();
        Set<String> used = new TreeSet<>();
        for (String expr : exprs()) {
            Matcher m = METRIC.matcher(expr);
            while (m.find()) {
                used.add(m.group());
            }
        }

        assertThat(used).isNotEmpty();
        assertThat(declared.keySet()).as("series declared in GatewayMeter").containsAll(used);
        // the dashboard covers the head, path and export meters the README lists
        assertThat(used).contains("nvmpath_head_usable_paths", "nvmpath_head_queued", "nvmpath_head_queued_bytes",
                "nvmpath_head_nopath_waits_total", "nvmpath_head_nopath_failures_total",
                "nvmpath_head_failovers_total", "nvmpath_head_retries_total",
                "nvmpath_path_controller_state_code", "nvmpath_path_ana_state_code", "nvmpath_path_ops_total",
                "nvmpath_path_bytes_total", "nvmpath_path_latency_seconds_bucket", "nvmpath_path_errors_total",
                "nvmpath_path_keepalive_rtt_seconds", "nvmpath_path_inflight", "nvmpath_export_connections",
                "nvmpath_export_requests_total", "nvmpath_export_errors_total", "nvmpath_export_inflight");
    }

    @Test
    void should_match_and_group_only_by_labels_the_series_have() {
        Map<String, GatewayMeter> declared = declaredSeries();
        List<String> wrong = new ArrayList<>();
        for (String expr : exprs()) {
            Set<String> queryLabels = new HashSet<>();
            Matcher s = SELECTOR.matcher(expr);
            while (s.find()) {
                Set<String> labels = labels(s.group(1), declared);
                queryLabels.addAll(labels);
                Matcher m = MATCHER.matcher(s.group(2));
                while (m.find()) {
                    if (!labels.contains(m.group(1))) {
                        wrong.add(s.group(1) + " has no label " + m.group(1) + ": " + expr);
                    }
                }
            }
            Matcher bare = METRIC.matcher(expr);
            while (bare.find()) {
                queryLabels.addAll(labels(bare.group(), declared));
            }
            Matcher g = GROUPING.matcher(expr);
            while (g.find()) {
                for (String label : g.group(1).split(",")) {
                    if (!label.isBlank() && !queryLabels.contains(label.strip())) {
                        wrong.add("grouping by " + label.strip() + " that no series of the query has: " + expr);
                    }
                }
            }
        }
        assertThat(wrong).isEmpty();
    }

    @Test
    void should_balance_parentheses_braces_and_brackets_in_every_query() {
        List<String> unbalanced = new ArrayList<>();
        for (String q : GrafanaBoard.load(boardFile()).queries(ANY)) {
            String why = balance(q);
            if (why != null) {
                unbalanced.add(why + ": " + q);
            }
        }
        assertThat(unbalanced).isEmpty();
    }

    /** The real parse: promtool checks the filled queries as recording rules. */
    @Test
    void should_parse_every_query_with_promtool() throws Exception {
        Peers.assumeTools("promtool", "prometheus");
        ObjectMapper json = new ObjectMapper();
        ObjectNode rules = json.createObjectNode();
        ObjectNode group = rules.putArray("groups").addObject().put("name", "nvmpath-board");
        ArrayNode list = group.putArray("rules");
        List<String> queries = GrafanaBoard.load(boardFile()).queries(ANY);
        for (int i = 0; i < queries.size(); i++) {
            list.addObject().put("record", "nvmpath_board:query" + i).put("expr", queries.get(i));
        }
        // JSON is YAML: promtool reads it as a rules file
        Path file = tmp.resolve("board-rules.yml");
        Files.writeString(file, json.writeValueAsString(rules));
        Path log = tmp.resolve("promtool.log");

        Process p = new ProcessBuilder("promtool", "check", "rules", file.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("promtool check rules did not finish in 60 s");
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as("promtool check rules\n%s", output).isZero();
        assertThat(output).contains("SUCCESS: " + queries.size() + " rules found");
    }

    // ---- GrafanaBoard itself -------------------------------------------------------------------

    @Test
    void should_read_the_panels_of_collapsed_rows_and_leave_rows_out() throws IOException {
        GrafanaBoard board = GrafanaBoard.load(smallBoard());

        assertThat(board.panels()).containsExactly(
                new GrafanaBoard.Panel("open", List.of("up{job=~\"$job\"}", "rate(x{a=~\"${job}\"}[$__rate_interval])")),
                new GrafanaBoard.Panel("inside collapsed", List.of("sum by (le) (y{b=~\"[[job]]\", c=\"${job:regex}\"})")),
                new GrafanaBoard.Panel("no target", List.of()));
    }

    @Test
    void should_fill_all_three_variable_forms_and_the_intervals() throws IOException {
        GrafanaBoard board = GrafanaBoard.load(smallBoard());

        assertThat(board.queries(Map.of("job", "nvmpath"))).containsExactly(
                "up{job=~\"nvmpath\"}",
                "rate(x{a=~\"nvmpath\"}[1m])",
                "sum by (le) (y{b=~\"nvmpath\", c=\"nvmpath\"})");
        assertThat(board.queries(Map.of("job", ".+", "__rate_interval", "30s")))
                .contains("rate(x{a=~\".+\"}[30s])");
    }

    @Test
    void should_refuse_a_query_whose_variable_is_not_given() throws IOException {
        GrafanaBoard board = GrafanaBoard.load(smallBoard());

        assertThatThrownBy(() -> board.queries(Map.of("other", "x")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("job")
                .hasMessageContaining("open");
    }

    // ---- helpers -------------------------------------------------------------------------------

    private Path smallBoard() throws IOException {
        Path file = tmp.resolve("small.json");
        Files.writeString(file, """
                {"uid": "small", "templating": {"list": [{"name": "job"}]}, "panels": [
                  {"type": "row", "title": "first", "collapsed": false, "panels": []},
                  {"type": "timeseries", "title": "open", "targets": [
                    {"refId": "A", "expr": "up{job=~\\"$job\\"}"},
                    {"refId": "B", "expr": "rate(x{a=~\\"${job}\\"}[$__rate_interval])"}]},
                  {"type": "row", "title": "second", "collapsed": true, "panels": [
                    {"type": "timeseries", "title": "inside collapsed", "targets": [
                      {"refId": "A", "expr": "sum by (le) (y{b=~\\"[[job]]\\", c=\\"${job:regex}\\"})"}]},
                    {"type": "text", "title": "no target"}]}
                ]}
                """);
        return file;
    }

    private static List<String> exprs() {
        return GrafanaBoard.load(boardFile()).panels().stream().flatMap(p -> p.exprs().stream()).toList();
    }

    /** Every series name a scrape can hold: gauges as named, counters with _total, histograms' three. */
    private static Map<String, GatewayMeter> declaredSeries() {
        Map<String, GatewayMeter> series = new HashMap<>();
        for (GatewayMeter m : GatewayMeter.values()) {
            String name = m.prometheusName();
            switch (m.type()) {
                case GAUGE -> series.put(name, m);
                case COUNTER -> series.put(name + "_total", m);
                case HISTOGRAM -> List.of("_bucket", "_sum", "_count").forEach(s -> series.put(name + s, m));
            }
        }
        return series;
    }

    /** The labels of a series: the meter's, plus {@code le} on a histogram's buckets. */
    private static Set<String> labels(String series, Map<String, GatewayMeter> declared) {
        GatewayMeter m = declared.get(series);
        if (m == null) {
            return Set.of();
        }
        Set<String> labels = new HashSet<>(m.labels());
        if (series.endsWith("_bucket")) {
            labels.add("le");
        }
        return labels;
    }

    /** Null when ( [ { close in order outside string literals, else what is wrong. */
    private static String balance(String q) {
        Deque<Character> open = new ArrayDeque<>();
        for (int i = 0; i < q.length(); i++) {
            char c = q.charAt(i);
            if (c == '"' || c == '\'' || c == '`') {
                int end = i + 1;
                while (end < q.length() && q.charAt(end) != c) {
                    end += c != '`' && q.charAt(end) == '\\' ? 2 : 1;
                }
                if (end >= q.length()) {
                    return "unterminated string at " + i;
                }
                i = end;
            } else if (c == '(' || c == '[' || c == '{') {
                open.push(c);
            } else if (c == ')' || c == ']' || c == '}') {
                char expected = c == ')' ? '(' : c == ']' ? '[' : '{';
                if (open.isEmpty() || open.pop() != expected) {
                    return "unmatched '" + c + "' at " + i;
                }
            }
        }
        return open.isEmpty() ? null : "unclosed '" + open.peek() + "'";
    }

    /** {@code deploy/grafana/nvmpath.json}, found from the working directory or one of its parents. */
    private static Path boardFile() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("deploy").resolve("grafana").resolve("nvmpath.json");
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("no deploy/grafana/nvmpath.json above " + Path.of("").toAbsolutePath());
    }
}
