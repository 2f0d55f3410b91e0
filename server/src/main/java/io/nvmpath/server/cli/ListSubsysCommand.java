package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nvmpath.server.http.HttpAdminServer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code nvmpath list-subsys}: what a running gateway sees, as {@code nvme list-subsys} and
 * {@code multipath -ll} show it: each subsystem, its namespace heads with their exports, and each
 * path with its controller state, ANA state and whether I/O may use it. Read from the gateway's
 * HTTP API ({@code /api/v1/subsystems} and {@code /api/v1/exports}); {@code -o json} prints both
 * documents as they came.
 *
 * <pre>
 * nqn.2026-11.io.nvmpath:demo  iopolicy=numa  writes=safe
 * \ nsid 1  1.00 GiB  4096 B  uuid 5f0c2a9e-...  export nqn.2026-11.io.nvmpath:demo/1  queued 0
 *   +- 127.0.0.1:4420 cntlid 1  live  optimized      usable  inflight 0
 *   +- 127.0.0.1:4421 cntlid 2  live  non-optimized  usable  inflight 0
 * </pre>
 */
@Command(name = "list-subsys",
        description = "Show the subsystems of a running gateway: namespace heads, exports and paths with their "
                + "controller and ANA states.")
final class ListSubsysCommand extends CliCommand {
    static final String DEFAULT_URL = "http://127.0.0.1:" + HttpAdminServer.DEFAULT_PORT;

    @Option(names = "--url", paramLabel = "URL", defaultValue = DEFAULT_URL,
            description = "The gateway's HTTP endpoint (default: ${DEFAULT-VALUE}).")
    String url;

    private URI base;

    @Override
    void validate() {
        String u = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        try {
            base = new URI(u);
        } catch (URISyntaxException e) {
            throw new CommandLine.ParameterException(cmd(), "--url '" + url + "' is not a URL");
        }
        Usage.check(cmd(), ("http".equals(base.getScheme()) || "https".equals(base.getScheme()))
                && base.getHost() != null, "--url must be an http:// URL like " + DEFAULT_URL + ", not '" + url + "'");
    }

    @Override
    void run() {
        try (AdminClient http = new AdminClient(base, "the gateway's HTTP endpoint", "an nvmpath gateway")) {
            JsonNode subsystems = http.get("/api/v1/subsystems");
            JsonNode exports = http.get("/api/v1/exports");
            JsonNode failovers = http.get("/api/v1/failovers");
            print(render(subsystems, exports, failovers));
        }
    }

    static Report render(JsonNode subsystems, JsonNode exports) {
        return render(subsystems, exports, Report.object());
    }

    /**
     * The tree of subsystems, heads and paths, with each head's last failover; the JSON is
     * {@code {"subsystems": [...], "exports": [...], "failovers": [...]}}.
     */
    static Report render(JsonNode subsystems, JsonNode exports, JsonNode failovers) {
        String nl = System.lineSeparator();
        ObjectNode json = Report.object();
        json.set("subsystems", subsystems.path("subsystems"));
        json.set("exports", exports.path("exports"));
        json.set("failovers", failovers.path("failovers"));
        StringBuilder text = new StringBuilder();
        if (subsystems.path("subsystems").isEmpty()) {
            text.append("no subsystems").append(nl);
        }
        for (JsonNode s : subsystems.path("subsystems")) {
            String nqn = s.path("nqn").asText();
            text.append(nqn).append("  iopolicy=").append(s.path("ioPolicy").asText());
            if (s.path("writeFailover").isTextual()) {
                text.append("  writes=").append(s.path("writeFailover").asText());
            }
            if (s.path("preferredPath").isTextual()) {
                text.append("  preferred=").append(s.path("preferredPath").asText());
            }
            text.append(nl);
            if (s.path("heads").isEmpty()) {
                text.append("\\ no namespaces").append(nl);
            }
            for (JsonNode h : s.path("heads")) {
                head(text, nqn, h, exports.path("exports"));
                paths(text, h.path("paths"));
                lastFailover(text, nqn, h.path("nsid").asLong(), failovers.path("failovers"));
                for (JsonNode refused : s.path("refused")) {
                    if (refused.path("nsid").asLong() == h.path("nsid").asLong()) {
                        text.append("  x- ").append(refused.path("path").asText()).append("  refused: ")
                                .append(refused.path("reason").asText()).append(nl);
                    }
                }
            }
        }
        return new Report(json, text.toString());
    }

