package io.nvmpath.server.app;

import io.nvmpath.fabric.testing.Await;
import io.nvmpath.multipath.IoPolicy;
import io.nvmpath.server.gateway.Gateway;
import io.nvmpath.server.gateway.GatewayConfigLoader;
import io.nvmpath.server.gateway.GatewayView;
import io.nvmpath.server.gateway.ReloadResult;
import io.nvmpath.server.nbd.RawNbdClient;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.backend.MemoryBackend;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The gateway as {@code serve} runs it ({@link GatewayApp}: NBD, HTTP, metrics) over the project's
 * target in this JVM: exports follow heads, flush semantics, run-time control, reload, readiness,
 * graceful shutdown.
 */
class GatewayAppTest {
    private static final String NQN = TargetConfig.DEMO_NQN;
    private static final int NBD_CMD_FLUSH = 3;

    @TempDir
    Path dir;
    private NvmeTarget target;
    private GatewayApp app;

    @BeforeEach
    void start() throws Exception {
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
    }

    @AfterEach
    void stop() {
        if (app != null) {
            app.shutdown(Duration.ofSeconds(2));
        }
        target.close();
    }

    private Gateway gateway(String extra, int... ports) throws Exception {
        StringBuilder y = new StringBuilder("host: {stateFile: " + dir.resolve("host.properties") + "}\nportals:\n");
        for (int p : ports) {
            y.append("  - {traddr: 127.0.0.1, trsvcid: ").append(p).append(", subnqn: \"").append(NQN).append("\"}\n");
        }
        y.append("controller: {keepAliveTimeout: 2s, reconnectDelay: 300ms, connectTimeout: 1s}\n")
                .append("nbd: {listen: {port: 0}}\nhttp: {listen: {port: 0}}\n").append(extra);
        return start(GatewayConfigLoader.parse(y.toString()), true);
    }

    private Gateway start(io.nvmpath.server.gateway.GatewayConfig config, boolean openNbd) throws Exception {
        app = GatewayApp.start(config, openNbd);
        return app.gateway();
    }

    private static void await(String what, BooleanSupplier c) {
        Await.until(what, c);
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] read(RawNbdClient c, long handle, long offset, int length) throws Exception {
        c.read(handle, offset, length);
        RawNbdClient.SimpleReply r = c.readSimpleReply(length);
        assertThat(r.error()).isZero();
        return r.data();
    }

