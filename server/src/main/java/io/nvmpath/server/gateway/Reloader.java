package io.nvmpath.server.gateway;

import io.nvmpath.multipath.IoPolicy;
import io.nvmpath.multipath.Multipath;
import io.nvmpath.multipath.MultipathView;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A new configuration applied without a restart ({@code SIGHUP}, {@code POST /api/v1/reload}): what
 * it may change is worked out first ({@link ConfigDiff}), then applied to the portals, the
 * subsystems' iopolicy and preferred path ({@link RunningControl}), the exports ({@link ExportTable})
 * and the log level; the rest is reported as needing a restart. One reload at a time.
 */
public final class Reloader {
    /** The gateway's own lines ({@code INFO Gateway - configuration reloaded: ...}). */
    private static final Logger log = LoggerFactory.getLogger(Gateway.class);

    /** The configuration in force: replaced here only; what cannot change at run time is the start's. */
    private final AtomicReference<GatewayConfig> config;
    private final Multipath multipath;
    private final RunningControl control;
    private final ExportTable exports;
    /** Where {@link #reload()} reads the configuration again (set by {@code serve --config}); null: none. */
    private volatile Supplier<GatewayConfig> source;
    /** Applies a reloaded log level (set by {@code serve} unless its command line fixed one); null: ignored. */
    private volatile Consumer<String> logLevel;

    Reloader(AtomicReference<GatewayConfig> config, Multipath multipath, RunningControl control, ExportTable exports) {
        this.config = config;
        this.multipath = multipath;
        this.control = control;
        this.exports = exports;
    }

    /** Where {@link #reload()} reads the configuration from (the file {@code serve} was given, with its overrides). */
    public void configSource(Supplier<GatewayConfig> source) {
        this.source = source;
    }

    /** Where a reloaded {@code log.level} goes. */
    public void onLogLevel(Consumer<String> apply) {
        this.logLevel = apply;
    }

    /**
     * Reads the configuration again from its source and applies it ({@link #reload(GatewayConfig)}).
     *
     * @throws io.nvmpath.config.ConfigException when the configuration read is wrong: nothing applied
     * @throws IllegalStateException when there is no source (serve --demo)
     */
    public ReloadResult reload() {
        Supplier<GatewayConfig> s = source;
        if (s == null) {
            throw new IllegalStateException("there is no configuration file to reload (serve --demo)");
        }
        return reload(s.get()); // a ConfigException here: nothing applied
    }

    /**
     * Applies a new configuration without a restart: portals added and removed, DH-HMAC-CHAP secrets
     * (connected controllers re-authenticate with the new ones, no reconnect), export aliases,
     * read-only and allow-lists (the NBD listener's and each export's), iopolicy and preferred path
     * per subsystem, the log level. Connections that are still allowed stay; one whose export became
     * read-only, or whose client the export no longer allows, is closed (its requests answered first)
     * with the reason logged. What can change only at a start (listeners, TLS settings, host
     * identity, controller options, multipath timers) is reported in
     * {@link ReloadResult#needsRestart()} and left as it is.
     */
    public synchronized ReloadResult reload(GatewayConfig next) {
        GatewayConfig old = config.get();
        List<String> applied = new ArrayList<>();
        ConfigDiff diff = ConfigDiff.between(old, next);
        List<String> restart = new ArrayList<>(diff.needsRestart());
        GatewayConfig effective = diff.effective();
        config.set(effective);
        if (!old.log().equals(next.log())) {
            Consumer<String> apply = logLevel;
            if (apply != null) {
                apply.accept(next.log().level());
                applied.add("log level " + next.log().level());
            } else {
                restart.add("log.level (the command line set the level)");
            }
        }
        applied.addAll(portals(diff));
        applied.addAll(multipath.rotateSecrets()); // reads the new configuration through the portal options
        applied.addAll(subsystems(old, next));
        applied.addAll(exports.reconfigure(effective, next));
        log.info("configuration reloaded: {}{}", applied.isEmpty() ? "nothing changed" : String.join("; ", applied),
                restart.isEmpty() ? "" : "; needs a restart to change: " + String.join(", ", restart));
        return new ReloadResult(applied, restart);
    }

    private List<String> portals(ConfigDiff diff) {
        List<String> applied = new ArrayList<>();
        for (GatewayConfig.Portal p : diff.portalsRemoved()) {
            control.removePortal(p.traddr(), p.trsvcid(), p.subnqn());
            applied.add("portal " + p.traddr() + ":" + p.trsvcid() + " " + portalName(p) + " removed");
        }
        for (GatewayConfig.Portal p : diff.portalsAdded()) {
            control.connect(p.traddr(), p.trsvcid(), p.subnqn());
            applied.add("portal " + p.traddr() + ":" + p.trsvcid() + " " + portalName(p) + " added");
            log.info("portal {}:{} {} added", p.traddr(), p.trsvcid(), portalName(p));
        }
        return applied;
    }

    /** The iopolicy, write failover and preferred path of the subsystems there are. */
    private List<String> subsystems(GatewayConfig old, GatewayConfig next) {
        List<String> applied = new ArrayList<>();
        GatewayConfig.Multipath om = old.multipath();
        GatewayConfig.Multipath nm = next.multipath();
        for (MultipathView.Subsystem sub : multipath.view()) {
            GatewayConfig.Subsystem was = old.subsystems().get(sub.nqn());
            GatewayConfig.Subsystem is = next.subsystems().get(sub.nqn());
            String policy = is != null && is.iopolicy() != null ? is.iopolicy() : nm.iopolicy();
            String before = was != null && was.iopolicy() != null ? was.iopolicy() : om.iopolicy();
            if (!IoPolicy.fromLabel(policy).equals(IoPolicy.fromLabel(before))) {
                control.ioPolicy(sub.nqn(), policy);
                applied.add(sub.nqn() + ": iopolicy " + IoPolicy.fromLabel(policy).label());
            }
            String write = is != null && is.writeFailover() != null ? is.writeFailover() : nm.writeFailover();
            String wrote = was != null && was.writeFailover() != null ? was.writeFailover() : om.writeFailover();
            if (!write.equals(wrote)) {
                control.writeFailover(sub.nqn(), write);
                applied.add(sub.nqn() + ": write failover " + write);
            }
            String prefer = is == null ? null : is.preferredPath();
            String preferred = was == null ? null : was.preferredPath();
            if (!Objects.equals(prefer, preferred)) {
                control.preferredPath(sub.nqn(), prefer);
                applied.add(sub.nqn() + ": preferred path " + (prefer == null ? "cleared" : prefer));
            }
        }
        return applied;
    }

    private static String portalName(GatewayConfig.Portal p) {
        return p.subnqn() == null ? "(discovery)" : p.subnqn();
    }
}
