package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nvmpath.server.gateway.GatewayConfig;
import io.nvmpath.server.gateway.HostIdentity;
import io.nvmpath.server.tls.TlsMaterial;
import io.nvmpath.server.tls.TlsMaterialException;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a gateway configuration would do, checked without connecting anything: the configuration
 * reader has already checked fields, files and TLS material; here the listen addresses are bound for
 * a moment (a port in use is a problem), and the plan is rendered for {@code check-config} and
 * {@code serve --check}.
 */
final class ConfigPlan {
    private ConfigPlan() {
    }

    /** Problems that would stop the gateway from starting, one phrase each (empty: it would start). */
    static List<String> problems(GatewayConfig c) {
        List<String> out = new ArrayList<>();
        portFree("nbd.listen", c.nbd().listen(), out);
        if (c.http() != null) {
            portFree("http.listen", c.http().listen(), out);
        }
        return out;
    }

    private static void portFree(String field, GatewayConfig.Listen l, List<String> out) {
        if (l.port() == 0) {
            return; // any free port
        }
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(l.address(), l.port()));
        } catch (IOException e) {
            out.add(field + ": cannot listen on " + l + ": " + e.getMessage());
        }
    }

    /** The plan, in both output formats. */
    static Report render(Path file, GatewayConfig c, List<String> problems) {
        ObjectNode json = Report.object();
        StringBuilder t = new StringBuilder();
        json.put("configuration", String.valueOf(file));
        json.put("ok", problems.isEmpty());
        ArrayNode p = json.putArray("problems");
        problems.forEach(p::add);
        t.append("configuration ").append(file).append(": ").append(problems.isEmpty() ? "OK" : "NOT OK").append('\n');
        problems.forEach(x -> t.append("  problem: ").append(x).append('\n'));

        GatewayConfig.Host h = c.host();
        Path state = h.stateFile() != null ? h.stateFile() : HostIdentity.defaultStateFile();
        String identity = h.nqn() != null && h.id() != null ? "host NQN " + h.nqn() + " (configured)"
                : "host NQN and ID kept in " + state + (h.nqn() != null ? " (NQN configured: " + h.nqn() + ")" : "");
        json.put("host", identity);
        t.append(identity).append('\n');

        ArrayNode portals = json.putArray("portals");
        t.append("portals: ").append(c.portals().size()).append(c.portals().isEmpty() ? " (nothing to serve)" : "")
                .append('\n');
        for (GatewayConfig.Portal x : c.portals()) {
            String line = (x.discovery() ? "discovery " : "direct    ") + x.traddr() + ":" + x.trsvcid()
                    + (x.discovery() ? " (every subsystem it lists, kept connected)" : " " + x.subnqn())
                    + (x.dhchap() == null ? "" : ", " + x.dhchap().describe())
                    + (x.tls() == null ? "" : ", " + x.tls().describe());
            portals.add(line.replaceAll(" +", " "));
            t.append("  ").append(line).append('\n');
        }
        GatewayConfig.Controller k = c.controller();
        String controller = "keep-alive " + d(k.keepAliveTimeout()) + ", reconnect every " + d(k.reconnectDelay())
                + ", controller loss after " + d(k.ctrlLossTimeout()) + ", I/O timeout " + d(k.ioTimeout())
                + ", connect timeout " + d(k.connectTimeout()) + ", " + (k.ioQueues() > 0 ? k.ioQueues() : "one per core")
                + " I/O queue(s) of " + k.ioQueueSize() + (k.headerDigest() ? ", header digest" : "")
                + (k.dataDigest() ? ", data digest" : "");
        json.put("controller", controller);
        t.append("controller: ").append(controller).append('\n');
        GatewayConfig.Multipath m = c.multipath();
        String multipath = "iopolicy " + m.iopolicy() + ", no-path timeout " + d(m.noPathTimeout()) + ", failback "
                + m.failback() + ("delayed".equals(m.failback()) ? " after " + d(m.failbackDelay()) : "")
                + ", delayed removal " + d(m.delayedRemoval());
        json.put("multipath", multipath);
        t.append("multipath: ").append(multipath).append('\n');
        for (Map.Entry<String, GatewayConfig.Subsystem> s : c.subsystems().entrySet()) {
            String line = s.getKey() + ":" + (s.getValue().iopolicy() == null ? "" : " iopolicy " + s.getValue().iopolicy())
                    + (s.getValue().preferredPath() == null ? "" : " preferred path " + s.getValue().preferredPath())
                    + (s.getValue().dhchap() == null ? "" : " " + s.getValue().dhchap().describe())
                    + (s.getValue().tls() == null ? "" : " " + s.getValue().tls().describe());
            json.withArray("subsystems").add(line);
            t.append("  subsystem ").append(line).append('\n');
        }

        GatewayConfig.Nbd n = c.nbd();
        String nbd = "listen " + n.listen() + ", TLS " + n.tls().mode() + tls(n.tls()) + ", clients "
                + (n.allow().isEmpty() ? "from anywhere" : "from " + n.allow()) + ", max payload "
                + (n.maxPayload() >> 20) + " MiB";
        json.put("nbd", nbd);
        t.append("nbd: ").append(nbd).append('\n');
        for (Map.Entry<String, GatewayConfig.Export> e : c.exports().entrySet()) {
            GatewayConfig.Export x = e.getValue();
            String line = e.getKey() + (x.aliases().isEmpty() ? "" : " aliases " + x.aliases())
                    + (x.readOnly() ? ", read-only" : "") + (x.allow().isEmpty() ? "" : ", clients from " + x.allow());
            json.withArray("exports").add(line);
            t.append("  export ").append(line).append('\n');
        }
        String http = c.http() == null ? "off" : "listen " + c.http().listen()
                + (c.http().tls() == null ? ", plain HTTP" : ", HTTPS" + tls(c.http().tls()))
                + (c.http().token() != null ? ", POST/DELETE with the bearer token in " + c.http().token()
                : c.http().tls() != null && c.http().tls().clientCa() != null ? ", POST/DELETE with a client certificate"
                : io.nvmpath.server.http.HttpAccess.isLoopback(c.http().address()) ? ", POST/DELETE open (loopback only)"
                : ", POST/DELETE refused (no token, no client CA, not loopback)");
        json.put("http", http);
        t.append("http: ").append(http).append('\n');
        return new Report(json, t.toString());
    }

    private static String tls(GatewayConfig.Tls t) {
        if (t.mode().equals("off")) {
            return "";
        }
        try {
            TlsMaterial m = TlsMaterial.load(t.certificate(), t.key(), t.keyPassphrase(), t.clientCa());
            return " with " + m.describe() + (m.clientCas().isEmpty() ? "" : ", client certificates required ("
                    + m.clientCas().size() + " CA(s) from " + t.clientCa() + ")");
        } catch (TlsMaterialException e) {
            return " (" + e.getMessage() + ")"; // the reader checked it; changed since
        }
    }

    private static String d(Duration x) {
        if (x == null || x.isNegative()) {
            return "never";
        }
        return x.toMillis() % 1000 == 0 ? x.toSeconds() + " s" : x.toMillis() + " ms";
    }
}
