package io.nvmpath.it.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nvmpath.it.guest.Peers;
import io.nvmpath.server.gateway.Gateway;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Reload as an operator does it, through the real binary ({@code bin/nvmpath serve --config}): the
 * file edited, then SIGHUP or {@code POST /api/v1/reload}. A second portal, an alias and debug logging
 * come without a restart; a wrong file is refused whole, the configuration in force stays, and the API names the
 * field.
 */
class ReloadIT {
    private static final Duration T = Duration.ofSeconds(60);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static String config(int nbd, int http, String extra, int... ports) {
        StringBuilder y = new StringBuilder("host: {stateFile: host.properties}\nportals:\n");
        for (int p : ports) {
            y.append("  - {traddr: 127.0.0.1, trsvcid: ").append(p).append(", subnqn: \"")
                    .append(TargetConfig.DEMO_NQN).append("\"}\n");
        }
        return y.append("nbd: {listen: {address: 127.0.0.1, port: ").append(nbd).append("}}\n")
                .append("http: {listen: {address: 127.0.0.1, port: ").append(http).append("}}\n").append(extra).toString();
    }

    @Test
    void should_reload_on_sighup_and_on_post_and_refuse_a_wrong_file_whole() throws Exception {
        Peers.assumeTools("nbdinfo", "libnbd-bin");
        Path dir = Files.createTempDirectory("nvmpath-reload-it");
        int nbd = freePort();
        int http = freePort();
        String base = "http://127.0.0.1:" + http;
        String export = Gateway.exportName(TargetConfig.DEMO_NQN, 1);
        try (NvmeTarget target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0))) {
            Path cfg = dir.resolve("gateway.yaml");
            Files.writeString(cfg, config(nbd, http, "", target.port(1)));
            try (ServeProcess serve = ServeProcess.start(cfg, dir.resolve("serve.log"))) {
                serve.await("ready", T, () -> get(base + "/ready").statusCode() == 200);
                assertThat(paths(base)).isEqualTo(1);

                assertThat(serve.log()).doesNotContain(" DEBUG ");

                // SIGHUP: a second portal, an alias, debug logging
                Files.writeString(cfg, config(nbd, http, "exports:\n  \"" + export + "\": {aliases: [db]}\n"
                        + "log: {level: debug}\n", target.port(1), target.port(2)));
                hangup(serve.process());
                serve.await("the second path", T, () -> paths(base) == 2);
                serve.await("debug lines", T, () -> serve.log().contains(" DEBUG HttpAdminHandler - http: GET "));
                serve.await("the alias", T,
                        () -> Tool.run(T, "nbdinfo", "--size", "nbd://127.0.0.1:" + nbd + "/db").rc() == 0);

                // a wrong file: refused whole, on SIGHUP (logged) and on POST (400 naming the field)
                Files.writeString(cfg, config(nbd, http, "exports:\n  \"" + export + "\": {aliases: [db], readonly: true}\n",
                        target.port(1)));
                Tool.Result check = Tool.run(T, Peers.launcher(), "check-config", cfg.toString());
                assertThat(check.rc()).as("check-config on the wrong file").isEqualTo(2);
                assertThat(check.err()).startsWith("nvmpath check-config: exports." + export + ".readonly: unknown key");
                hangup(serve.process());
                serve.await("the refusal in the log", T, () -> serve.log().contains(
                        "SIGHUP: reload refused, the configuration in force stays: exports." + export + ".readonly"));
                HttpResponse<String> refused = post(base + "/api/v1/reload");
                assertThat(refused.statusCode()).isEqualTo(400);
                assertThat(JSON.readTree(refused.body()).path("error").asText())
                        .startsWith("reload refused, nothing changed: exports." + export + ".readonly: unknown key");
                assertThat(paths(base)).as("the configuration in force stays").isEqualTo(2);

                // POST: the second portal removed again
                Files.writeString(cfg, config(nbd, http, "exports:\n  \"" + export + "\": {aliases: [db]}\n",
                        target.port(1)));
                HttpResponse<String> ok = post(base + "/api/v1/reload");
                assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
                JsonNode applied = JSON.readTree(ok.body()).path("applied");
                assertThat(applied.toString()).contains("portal 127.0.0.1:" + target.port(2) + " "
                        + TargetConfig.DEMO_NQN + " removed");
                serve.await("one path again", T, () -> paths(base) == 1);
                assertThat(serve.log()).contains("configuration reloaded: ");
            }
        }
    }

    private static void hangup(Process p) throws Exception {
        Tool.run(T, "kill", "-HUP", Long.toString(p.pid())).requireOk("kill -HUP");
    }

    private static int paths(String base) throws Exception {
        JsonNode s = JSON.readTree(get(base + "/api/v1/subsystems").body()).path("subsystems").get(0);
        return s.path("heads").get(0).path("paths").size();
    }

    private static HttpResponse<String> get(String url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> post(String url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }
}
