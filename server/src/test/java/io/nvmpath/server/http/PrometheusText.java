package io.nvmpath.server.http;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Prometheus text format 0.0.4, parsed as far as the tests need: every sample with its labels,
 * and the TYPE of every family. A malformed line, or a series given twice, fails the parse: that is
 * what Prometheus would refuse.
 */
final class PrometheusText {
    /** One sample line. */
    record Sample(String name, Map<String, String> labels, double value) {
    }

    private final List<Sample> samples = new ArrayList<>();
    private final Map<String, String> types = new HashMap<>();

    private PrometheusText() {
    }

    static PrometheusText parse(String text) {
        PrometheusText t = new PrometheusText();
        Map<String, Sample> series = new HashMap<>();
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            if (line.startsWith("# TYPE ")) {
                String[] f = line.substring("# TYPE ".length()).split(" ");
                t.types.put(f[0], f[1]);
                continue;
            }
            if (line.startsWith("#")) {
                continue;
            }
            Sample s = sample(line);
            String key = s.name() + new TreeMap<>(s.labels());
            if (series.put(key, s) != null) {
                throw new IllegalStateException("series given twice: " + line);
            }
            t.samples.add(s);
        }
        return t;
    }

    private static Sample sample(String line) {
        int i = 0;
        while (i < line.length() && line.charAt(i) != '{' && line.charAt(i) != ' ') {
            i++;
        }
        String name = line.substring(0, i);
        Map<String, String> labels = new LinkedHashMap<>();
        if (line.charAt(i) == '{') {
            i++;
            while (line.charAt(i) != '}') {
                int eq = line.indexOf('=', i);
                String label = line.substring(i, eq);
                if (line.charAt(eq + 1) != '"') {
                    throw new IllegalStateException("unquoted label value: " + line);
                }
                StringBuilder v = new StringBuilder();
                int j = eq + 2;
                for (; line.charAt(j) != '"'; j++) {
                    char c = line.charAt(j);
                    if (c == '\\') {
                        char n = line.charAt(++j);
                        v.append(n == 'n' ? '\n' : n);
                    } else {
                        v.append(c);
                    }
                }
                labels.put(label, v.toString());
                i = j + 1;
                if (line.charAt(i) == ',') {
                    i++;
                }
            }
            i++;
        }
        String value = line.substring(i).strip().split(" ")[0];
        return new Sample(name, labels, switch (value) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            case "NaN" -> Double.NaN;
            default -> Double.parseDouble(value);
        });
    }

    List<Sample> samples() {
        return samples;
    }

    /** The samples named {@code name} whose labels include {@code labelPairs} (name, value, name, value...). */
    List<Sample> samples(String name, String... labelPairs) {
        List<Sample> out = new ArrayList<>();
        for (Sample s : samples) {
            if (s.name().equals(name) && matches(s, labelPairs)) {
                out.add(s);
            }
        }
        return out;
    }

    /** The value of the one sample {@code name} with labels including {@code labelPairs}; null if none. */
    Double value(String name, String... labelPairs) {
        List<Sample> found = samples(name, labelPairs);
        if (found.size() > 1) {
            throw new IllegalStateException(found.size() + " samples match " + name + " " + List.of(labelPairs)
                    + ": " + found);
        }
        return found.isEmpty() ? null : found.get(0).value();
    }

    /** The TYPE line's type of family {@code name}, or null. */
    String type(String family) {
        return types.get(family);
    }

    Map<String, String> types() {
        return types;
    }

    private static boolean matches(Sample s, String... labelPairs) {
        for (int i = 0; i < labelPairs.length; i += 2) {
            if (!labelPairs[i + 1].equals(s.labels().get(labelPairs[i]))) {
                return false;
            }
        }
        return true;
    }
}
