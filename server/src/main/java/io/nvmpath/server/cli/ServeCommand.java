package io.nvmpath.server.cli;

import io.nvmpath.server.app.GatewayApp;
import io.nvmpath.server.gateway.Gateway;
import io.nvmpath.server.gateway.GatewayConfig;
import io.nvmpath.server.gateway.GatewayConfigLoader;
import io.nvmpath.config.ConfigException;
import io.nvmpath.target.config.TargetConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code nvmpath serve}: the gateway in the foreground. With {@code --demo}, the project's own
 * target runs in the same process (two ports, a 1 GiB namespace, optimized and non-optimized) and
 * the gateway connects both paths and exports the head.
 *
 * <p>SIGTERM or SIGINT stops it gracefully: the NBD listener closes, in-flight requests finish and
 * are answered (at most {@code --drain-timeout}), then the controllers disconnect; a second signal
 * exits at once.
 */
@Command(name = "serve",
        description = {"Run the gateway: connect the configured portals, merge paths into namespace heads, "
                + "serve each head as an NBD export named <subnqn>/<nsid>, and serve /metrics, /health and "
                + "/api/v1 over HTTP.",
                "--demo: with the project's own target in-process (subsystem " + TargetConfig.DEMO_NQN
                        + ", two paths), NBD on 127.0.0.1:10809, HTTP on 127.0.0.1:9810."})
