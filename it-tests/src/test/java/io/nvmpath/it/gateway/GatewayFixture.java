package io.nvmpath.it.gateway;

import io.nvmpath.server.app.GatewayApp;
import io.nvmpath.server.gateway.Gateway;
import io.nvmpath.server.gateway.GatewayConfigLoader;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/** A gateway in this JVM on ephemeral loopback ports, connected to the given portals. */
final class GatewayFixture implements AutoCloseable {
    /** The gateway as serve runs it, with its HTTP side. */
    final GatewayApp app;
    final Gateway gateway;
    private final Path stateDir;

    /** A direct portal: 127.0.0.1 or another host address, port, subsystem. */
    record Portal(String traddr, int trsvcid, String subnqn) {
    }

    private GatewayFixture(GatewayApp app, Path stateDir) {
        this.app = app;
        this.gateway = app.gateway();
        this.stateDir = stateDir;
    }

    /**
     * Starts a gateway with short timeouts (KATO 2 s, reconnect every 1 s, no-path wait 60 s) so that
     * failover drills finish quickly, and waits until export {@code <subnqn>/1} has {@code paths} paths.
     *
     * @param nbdExtra more keys of the {@code nbd} mapping, e.g. {@code ", tls: {...}"}
     */
    static GatewayFixture start(List<Portal> portals, String nbdExtra, int paths) throws Exception {
        return start(portals, nbdExtra, "", paths);
    }

    /**
     * As {@link #start(List, String, int)}, with more keys of the {@code multipath} mapping, e.g.
     * {@code ", writeFailover: immediate"}.
     */
    static GatewayFixture start(List<Portal> portals, String nbdExtra, String multipathExtra, int paths)
            throws Exception {
        Path state = Files.createTempDirectory("nvmpath-it-state");
        String yaml = "host: {stateFile: " + state.resolve("host.properties") + "}\n"
                + "portals:\n" + portals.stream().map(p -> "  - {traddr: " + p.traddr() + ", trsvcid: " + p.trsvcid()
                + ", subnqn: \"" + p.subnqn() + "\"}").collect(Collectors.joining("\n")) + "\n"
                + "controller: {keepAliveTimeout: 2s, reconnectDelay: 1s, ctrlLossTimeout: forever, connectTimeout: 2s}\n"
                + "multipath: {noPathTimeout: 60s" + multipathExtra + "}\n"
                + "nbd: {listen: {address: 127.0.0.1, port: 0}" + nbdExtra + "}\n"
                + "http: {listen: {address: 127.0.0.1, port: 0}}\n";
        GatewayApp app = GatewayApp.start(GatewayConfigLoader.parse(yaml));
        GatewayFixture f = new GatewayFixture(app, state);
        Gateway g = app.gateway();
        String nqn = portals.get(0).subnqn();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() - end < 0) {
            var head = g.multipath().head(nqn, 1);
            if (g.nbdExports().find(Gateway.exportName(nqn, 1)) != null && head != null && head.paths().size() == paths) {
                return f;
            }
            Thread.sleep(50);
        }
        f.close();
        throw new AssertionError("export " + Gateway.exportName(nqn, 1) + " with " + paths + " paths did not appear: "
                + g.view().subsystems() + " portals " + g.view().portals());
    }

    int nbdPort() {
        return gateway.nbdAddress().getPort();
    }

    String httpUrl() {
        return "http://127.0.0.1:" + app.httpAddress().getPort();
    }

    @Override
    public void close() {
        app.shutdown(Duration.ofSeconds(5));
        try (var s = Files.walk(stateDir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException e) {
            // a temp dir left behind
        }
    }
}
