package io.nvmpath.server.app;

import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.DhGroup;
import io.nvmpath.fabric.auth.DhchapSecret;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.testing.Await;
import io.nvmpath.fabric.testing.LogCapture;
import io.nvmpath.multipath.ControllerPathIo;
import io.nvmpath.server.gateway.Gateway;
import io.nvmpath.server.gateway.GatewayConfigLoader;
import io.nvmpath.server.gateway.GatewayView;
import io.nvmpath.server.nbd.RawNbdClient;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import io.nvmpath.target.config.TargetConfig.DhchapHost;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The gateway authenticates its paths with DH-HMAC-CHAP: secrets from files, per portal and per
 * subsystem, against the project's target in this JVM. A refused secret is a failed connect with
 * backoff, shown on the portal's view and in the metrics; a rotated secret file is used from the
 * next connect after a reload; no secret reaches a log line, the HTTP API or the metrics.
 */
class GatewayDhchapTest {
    private static final String NQN = TargetConfig.DEMO_NQN;
    private static final String HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:5b0e8d4c-1b2a-4e55-8f00-6a7d3c2b1a09";
    private static final SecureRandom RANDOM = new SecureRandom();

    @TempDir
    Path dir;
    private final List<DhchapSecret> secrets = new ArrayList<>();
    private LogCapture logs;
    private NvmeTarget target;
    private GatewayApp app;

    @BeforeEach
    void captureLogs() {
        logs = LogCapture.start();
    }

    @AfterEach
    void stop() {
        if (app != null) {
            app.shutdown(Duration.ofSeconds(2));
        }
        if (target != null) {
            target.close();
        }
        logs.close();
        String logged = logs.text();
        for (DhchapSecret s : secrets) {
            assertThat(logged).as("a secret in the log").doesNotContain(s.format()).doesNotContain(keyPart(s));
        }
    }

    private DhchapSecret secret(int length, AuthHash transform) {
        DhchapSecret s = DhchapSecret.generate(length, transform, RANDOM);
        secrets.add(s);
        return s;
    }

    /** The base64 of key and CRC: the part of a DHHC-1 string that is secret. */
    private static String keyPart(DhchapSecret s) {
        return s.format().split(":")[2];
    }

