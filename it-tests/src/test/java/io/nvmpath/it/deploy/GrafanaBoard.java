package io.nvmpath.it.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Grafana dashboard read for its queries: its panels (those nested in collapsed rows too) with
 * the PromQL of their targets, and those queries with the template variables filled in, ready to
 * send to a Prometheus.
 *
 * <p>Variables take Grafana's three forms, {@code $var}, {@code ${var}} (and {@code ${var:format}},
 * the format ignored) and {@code [[var]]}. The interval variables {@code $__rate_interval},
 * {@code $__interval} and {@code $__range} are {@value #DEFAULT_INTERVAL} unless the map gives them.
 */
public final class GrafanaBoard {
    /** What the interval variables become when the caller does not say. */
    public static final String DEFAULT_INTERVAL = "1m";

    private static final List<String> INTERVALS = List.of("__rate_interval", "__interval", "__range");
    /** {@code ${name}} or {@code ${name:format}}, {@code [[name]]} or {@code [[name:format]]}, {@code $name}. */
    private static final Pattern VARIABLE = Pattern.compile(
            "\\$\\{(\\w+)(?::[^\\}]*)?\\}|\\[\\[(\\w+)(?::[^\\]]*)?\\]\\]|\\$(\\w+)");

    /**
     * A panel that shows data (rows themselves are left out).
     *
     * @param title the panel's title
     * @param exprs the {@code expr} of each of its targets, variables unfilled, in target order
     */
    public record Panel(String title, List<String> exprs) {
        public Panel {
            exprs = List.copyOf(exprs);
        }
    }

    private final JsonNode board;
    private final List<Panel> panels;

    private GrafanaBoard(JsonNode board) {
        this.board = board;
        List<Panel> found = new ArrayList<>();
        collect(board.path("panels"), found);
        this.panels = List.copyOf(found);
    }

    /** Reads a dashboard's JSON model (as exported, or as a file provider loads it). */
    public static GrafanaBoard load(Path json) {
        try {
            JsonNode root = new ObjectMapper().readTree(Files.readString(json));
            // an export made with "share externally" or an API answer wraps the model
            JsonNode board = root.has("dashboard") && root.path("dashboard").isObject() ? root.path("dashboard") : root;
            if (!board.path("panels").isArray()) {
                throw new IllegalArgumentException(json + ": not a dashboard (no panels array)");
            }
            return new GrafanaBoard(board);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read dashboard " + json, e);
        }
    }

    /** The dashboard's uid, or empty when it has none. */
    public Optional<String> uid() {
        return Optional.ofNullable(board.path("uid").textValue());
    }

    /** The names of its template variables ({@code templating.list}). */
    public List<String> variables() {
        List<String> names = new ArrayList<>();
        board.path("templating").path("list").forEach(v -> names.add(v.path("name").asText()));
        return names;
    }

    /** Every panel that is not a row, in board order, those inside collapsed rows included. */
    public List<Panel> panels() {
        return panels;
    }

    /**
     * Every target's expr, in board order, with the variables filled in from {@code variables} (a
     * regex such as {@code .+} or a concrete label value, inserted as given) and the interval
     * variables from it or {@value #DEFAULT_INTERVAL}.
     *
     * @throws IllegalArgumentException when a query uses a variable {@code variables} does not give
     */
    public List<String> queries(Map<String, String> variables) {
        Map<String, String> values = new HashMap<>();
        INTERVALS.forEach(i -> values.put(i, DEFAULT_INTERVAL));
        values.putAll(variables);
        List<String> queries = new ArrayList<>();
        for (Panel p : panels) {
            for (String expr : p.exprs()) {
                queries.add(fill(p.title(), expr, values));
            }
        }
        return queries;
    }

    private static String fill(String title, String expr, Map<String, String> values) {
        TreeSet<String> missing = new TreeSet<>();
        Matcher m = VARIABLE.matcher(expr);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String name = m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3);
            String value = values.get(name);
            if (value == null) {
                missing.add(name);
                value = m.group();
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("panel \"" + title + "\": no value for variable(s) " + missing
                    + " in " + expr);
        }
        return out.toString();
    }

    private static void collect(JsonNode list, List<Panel> into) {
        for (JsonNode panel : list) {
            if (!"row".equals(panel.path("type").asText())) {
                List<String> exprs = new ArrayList<>();
                for (JsonNode target : panel.path("targets")) {
                    if (target.hasNonNull("expr")) {
                        exprs.add(target.path("expr").asText());
                    }
                }
                into.add(new Panel(panel.path("title").asText(), exprs));
            }
            // a collapsed row holds its panels; an open row has an empty list and its panels follow it
            collect(panel.path("panels"), into);
        }
    }
}
