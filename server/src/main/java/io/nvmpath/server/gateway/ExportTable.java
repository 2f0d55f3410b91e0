package io.nvmpath.server.gateway;

import io.nvmpath.multipath.Multipath;
import io.nvmpath.multipath.NamespaceHead;
import io.nvmpath.server.block.HeadBlockDevice;
import io.nvmpath.server.nbd.ClientNetwork;
import io.nvmpath.server.nbd.ExportStats;
import io.nvmpath.server.nbd.NbdExport;
import io.nvmpath.server.nbd.NbdExports;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The NBD exports, following the namespace heads: a head that gets its first path (a portal
 * connected, a namespace attached) is exported as {@code <subnqn>/<nsid>} and its configured aliases;
 * a head that goes (its last path gone for good) takes its export and that export's connections with
 * it. A reload changes aliases, read-only and allow-lists in place ({@link #reconfigure}).
 *
 * <p>Head events arrive on the multipath executor; the NBD server looks exports up on connection
 * event loops: the table is concurrent maps, replaced entry by entry.
 */
final class ExportTable implements NbdExports, Multipath.HeadListener {
    /** The gateway's own lines ({@code INFO Gateway - export ...}: operators, and the container IT, read them by that name). */
    private static final Logger log = LoggerFactory.getLogger(Gateway.class);

    /** One export and what it serves. */
    record Entry(NamespaceHead head, NbdExport export, List<String> aliases) {
    }

    /** Closes the NBD connections of an export: the NBD server's, which is made after this table. */
    @FunctionalInterface
    interface Connections {
        /** Closes the connections of {@code export} whose client {@code which} selects; logs {@code reason} unless null. */
        void close(String export, Predicate<SocketAddress> which, String reason);
    }

    private final Supplier<GatewayConfig> config;
    private final Connections connections;
    private final Map<String, Entry> exports = new ConcurrentHashMap<>();
    private final Map<String, String> aliases = new ConcurrentHashMap<>();
    /** Who waits for an export to appear ({@link #awaitExport}), by export name. */
    private final Map<String, CompletableFuture<Void>> waiters = new ConcurrentHashMap<>();

    /** @param config the configuration in force, asked at each head (a reload replaces it) */
    ExportTable(Supplier<GatewayConfig> config, Connections connections) {
        this.config = config;
        this.connections = connections;
    }

    @Override
    public void headAdded(NamespaceHead head) {
        String nqn = head.subsystem().nqn();
        String name = Gateway.exportName(nqn, head.nsid());
        GatewayConfig c = config.get();
        GatewayConfig.Export ec = c.exports().getOrDefault(name, GatewayConfig.Export.DEFAULT);
        NbdExport e = new NbdExport(name, "namespace " + head.nsid() + " of " + nqn + " (" + head.ids() + ")",
                new HeadBlockDevice(head), ec.readOnly(), allowed(c, ec), new ExportStats());
        exports.put(name, new Entry(head, e, ec.aliases()));
        for (String a : ec.aliases()) {
            aliases.put(a, name);
        }
        log.info("export {}{}: {} MiB, {} B blocks{}", name, ec.aliases().isEmpty() ? "" : " " + ec.aliases(),
                head.sizeBytes() >> 20, head.lbaSize(), ec.readOnly() ? ", read-only" : "");
        CompletableFuture<Void> waiter = waiters.get(name);
        if (waiter != null) {
            waiter.complete(null);
        }
    }

    @Override
    public void headRemoved(NamespaceHead head) {
        String name = Gateway.exportName(head.subsystem().nqn(), head.nsid());
        Entry e = exports.get(name);
        if (e != null && e.head() == head) {
            exports.remove(name);
            e.aliases().forEach(aliases::remove);
            log.info("export {} removed: namespace head gone", name);
            connections.close(name, remote -> true, null);
        }
    }

    /** The client networks of an export: its own list, else the NBD listener's. */
    private static List<ClientNetwork> allowed(GatewayConfig c, GatewayConfig.Export ec) {
        return (ec.allow().isEmpty() ? c.nbd().allow() : ec.allow()).stream().map(ClientNetwork::parse).toList();
    }

    @Override
    public NbdExport find(String name) {
        Entry e = exports.get(name);
        if (e == null) {
            String target = aliases.get(name);
            e = target == null ? null : exports.get(target);
        }
        return e == null ? null : e.export();
    }

    @Override
    public List<NbdExport> list() {
        return exports.values().stream().map(Entry::export).sorted(Comparator.comparing(NbdExport::name)).toList();
    }

    /** Every export with its head and aliases, in no particular order. */
    Collection<Entry> entries() {
        return exports.values();
    }

    boolean isEmpty() {
        return exports.isEmpty();
    }

    /** Completes when export {@code name} (its canonical name) is served; at once when it already is. */
    CompletableFuture<Void> awaitExport(String name) {
        CompletableFuture<Void> f = waiters.computeIfAbsent(name, k -> new CompletableFuture<>());
        if (exports.containsKey(name)) {
            f.complete(null);
        }
        return f;
    }

    /** Fails every wait for an export that has not appeared: the gateway stopped. */
    void stopWaiting() {
        waiters.values().forEach(f -> f.completeExceptionally(new IllegalStateException("gateway stopped")));
    }

    /**
     * Applies the export settings of a reloaded configuration: aliases, read-only and allow-lists. A
     * connection still allowed stays; one whose export became read-only, or whose client the export
     * no longer allows, is closed (its requests answered first) with the reason logged.
     *
     * @param effective the configuration in force after the reload (its NBD allow-list is the new one)
     * @param next the configuration read (its export settings)
     * @return what changed, one phrase each
     */
    List<String> reconfigure(GatewayConfig effective, GatewayConfig next) {
        List<String> applied = new ArrayList<>();
        for (Map.Entry<String, Entry> x : exports.entrySet()) {
            String name = x.getKey();
            Entry e = x.getValue();
            GatewayConfig.Export ec = next.exports().getOrDefault(name, GatewayConfig.Export.DEFAULT);
            List<ClientNetwork> allow = allowed(effective, ec);
            NbdExport was = e.export();
            if (was.readOnly() != ec.readOnly() || !was.allow().equals(allow) || !e.aliases().equals(ec.aliases())) {
                NbdExport now = was.with(ec.readOnly(), allow);
                exports.put(name, new Entry(e.head(), now, ec.aliases()));
                e.aliases().stream().filter(a -> !ec.aliases().contains(a)).forEach(aliases::remove);
                ec.aliases().forEach(a -> aliases.put(a, name));
                if (!e.aliases().equals(ec.aliases())) {
                    applied.add("export " + name + ": aliases " + ec.aliases());
                }
                if (ec.readOnly() && !was.readOnly()) {
                    applied.add("export " + name + ": read-only");
                    connections.close(name, remote -> true, "the export became read-only");
                } else if (!ec.readOnly() && was.readOnly()) {
                    applied.add("export " + name + ": writable");
                }
                if (!was.allow().equals(allow)) {
                    applied.add("export " + name + ": clients from " + (allow.isEmpty() ? "anywhere"
                            : allow.stream().map(ClientNetwork::text).toList()));
                    connections.close(name, remote -> !now.allows(remote),
                            "the export's allow-list no longer has this client");
                }
            }
        }
        return applied;
    }
}