final class ServeCommand extends CliCommand {
    @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "YAML configuration (see the README).")
    Path config;

    @Option(names = "--demo", description = "Serve the embedded demo: an in-process target with two paths.")
    boolean demo;

    @Option(names = "--nbd-listen", paramLabel = "ADDR:PORT",
            description = "Override the NBD listen address (port 0: any free port).")
    String nbdListen;

    @Option(names = "--http-listen", paramLabel = "ADDR:PORT",
            description = "Override the HTTP listen address (port 0: any free port; 'off': none).")
    String httpListen;

    @Option(names = "--state-file", paramLabel = "FILE",
            description = "Where the generated host NQN and host ID are kept.")
    Path stateFile;

    @Option(names = "--check", description = "Check the configuration (as check-config does, with the overrides"
            + " given here), print what the gateway would do, and exit: 0 when it would start, 2 when not.")
    boolean check;

    @Option(names = "--drain-timeout", paramLabel = "SECONDS", defaultValue = "30",
            description = "On SIGTERM, how long in-flight NBD requests may take (default: ${DEFAULT-VALUE}).")
    int drainSeconds;

    private GatewayConfig gateway;

    @Override
    void validate() {
        if (demo == (config != null)) {
            throw new ParameterException(cmd(), "give --config FILE or --demo");
        }
        try {
            gateway = withOverrides(config != null ? GatewayConfigLoader.load(config) : GatewayConfigLoader.defaults());
        } catch (ConfigException e) {
            throw new ParameterException(cmd(), e.getMessage());
        }
        if (drainSeconds < 0) {
            throw new ParameterException(cmd(), "--drain-timeout must not be negative");
        }
    }

    /** {@code g} with this command line's overrides (listen addresses, state file): at start and at each reload. */
    private GatewayConfig withOverrides(GatewayConfig g) {
        GatewayConfig.Nbd nbd = g.nbd();
        if (nbdListen != null) {
            nbd = new GatewayConfig.Nbd(listen(nbdListen, "--nbd-listen"), nbd.tls(), nbd.allow(), nbd.maxPayload());
        }
        GatewayConfig.Http http = g.http();
        if (httpListen != null) {
            http = httpListen.equalsIgnoreCase("off") ? null
                    : (http == null ? new GatewayConfig.Http(listen(httpListen, "--http-listen"))
                    : http.at(listen(httpListen, "--http-listen")));
        }
        GatewayConfig.Host host = stateFile == null ? g.host()
                : new GatewayConfig.Host(g.host().nqn(), g.host().id(), stateFile);
        return new GatewayConfig(host, g.portals(), g.controller(), g.multipath(), g.subsystems(), nbd,
                g.exports(), http, g.log());
    }

    private GatewayConfig.Listen listen(String s, String option) {
        int colon = s.lastIndexOf(':');
        try {
            String addr = colon <= 0 ? "127.0.0.1" : s.substring(0, colon).replaceAll("^\\[|]$", "");
            int port = Integer.parseInt(s.substring(colon + 1));
            if (port < 0 || port > 65535) {
                throw new NumberFormatException();
            }
            return new GatewayConfig.Listen(addr, port);
        } catch (NumberFormatException | IndexOutOfBoundsException e) {
            throw new ParameterException(cmd(), option + ": '" + s + "' is not ADDRESS:PORT");
        }
    }

    @Override
    void run() throws Exception {
        if (check) {
            java.util.List<String> problems = ConfigPlan.problems(gateway);
            print(ConfigPlan.render(config, gateway, problems));
            if (!problems.isEmpty()) {
                throw new ParameterException(cmd(), problems.get(0));
            }
            return;
        }
        // the configuration's log level (info by default), unless the command line set one (-v)
        boolean levelFromConfig = System.getProperty(Main.LOG_LEVEL_PROPERTY) == null;
        if (levelFromConfig) {
            io.nvmpath.server.log.LogLevel.set(gateway.log().level());
        }
        RunningTarget target = null;
        GatewayConfig cfg = gateway;
        if (demo) {
            target = RunningTarget.start(TargetConfig.demo(0, 0, 0, 0));
            cfg = demoConfig(cfg, target);
        }
        GatewayApp app;
        try {
            // the demo opens NBD once its export is served, so the line it prints works at once
            app = GatewayApp.start(cfg, !demo);
            if (demo) {
                awaitDemoExport(app);
                app.gateway().openNbd();
            }
        } catch (java.net.BindException e) {
            if (target != null) {
                target.close();
            }
            throw new Failures.CliException("cannot listen: " + Failures.message(e), e);
        } catch (Exception e) {
            if (target != null) {
                target.close();
            }
            throw e;
        }
        Gateway g = app.gateway();
        if (config != null) {
            Path file = config;
            g.reloader().configSource(() -> withOverrides(GatewayConfigLoader.load(file)));
            if (levelFromConfig) {
                g.reloader().onLogLevel(io.nvmpath.server.log.LogLevel::set);
            }
            Signals.onHangup(() -> {
                try {
                    g.reloader().reload();
                } catch (ConfigException e) {
                    org.slf4j.LoggerFactory.getLogger(ServeCommand.class).error(
                            "SIGHUP: reload refused, the configuration in force stays: {}", e.getMessage());
                }
            });
        }
        CountDownLatch stopped = new CountDownLatch(1);
        RunningTarget demoTarget = target;
        Runnable graceful = () -> {
            app.shutdown(Duration.ofSeconds(drainSeconds));
            if (demoTarget != null) {
                demoTarget.close();
            }
            stopped.countDown();
        };
        Signals.install(graceful);
        err().println("nvmpath: NBD on " + hostPort(g.nbdAddress()) + (app.httpAddress() == null ? ""
                : ", HTTP on http://" + hostPort(app.httpAddress()) + " (/metrics, /health, /api/v1)")
                + ", host " + g.identity().nqn());
        if (demo) {
            String name = Gateway.exportName(TargetConfig.DEMO_NQN, 1);
            err().println("nvmpath: demo target: paths 127.0.0.1:" + target.target().port(1) + " (optimized) and 127.0.0.1:"
                    + target.target().port(2) + " (non-optimized); fail one with: bin/nvmpath target fault|ana-state"
                    + " --admin " + target.admin().uri() + " ...");
            java.net.InetAddress a = g.nbdAddress().getAddress();
            String host = a.isAnyLocalAddress() ? "127.0.0.1" : a.getHostAddress(); // a wildcard listens on loopback too
            out().println("sudo nbd-client " + host + " " + g.nbdAddress().getPort() + " /dev/nbd0 -N " + name);
            out().flush();
        }
        stopped.await();
    }

    /** Waits for the demo's export (its two paths connect in milliseconds; a target that fails to is an error). */
    private static void awaitDemoExport(GatewayApp app) throws Exception {
        String name = Gateway.exportName(TargetConfig.DEMO_NQN, 1);
        try {
            app.gateway().awaitExport(name).get(15, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            app.close();
            throw new Failures.CliException("demo: export " + name + " did not appear within 15 s", e);
        }
    }

    private static GatewayConfig demoConfig(GatewayConfig g, RunningTarget t) {
        List<GatewayConfig.Portal> portals = List.of(
                new GatewayConfig.Portal("127.0.0.1", t.target().port(1), TargetConfig.DEMO_NQN),
                new GatewayConfig.Portal("127.0.0.1", t.target().port(2), TargetConfig.DEMO_NQN));
        GatewayConfig.Controller c = g.controller();
        // the demo is for watching failover: notice a lost path within seconds, come back quickly
        GatewayConfig.Controller quick = new GatewayConfig.Controller(c.keepAliveTimeout(), Duration.ofSeconds(2),
                Duration.ofSeconds(-1), c.ioTimeout(), Duration.ofSeconds(3), c.ioQueues(), c.ioQueueSize(),
                c.headerDigest(), c.dataDigest(), c.dhchapReauthPeriod());
        return new GatewayConfig(g.host(), portals, quick, g.multipath(), g.subsystems(), g.nbd(), g.exports(),
                g.http(), g.log());
    }

    private static String hostPort(java.net.InetSocketAddress a) {
        String h = a.getAddress().getHostAddress();
        return (h.contains(":") ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    /** SIGTERM/SIGINT: the first stops gracefully, a second exits at once; SIGHUP reloads. */
    static final class Signals {
        /** SIGHUP runs {@code reload} on a thread of its own (the configuration file is read again). */
        static void onHangup(Runnable reload) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal("HUP"), sig -> {
                    Thread t = new Thread(reload, "nvmpath-reload");
                    t.setDaemon(true);
                    t.start();
                });
            } catch (IllegalArgumentException e) {
                // no SIGHUP here: POST /api/v1/reload still reloads
            }
        }

        private static final AtomicInteger count = new AtomicInteger();

        static void install(Runnable graceful) {
            sun.misc.SignalHandler h = sig -> {
                if (count.incrementAndGet() == 1) {
                    Thread t = new Thread(graceful, "nvmpath-shutdown");
                    t.setDaemon(false);
                    t.start();
                } else {
                    System.err.println("nvmpath: second signal, exiting now");
                    Runtime.getRuntime().halt(130);
                }
            };
            for (String s : new String[] {"TERM", "INT"}) {
                try {
                    sun.misc.Signal.handle(new sun.misc.Signal(s), h);
                } catch (IllegalArgumentException e) {
                    // signal not available here (or reserved by the JVM): the shutdown hook still closes
                }
            }
        }
    }
}