    @Test
    void should_export_a_namespace_that_appears_and_drop_it_with_its_connections_when_it_goes() throws Exception {
        Gateway g = gateway("", target.port(1), target.port(2));
        await("export 1", () -> g.nbdExports().find(Gateway.exportName(NQN, 1)) != null);
        target.addNamespace(NQN, new TargetConfig.NamespaceConfig(2, 64 << 20, null, 512, 1, null, null, null, false));
        String name = Gateway.exportName(NQN, 2);
        await("export 2", () -> g.nbdExports().find(name) != null && g.multipath().head(NQN, 2).paths().size() == 2);
        assertThat(g.nbdExports().list()).extracting(e -> e.name()).containsExactly(Gateway.exportName(NQN, 1), name);
        assertThat(g.view().exports()).filteredOn(e -> e.nsid() == 2).singleElement()
                .satisfies(e -> assertThat(e.sizeBytes()).isEqualTo(64 << 20));

        try (RawNbdClient c = RawNbdClient.open(g.nbdAddress(), name)) {
            c.write(1, 4096, random(4096, 1));
            assertThat(c.readSimpleReply(0).error()).isZero();
            target.removeNamespace(NQN, 2);
            await("export 2 gone", () -> g.nbdExports().find(name) == null);
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(g.nbdExports().find(Gateway.exportName(NQN, 1))).isNotNull();
    }

    @Test
    void should_make_writes_completed_on_one_connection_durable_by_a_flush_on_another() throws Exception {
        // round-robin: the two connections' commands go through both controllers
        Gateway g = gateway("multipath: {iopolicy: round-robin}\n", target.port(1), target.port(2));
        WriteBackCache cache = new WriteBackCache(new MemoryBackend(16 << 20));
        target.addNamespace(NQN, new TargetConfig.NamespaceConfig(3, 16 << 20, null, 512, 1, null, null, null, false),
                cache);
        String name = Gateway.exportName(NQN, 3);
        await("export 3", () -> g.nbdExports().find(name) != null && g.multipath().head(NQN, 3).paths().size() == 2);
        assertThat(g.nbdExports().find(name).device().flushCoversAllConnections()).isTrue();

        byte[] a = random(65536, 2);
        byte[] b = random(65536, 3);
        try (RawNbdClient one = RawNbdClient.open(g.nbdAddress(), name);
             RawNbdClient two = RawNbdClient.open(g.nbdAddress(), name)) {
            for (int i = 0; i < 8; i++) {
                one.write(i, (long) i * 65536, a);
                assertThat(one.readSimpleReply(0).error()).isZero();
            }
            int before = cache.flushes();
            two.request(0, NBD_CMD_FLUSH, 100, 0, 0, null);
            assertThat(two.readSimpleReply(0).error()).isZero();
            assertThat(cache.flushes()).isEqualTo(before + 1);
            // the control: a write nobody flushed
            one.write(200, 1 << 20, b);
            assertThat(one.readSimpleReply(0).error()).isZero();

            cache.powerLoss();

            for (int i = 0; i < 8; i++) {
                assertThat(read(two, 300 + i, (long) i * 65536, 65536)).as("block %d written on connection one", i)
                        .isEqualTo(a);
            }
            assertThat(read(one, 400, 1 << 20, 65536)).as("the unflushed write").isEqualTo(new byte[65536]);
        }
    }

    @Test
    void should_change_the_iopolicy_and_portals_through_the_http_api() throws Exception {
        Gateway g = gateway("", target.port(1));
        await("export 1", () -> g.nbdExports().find(Gateway.exportName(NQN, 1)) != null);
        HttpClient http = HttpClient.newHttpClient();
        String base = "http://127.0.0.1:" + app.httpAddress().getPort();

        HttpResponse<String> p = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/subsystems/" + NQN
                + "/iopolicy")).POST(HttpRequest.BodyPublishers.ofString("{\"iopolicy\":\"round-robin\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(p.statusCode()).as(p.body()).isEqualTo(200);
        assertThat(g.multipath().subsystem(NQN).ioPolicy()).isEqualTo(IoPolicy.ROUND_ROBIN);

        HttpResponse<String> add = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/portals"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"traddr\":\"127.0.0.1\",\"trsvcid\":" + target.port(2)
                        + ",\"subnqn\":\"" + NQN + "\"}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(add.statusCode()).as(add.body()).isEqualTo(201);
        await("second path", () -> g.multipath().head(NQN, 1).paths().size() == 2);

        HttpResponse<String> del = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/portals?traddr=127.0.0.1"
                + "&trsvcid=" + target.port(1) + "&subnqn=" + NQN)).DELETE().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(del.statusCode()).as(del.body()).isEqualTo(204);
        await("first path gone", () -> g.multipath().head(NQN, 1).paths().size() == 1);
        assertThat(g.view().portals()).extracting(GatewayView.Portal::trsvcid).containsExactly(target.port(2));
    }

    @Test
    void should_serve_a_configured_alias_read_only_and_hide_an_export_from_clients_outside_its_networks()
            throws Exception {
        String name = Gateway.exportName(NQN, 1);
        Gateway g = gateway("exports:\n  \"" + name + "\": {aliases: [disk], readOnly: true}\n"
                + "  \"" + Gateway.exportName(NQN, 2) + "\": {allow: [10.0.0.0/8]}\n", target.port(1));
        target.addNamespace(NQN, new TargetConfig.NamespaceConfig(2, 1 << 20, null, 512, 1, null, null, null, false));
        await("both exports", () -> g.nbdExports().find(name) != null && g.nbdExports().find(Gateway.exportName(NQN, 2)) != null);
        try (RawNbdClient c = RawNbdClient.open(g.nbdAddress(), "disk")) {
            c.write(1, 0, random(4096, 9));
            assertThat(c.readSimpleReply(0).error()).as("EPERM").isEqualTo(1);
            assertThat(read(c, 2, 0, 4096)).hasSize(4096);
        }
        assertThat(g.view().exports()).filteredOn(e -> e.nsid() == 1).singleElement()
                .satisfies(e -> assertThat(e.aliases()).containsExactly("disk"))
                .satisfies(e -> assertThat(e.readOnly()).isTrue());
        // 127.0.0.1 is not in 10.0.0.0/8: export 2 answers as if it did not exist
        try (RawNbdClient c = RawNbdClient.negotiate(g.nbdAddress())) {
            RawNbdClient.OptionReply r = c.option(7 /* NBD_OPT_GO */, RawNbdClient.infoData(Gateway.exportName(NQN, 2)));
            assertThat(r.type()).as("NBD_REP_ERR_UNKNOWN").isEqualTo((1 << 31) | 6);
        }
    }

    private String yaml(String extra, int... ports) {
        StringBuilder y = new StringBuilder("host: {stateFile: " + dir.resolve("host.properties") + "}\nportals:\n");
        for (int p : ports) {
            y.append("  - {traddr: 127.0.0.1, trsvcid: ").append(p).append(", subnqn: \"").append(NQN).append("\"}\n");
        }
        return y.append("controller: {keepAliveTimeout: 2s, reconnectDelay: 300ms, connectTimeout: 1s}\n")
                .append("nbd: {listen: {port: 0}}\nhttp: {listen: {port: 0}}\n").append(extra).toString();
    }

    @Test
    void should_reload_portals_aliases_and_read_only_closing_only_the_connections_no_longer_allowed()
            throws Exception {
        String name = Gateway.exportName(NQN, 1);
        Path file = dir.resolve("gateway.yaml");
        java.nio.file.Files.writeString(file, yaml("", target.port(1)));
        Gateway g = start(GatewayConfigLoader.load(file), true);
        g.reloader().configSource(() -> GatewayConfigLoader.load(file));
        g.awaitExport(name).get(10, TimeUnit.SECONDS);
        try (RawNbdClient stays = RawNbdClient.open(g.nbdAddress(), name)) {
            // an alias and a second portal: the connection stays
            java.nio.file.Files.writeString(file, yaml("exports:\n  \"" + name + "\": {aliases: [db]}\nlog: {level: debug}\n",
                    target.port(1), target.port(2)));
            java.util.List<String> levels = new java.util.concurrent.CopyOnWriteArrayList<>();
            g.reloader().onLogLevel(levels::add);
            ReloadResult added = g.reloader().reload();
            assertThat(added.applied()).contains("export " + name + ": aliases [db]",
                    "portal 127.0.0.1:" + target.port(2) + " " + NQN + " added");
            assertThat(added.needsRestart()).isEmpty();
            assertThat(added.applied()).contains("log level debug");
            assertThat(levels).containsExactly("debug");
            await("the second path", () -> g.view().subsystems().get(0).heads().get(0).paths().size() == 2);
            assertThat(read(stays, 1, 0, 4096)).as("the connection still allowed goes on").hasSize(4096);
            try (RawNbdClient alias = RawNbdClient.open(g.nbdAddress(), "db")) {
                assertThat(read(alias, 1, 0, 512)).hasSize(512);
            }

            // a wrong configuration changes nothing
            java.nio.file.Files.writeString(file, yaml("exports:\n  \"" + name + "\": {readOnly: maybe}\n",
                    target.port(1)));
            org.assertj.core.api.Assertions.assertThatThrownBy(g.reloader()::reload)
                    .isInstanceOf(io.nvmpath.config.ConfigException.class).hasMessageContaining("readOnly");
            assertThat(g.view().subsystems().get(0).heads().get(0).paths()).hasSize(2);
            assertThat(read(stays, 2, 0, 512)).hasSize(512);

            // read-only: the connection that may write is closed; a new one is refused writes
            java.nio.file.Files.writeString(file, yaml("exports:\n  \"" + name + "\": {aliases: [db], readOnly: true}\n"
                    + "nbd: {listen: {port: 12345}}\n", target.port(1), target.port(2)).replace(
                    "nbd: {listen: {port: 0}}\n", ""));
            ReloadResult ro = g.reloader().reload();
            assertThat(ro.applied()).contains("export " + name + ": read-only");
            assertThat(ro.needsRestart()).containsExactly("nbd.listen");
            assertThat(stays.closedByServer()).as("closed: the export became read-only").isTrue();
        }
        try (RawNbdClient c = RawNbdClient.open(g.nbdAddress(), "db")) {
            c.write(1, 0, random(512, 3));
            assertThat(c.readSimpleReply(0).error()).as("EPERM").isEqualTo(1);
        }

        // an allow-list that leaves this client out: it is closed, and the export hidden from it
        try (RawNbdClient other = RawNbdClient.open(g.nbdAddress(), name)) {
            java.nio.file.Files.writeString(file, yaml("exports:\n  \"" + name + "\": {allow: [10.0.0.0/8]}\n",
                    target.port(1), target.port(2)));
            assertThat(g.reloader().reload().applied()).contains("export " + name + ": clients from [10.0.0.0/8]");
            assertThat(other.closedByServer()).isTrue();
        }
        try (RawNbdClient c = RawNbdClient.negotiate(g.nbdAddress())) {
            RawNbdClient.OptionReply r = c.option(7 /* NBD_OPT_GO */, RawNbdClient.infoData(name));
            assertThat(r.type()).as("NBD_REP_ERR_UNKNOWN").isEqualTo((1 << 31) | 6);
        }
    }

    @Test
    void should_find_both_paths_through_a_discovery_portal() throws Exception {
        start(GatewayConfigLoader.parse("host: {stateFile: " + dir.resolve("host.properties")
                + "}\nportals:\n  - {traddr: 127.0.0.1, trsvcid: " + target.discoveryPort() + "}\n"
                + "nbd: {listen: {port: 0}}\nhttp: off\n"), true);
        Gateway g = app.gateway();
        await("export over both discovered paths", () -> g.nbdExports().find(Gateway.exportName(NQN, 1)) != null
                && g.multipath().head(NQN, 1).paths().size() == 2);
        assertThat(g.view().portals()).extracting(GatewayView.Portal::kind)
                .containsExactlyInAnyOrder("discovery", "discovered", "discovered");
        assertThat(app.httpAddress()).isNull();
    }

    @Test
    void should_start_with_a_portal_that_cannot_be_reached_and_report_it() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        Gateway g = gateway("", target.port(1), closed);
        await("export", () -> g.nbdExports().find(Gateway.exportName(NQN, 1)) != null);
        await("retrying portal", () -> g.view().portals().stream()
                .anyMatch(p -> p.trsvcid() == closed && p.state().equals("retrying") && p.lastError() != null));
        assertThat(g.view().serving()).isTrue();
        try (RawNbdClient c = RawNbdClient.open(g.nbdAddress(), Gateway.exportName(NQN, 1))) {
            assertThat(read(c, 1, 0, 4096)).hasSize(4096);
        }
    }

    @Test
    void should_be_ready_only_once_every_portal_was_tried_and_an_export_is_served() throws Exception {
        target.setFault(2, new io.nvmpath.target.Fault.Blackhole()); // its connect hangs until connectTimeout
        String y = "host: {stateFile: " + dir.resolve("host.properties") + "}\nportals:\n"
                + "  - {traddr: 127.0.0.1, trsvcid: " + target.port(1) + ", subnqn: \"" + NQN + "\"}\n"
                + "  - {traddr: 127.0.0.1, trsvcid: " + target.port(2) + ", subnqn: \"" + NQN + "\"}\n"
                + "controller: {keepAliveTimeout: 2s, reconnectDelay: 10s, connectTimeout: 3s}\n"
                + "nbd: {listen: {port: 0}}\nhttp: {listen: {port: 0}}\n";
        Gateway g = start(GatewayConfigLoader.parse(y), true);
        g.awaitExport(Gateway.exportName(NQN, 1)).get(10, TimeUnit.SECONDS);

        GatewayView.Readiness waiting = g.view().readiness();
        assertThat(waiting.ready()).isFalse();
        assertThat(waiting.waitingFor()).containsExactly(
                "portal 127.0.0.1:" + target.port(2) + " " + NQN + ": first connect not finished");
        HttpResponse<String> http = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + app.httpAddress().getPort() + "/ready")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(http.statusCode()).isEqualTo(503);
        assertThat(http.body()).contains("first connect not finished");

        await("the blackholed portal's connect to time out", () -> g.view().readiness().ready());
        assertThat(g.view().portals()).anyMatch(p -> p.trsvcid() == target.port(2) && p.state().equals("retrying"));
    }

    @Test
    void should_open_nbd_only_when_asked_and_not_be_ready_before() throws Exception {
        String y = "host: {stateFile: " + dir.resolve("host.properties") + "}\nportals:\n"
                + "  - {traddr: 127.0.0.1, trsvcid: " + target.port(1) + ", subnqn: \"" + NQN + "\"}\n"
                + "nbd: {listen: {port: 0}}\nhttp: off\n";
        Gateway g = start(GatewayConfigLoader.parse(y), false);
        g.awaitExport(Gateway.exportName(NQN, 1)).get(10, TimeUnit.SECONDS);

        assertThat(g.nbdAddress()).isNull();
        assertThat(g.view().readiness().waitingFor()).containsExactly("the NBD listener (opens once the first export is served)");

        InetSocketAddress nbd = g.openNbd();
        assertThat(g.view().readiness().ready()).isTrue();
        try (RawNbdClient c = RawNbdClient.open(nbd, Gateway.exportName(NQN, 1))) {
            assertThat(read(c, 1, 0, 4096)).hasSize(4096);
        }
    }

    @Test
    void should_answer_requests_in_flight_then_stop_on_graceful_shutdown() throws Exception {
        Gateway g = gateway("", target.port(1));
        await("export", () -> g.nbdExports().find(Gateway.exportName(NQN, 1)) != null);
        // the only path is slow: a read is in flight when shutdown starts
        target.setFault(1, new io.nvmpath.target.Fault.Delay(500));
        try (RawNbdClient c = RawNbdClient.open(g.nbdAddress(), Gateway.exportName(NQN, 1))) {
            c.read(7, 0, 4096);
            await("the read in flight", () -> g.view().exports().get(0).inFlight() == 1);
            GatewayApp running = app;
            Thread stopper = new Thread(() -> running.shutdown(Duration.ofSeconds(5)));
            stopper.start();
            RawNbdClient.SimpleReply r = c.readSimpleReply(4096);
            assertThat(r.error()).isZero();
            assertThat(r.handle()).isEqualTo(7);
            stopper.join(10_000);
            assertThat(g.view().serving()).isFalse();
            assertThat(c.closedByServer()).isTrue();
        }
        InetSocketAddress a = g.nbdAddress();
        assertThat(canConnect(a)).isFalse();
        app = null;
    }

    private static boolean canConnect(InetSocketAddress a) {
        try (java.net.Socket s = new java.net.Socket(a.getAddress(), a.getPort())) {
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