    private Path file(String name, DhchapSecret s) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, s.format() + "\n");
        return f;
    }

    private void startTarget(DhchapHost keys) throws Exception {
        TargetConfig demo = TargetConfig.demo(0, 0, 0, 0);
        SubsystemConfig sub = demo.subsystems().get(0).withDhchap(Map.of(HOST_NQN, keys));
        target = NvmeTarget.start(new TargetConfig(List.of(sub), demo.ports(), demo.discovery(), demo.limits(),
                demo.admin(), demo.anatt()).validate());
    }

    /** The gateway's configuration file: two portals, the first with {@code portal1Extra}, plus {@code extra}. */
    private Path config(String portal1Extra, String extra) throws Exception {
        String yaml = "host: {nqn: \"" + HOST_NQN + "\", stateFile: host.properties}\n"
                + "portals:\n"
                + "  - {traddr: 127.0.0.1, trsvcid: " + target.port(1) + ", subnqn: \"" + NQN + "\"" + portal1Extra + "}\n"
                + "  - {traddr: 127.0.0.1, trsvcid: " + target.port(2) + ", subnqn: \"" + NQN + "\"}\n"
                + "controller: {keepAliveTimeout: 2s, reconnectDelay: 200ms, connectTimeout: 2s}\n"
                + "nbd: {listen: {port: 0}}\nhttp: {listen: {port: 0}}\n" + extra;
        Path f = dir.resolve("gateway.yaml");
        Files.writeString(f, yaml);
        return f;
    }

    private Gateway start(Path configFile) throws Exception {
        app = GatewayApp.start(GatewayConfigLoader.load(configFile), true);
        app.gateway().reloader().configSource(() -> GatewayConfigLoader.load(configFile));
        return app.gateway();
    }

    private GatewayView.Portal portal(Gateway g, int port) {
        return g.view().portals().stream().filter(p -> p.trsvcid() == port).findFirst().orElseThrow();
    }

    private String get(String path) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + app.httpAddress().getPort() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return r.body();
    }

    /** The series of nvmpath_portal_connect_failures_total of a direct portal on 127.0.0.1 of the demo subsystem. */
    private static String failures(int port, String reason) {
        return "nvmpath_portal_connect_failures_total{portal=\"127.0.0.1:" + port + "\",kind=\"direct\",subsystem=\""
                + NQN + "\",reason=\"" + reason + "\",}";
    }

    @Test
    void should_serve_through_a_bidirectionally_keyed_portal_and_one_keyed_by_its_subsystem() throws Exception {
        DhchapSecret host = secret(48, AuthHash.SHA384);
        DhchapSecret ctrl = secret(32, null);
        startTarget(new DhchapHost(host, ctrl, AuthHash.SHA384, DhGroup.FFDHE2048));
        file("host.key", host);
        file("ctrl.key", ctrl);
        Gateway g = start(config(", dhchapSecretFile: host.key, dhchapCtrlSecretFile: ctrl.key",
                "subsystems: {\"" + NQN + "\": {dhchapSecretFile: host.key}}\n"));
        String name = Gateway.exportName(NQN, 1);
        g.awaitExport(name).get(10, TimeUnit.SECONDS);
        Await.until("both paths", () -> g.multipath().head(NQN, 1).paths().size() == 2);

        byte[] data = new byte[65536];
        new Random(1).nextBytes(data);
        try (RawNbdClient c = RawNbdClient.open(g.nbdAddress(), name)) {
            c.write(1, 1 << 20, data);
            assertThat(c.readSimpleReply(0).error()).isZero();
            c.read(2, 1 << 20, data.length);
            assertThat(c.readSimpleReply(data.length).data()).isEqualTo(data);
        }
        String portals = get("/api/v1/portals");
        String metrics = get("/metrics");
        assertThat(metrics).contains(failures(target.port(1), "authentication") + " 0.0");
        for (DhchapSecret s : secrets) {
            assertThat(portals).doesNotContain(keyPart(s));
            assertThat(metrics).doesNotContain(keyPart(s));
        }
    }

    @Test
    void should_back_off_on_a_refused_secret_show_why_and_use_a_rotated_file_after_a_reload() throws Exception {
        DhchapSecret right = secret(32, AuthHash.SHA256);
        DhchapSecret wrong = secret(32, AuthHash.SHA256);
        startTarget(new DhchapHost(right, null, AuthHash.SHA256, DhGroup.NULL));
        file("host.key", right);
        file("wrong.key", wrong);
        Path cfg = config(", dhchapSecretFile: wrong.key", "subsystems: {\"" + NQN + "\": {dhchapSecretFile: host.key}}\n");
        Gateway g = start(cfg);
        String name = Gateway.exportName(NQN, 1);
        g.awaitExport(name).get(10, TimeUnit.SECONDS); // through port 2, keyed by the subsystem
        int refused = target.port(1);
        Await.until("three refusals of port 1", () -> portal(g, refused).authenticationFailures() >= 3);
        GatewayView.Portal p = portal(g, refused);
        assertThat(p.state()).isEqualTo("retrying");
        assertThat(p.lastError()).startsWith("authentication failed: the controller rejected the host's response"
                + " (DH-HMAC-CHAP failure reason 1h, explanation 01h: authentication failed)");
        assertThat(p.failures()).isEqualTo(p.authenticationFailures());
        String metrics = get("/metrics");
        assertThat(metrics).containsPattern(java.util.regex.Pattern.quote(failures(refused, "authentication")) + " [3-9]");
        // warned about once, not once per attempt
        assertThat(logs.text().lines().filter(l -> l.startsWith("WARNING: portal 127.0.0.1:" + refused + " ")))
                .hasSize(1);

        // the operator fixes the file; the reload re-reads it and the next attempt uses it
        Files.writeString(dir.resolve("wrong.key"), right.format());
        assertThat(g.reloader().reload().needsRestart()).isEmpty();
        Await.until("port 1 connected with the fixed secret", () -> portal(g, refused).state().equals("connected"));
        Await.until("both paths", () -> g.multipath().head(NQN, 1).paths().size() == 2);
    }

    @Test
    void should_delete_a_path_whose_reconnect_is_refused_and_connect_it_again_with_the_new_secret() throws Exception {
        DhchapSecret first = secret(32, null);
        startTarget(new DhchapHost(first, null, AuthHash.SHA256, DhGroup.FFDHE2048));
        file("host.key", first);
        Path cfg = config("", "subsystems: {\"" + NQN + "\": {dhchapSecretFile: host.key}}\n");
        Gateway g = start(cfg);
        g.awaitExport(Gateway.exportName(NQN, 1)).get(10, TimeUnit.SECONDS);
        Await.until("both paths", () -> g.multipath().head(NQN, 1).paths().size() == 2);

        // the array's key is rotated; port 1's association is lost and its reconnect is refused
        DhchapSecret second = secret(32, null);
        target.setDhchap(NQN, HOST_NQN, new DhchapHost(second, null, AuthHash.SHA256, DhGroup.FFDHE2048));
        target.setFault(1, new Fault.Down());
        target.setFault(1, Fault.NONE);
        int port1 = target.port(1);
        Await.until("port 1's controller deleted after a refused reconnect",
                () -> portal(g, port1).authenticationFailures() >= 1);
        assertThat(portal(g, port1).lastError()).contains("authentication failed");
        Await.until("one path", () -> g.multipath().head(NQN, 1).paths().size() == 1);

        Files.writeString(dir.resolve("host.key"), second.format());
        g.reloader().reload();
        Await.until("port 1 back with the rotated secret", () -> g.multipath().head(NQN, 1).paths().size() == 2);
    }

    /** The controllers of the demo subsystem's paths. */
    private static List<Controller> controllers(Gateway g) {
        return g.multipath().subsystem(NQN).controllers().stream()
                .map(io -> ((ControllerPathIo) io).controller()).toList();
    }

    @Test
    void should_reauthenticate_live_paths_with_the_secrets_a_reload_rotates_without_reconnecting() throws Exception {
        DhchapSecret host = secret(32, AuthHash.SHA256);
        DhchapSecret ctrl = secret(32, AuthHash.SHA256);
        startTarget(new DhchapHost(host, ctrl, AuthHash.SHA256, DhGroup.FFDHE2048));
        file("host.key", host);
        file("ctrl.key", ctrl);
        Path cfg = config("", "subsystems: {\"" + NQN + "\": {dhchapSecretFile: host.key, dhchapCtrlSecretFile: ctrl.key}}\n");
        Gateway g = start(cfg);
        String name = Gateway.exportName(NQN, 1);
        g.awaitExport(name).get(10, TimeUnit.SECONDS);
        Await.until("both paths", () -> g.multipath().head(NQN, 1).paths().size() == 2);
        List<Controller> before = controllers(g);

        // the array gets new keys for the host, then the operator writes them into the files and reloads
        DhchapSecret newHost = secret(48, AuthHash.SHA384);
        DhchapSecret newCtrl = secret(64, AuthHash.SHA512);
        target.setDhchap(NQN, HOST_NQN, new DhchapHost(newHost, newCtrl, AuthHash.SHA256, DhGroup.FFDHE2048));
        Files.writeString(dir.resolve("host.key"), newHost.format());
        Files.writeString(dir.resolve("ctrl.key"), newCtrl.format());
        byte[] data = new byte[65536];
        new Random(2).nextBytes(data);
        try (RawNbdClient c = RawNbdClient.open(g.nbdAddress(), name)) {
            assertThat(g.reloader().reload().applied()).filteredOn(l -> l.contains("DH-HMAC-CHAP secrets rotated"))
                    .hasSize(2);
            Await.until("both paths re-authenticated", () -> before.stream()
                    .allMatch(k -> k.reauthentications() == 1));
            c.write(1, 1 << 20, data);
            assertThat(c.readSimpleReply(0).error()).isZero();
            c.read(2, 1 << 20, data.length);
            assertThat(c.readSimpleReply(data.length).data()).isEqualTo(data);
        }
        assertThat(controllers(g)).as("the same controllers: no reconnect").containsExactlyInAnyOrderElementsOf(before);
        assertThat(before).allMatch(k -> k.state() == ControllerState.LIVE);
        assertThat(target.reauthentications(NQN)).as("every queue of both paths").isGreaterThanOrEqualTo(4);
    }

    @Test
    void should_reauthenticate_on_the_configured_period() throws Exception {
        DhchapSecret host = secret(32, AuthHash.SHA256);
        startTarget(new DhchapHost(host, null, AuthHash.SHA256, DhGroup.NULL));
        file("host.key", host);
        Path cfg = config(", dhchapSecretFile: host.key", "");
        Files.writeString(cfg, Files.readString(cfg).replace("connectTimeout: 2s}",
                "connectTimeout: 2s, dhchapReauthPeriod: 300ms}"));
        Gateway g = start(cfg);
        g.awaitExport(Gateway.exportName(NQN, 1)).get(10, TimeUnit.SECONDS);
        Await.until("three rounds on port 1's path", () -> controllers(g).stream()
                .anyMatch(k -> k.reauthentications() >= 3));
        assertThat(controllers(g).stream().mapToLong(Controller::reauthenticationFailures)
                .sum()).isZero();
    }
}
