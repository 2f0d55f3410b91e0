package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Turns the JSON of the target's admin API into {@link Report}s: the JSON as it came, and tables for people. */
final class TargetRender {
    private TargetRender() {
    }

    /** The answer to a change: {@code port 1 (127.0.0.1:4420): ANA group 1 inaccessible}. */
    static Report change(JsonNode port, String what) {
        return new Report((ObjectNode) port, "port " + port.path("id").asText() + " ("
                + RunningTarget.hostPort(port.path("address").asText(), port.path("port").asInt()) + "): " + what
                + System.lineSeparator());
    }

    /** {@code GET /api/v1/target}: a table of ports, the discovery port, a table of controllers. */
    static Report status(JsonNode target) {
        String nl = System.lineSeparator();
        StringBuilder text = new StringBuilder();
        List<String[]> ports = new ArrayList<>();
        ports.add(new String[] {"PORT", "ADDRESS", "ANA", "FAULT", "CONNECTIONS", "SUBSYSTEMS"});
        for (JsonNode p : target.path("ports")) {
            List<String> ana = new ArrayList<>();
            for (Map.Entry<String, JsonNode> e : p.path("anaStates").properties()) {
                ana.add(e.getKey() + "=" + e.getValue().asText());
            }
            List<String> subsystems = new ArrayList<>();
            p.path("subsystems").forEach(s -> subsystems.add(s.asText()));
            ports.add(new String[] {p.path("id").asText(),
                    RunningTarget.hostPort(p.path("address").asText(), p.path("port").asInt()),
                    ana.isEmpty() ? "-" : String.join(",", ana), p.path("fault").asText(),
                    p.path("connections").asText(), String.join(",", subsystems)});
        }
        table(text, ports);
        JsonNode discovery = target.path("discoveryPort");
        text.append("discovery port: ").append(discovery.isNumber() ? discovery.asText() : "none").append(nl);
        text.append(nl);
        if (target.path("controllers").isEmpty()) {
            text.append("no controllers").append(nl);
        } else {
            List<String[]> controllers = new ArrayList<>();
            controllers.add(new String[] {"CNTLID", "SUBSYSTEM", "HOST", "PORT", "IO QUEUES", "KATO MS", "ENABLED"});
            for (JsonNode c : target.path("controllers")) {
                controllers.add(new String[] {c.path("cntlid").asText(), c.path("subsystem").asText(),
                        c.path("hostNqn").asText(), c.path("portId").asText(), c.path("ioQueues").asText(),
                        c.path("katoMillis").asText(), c.path("enabled").asBoolean() ? "yes" : "no"});
            }
            table(text, controllers);
        }
        return new Report((ObjectNode) target, text.toString());
    }

    /** Left-aligned columns two spaces apart, the last one unpadded. */
    private static void table(StringBuilder text, List<String[]> rows) {
        int columns = rows.get(0).length;
        int[] width = new int[columns];
        for (String[] r : rows) {
            for (int i = 0; i < columns; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        for (String[] r : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < columns; i++) {
                line.append(i == columns - 1 ? r[i] : String.format("%-" + (width[i] + 2) + "s", r[i]));
            }
            text.append(line.toString().stripTrailing()).append(System.lineSeparator());
        }
    }
}