    /**
     * {@code ~ last failover 10.0.0.1:4420 cntlid 1 -> 10.0.0.2:4420 cntlid 2: keep-alive-timeout, stall 4 ms,
     * 3 reads, 5 writes (5 fenced, ccr 2 ms)}: the newest record of the head (they come newest first).
     */
    private static void lastFailover(StringBuilder text, String nqn, long nsid, JsonNode failovers) {
        for (JsonNode f : failovers) {
            if (f.path("subsystem").asText().equals(nqn) && f.path("nsid").asLong() == nsid) {
                long stall = f.path("stallMillis").asLong();
                text.append("  ~ last failover ").append(f.path("from").asText()).append(" -> ")
                        .append(f.path("to").isTextual() ? f.path("to").asText() : "no path").append(": ")
                        .append(f.path("cause").asText()).append(", stall ")
                        .append(stall < 0 ? "-" : stall + " ms").append(", ").append(f.path("reads").asInt())
                        .append(" reads, ").append(f.path("writes").asInt()).append(" writes");
                if (f.path("fenced").asInt() > 0) {
                    text.append(" (").append(f.path("fenced").asInt()).append(" fenced, ")
                            .append(f.path("fenceMethod").asText()).append(" ")
                            .append(f.path("fenceWaitMillis").asLong()).append(" ms)");
                }
                text.append(System.lineSeparator());
                return;
            }
        }
    }

    /** {@code \ nsid 1  1.00 GiB  4096 B  nguid ...  export <name> (<aliases>)  queued 0}. */
    private static void head(StringBuilder text, String nqn, JsonNode h, JsonNode exports) {
        long nsid = h.path("nsid").asLong() & 0xFFFFFFFFL;
        text.append("\\ nsid ").append(nsid).append("  ").append(size(h.path("sizeBytes").asLong()))
                .append("  ").append(h.path("lbaSize").asInt()).append(" B");
        for (String id : List.of("nguid", "eui64", "uuid")) {
            if (h.path(id).isTextual()) {
                text.append("  ").append(id).append(' ').append(h.path(id).asText());
            }
        }
        List<String> names = new ArrayList<>();
        for (JsonNode e : exports) {
            if (e.path("subnqn").asText().equals(nqn) && (e.path("nsid").asLong() & 0xFFFFFFFFL) == nsid) {
                List<String> aliases = new ArrayList<>();
                e.path("aliases").forEach(a -> aliases.add(a.asText()));
                names.add(e.path("name").asText() + (aliases.isEmpty() ? "" : " (" + String.join(", ", aliases) + ")"));
            }
        }
        text.append("  export ").append(names.isEmpty() ? "-" : String.join(", ", names))
                .append("  queued ").append(h.path("queuedIos").asInt())
                .append(h.path("fencedIos").asInt() > 0 ? " (" + h.path("fencedIos").asInt() + " writes fenced)" : "")
                .append(System.lineSeparator());
    }

    /** {@code +- <name>  <controller state>  <ANA state>  <usable[,held|,marginal]>  inflight N}, columns aligned. */
    private static void paths(StringBuilder text, JsonNode paths) {
        List<String[]> rows = new ArrayList<>();
        for (JsonNode p : paths) {
            String use = p.path("usable").asBoolean() ? "usable" : "unusable";
            if (p.path("marginal").asBoolean()) {
                use += ",marginal";
            } else if (p.path("heldBack").asBoolean()) {
                use += ",held";
            }
            rows.add(new String[] {p.path("name").asText(), p.path("controllerState").asText(),
                    p.path("anaState").asText(), use, "inflight " + p.path("inFlight").asInt()});
        }
        int[] width = new int[5];
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        for (String[] r : rows) {
            StringBuilder line = new StringBuilder("  +- ");
            for (int i = 0; i < r.length; i++) {
                line.append(i == r.length - 1 ? r[i] : String.format("%-" + (width[i] + 2) + "s", r[i]));
            }
            text.append(line).append(System.lineSeparator());
        }
    }

    /** Binary units with two decimals: {@code 1.00 GiB}; bytes below 1 KiB. */
    static String size(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        if (bytes < 1024) {
            return bytes + " B";
        }
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.2f %s", v, units[u]);
    }
}
