package io.nvmpath.server.http;

import io.prometheus.client.Collector;

import java.util.List;

/**
 * Every meter the gateway publishes, in one place: its dotted name, type, base unit and labels. The
 * Prometheus name follows Micrometer's convention: dots become underscores, the base unit is
 * appended unless the name already ends with it, and a counter's samples end in {@code _total}
 * ({@code nvmpath.path.bytes} counter in bytes → {@code nvmpath_path_bytes_total}).
 *
 * <p>Labels are bounded: subsystem NQNs, namespace IDs, paths (a controller's transport address),
 * export names, portal addresses, and enumerations (I/O kind, NBD command, NVMe status, state).
 * Never an LBA, a client address or an error message.
 *
 * <p>Two kinds of path meters: those of the controller (labels {@code subsystem, path}: its state,
 * its I/O, its latency, its errors, counted by the transport for every namespace it carries) and
 * those of a path into one namespace head (labels {@code subsystem, nsid, path}: ANA state, the path
 * predicate, failovers away from it).
 */
public enum GatewayMeter {
    /** 1 while the gateway serves, 0 while it starts or shuts down. */
    SERVING("nvmpath.gateway.serving", Type.GAUGE, null, "1 while the gateway serves"),

    /** 1 per subsystem; its iopolicy and preferred path ("" for none) as labels. */
    SUBSYSTEM_INFO("nvmpath.subsystem.info", Type.GAUGE, null, "Subsystem iopolicy and preferred path",
            "subsystem", "iopolicy", "preferred_path"),
    /** Paths refused to a head of the subsystem (identifiers that do not match, and the like). */
    SUBSYSTEM_REFUSED_PATHS("nvmpath.subsystem.refused.paths", Type.GAUGE, null, "Paths refused to a head",
            "subsystem"),

    /** Capacity of the namespace. */
    HEAD_SIZE("nvmpath.head.size", Type.GAUGE, "bytes", "Namespace size", "subsystem", "nsid"),
    /** Paths joined to the head, usable or not. */
    HEAD_PATHS("nvmpath.head.paths", Type.GAUGE, null, "Paths of the namespace head", "subsystem", "nsid"),
    /** Paths the head may send I/O to now; 0 means requests queue (alert on it). */
    HEAD_USABLE_PATHS("nvmpath.head.usable.paths", Type.GAUGE, null, "Usable paths of the namespace head",
            "subsystem", "nsid"),
    /** Requests waiting for a usable path now (the no-path queue). */
    HEAD_QUEUED("nvmpath.head.queued", Type.GAUGE, null, "Requests waiting for a usable path", "subsystem", "nsid"),
    /** Data of the requests waiting for a usable path. */
    HEAD_QUEUED_BYTES("nvmpath.head.queued.bytes", Type.GAUGE, "bytes", "Data of the requests waiting for a path",
            "subsystem", "nsid"),
    /** Requests that had to wait for a usable path. */
    HEAD_NO_PATH_WAITS("nvmpath.head.nopath.waits", Type.COUNTER, null, "Requests that waited for a path",
            "subsystem", "nsid"),
    /** Requests failed for want of a usable path (queue timeout, no path left that may come back). */
    HEAD_NO_PATH_FAILURES("nvmpath.head.nopath.failures", Type.COUNTER, null, "Requests failed for want of a path",
            "subsystem", "nsid"),
    /** FAILOVER dispositions: a request sent again on another path. */
    HEAD_FAILOVERS("nvmpath.head.failovers", Type.COUNTER, null, "Requests failed over", "subsystem", "nsid"),
    /** RETRY dispositions: a request sent again, any path. */
    HEAD_RETRIES("nvmpath.head.retries", Type.COUNTER, null, "Requests retried", "subsystem", "nsid"),

    /** One-hot controller state: 1 on the series whose {@code state} label is the current one, 0 on the others. */
    PATH_CONTROLLER_STATE("nvmpath.path.controller.state", Type.GAUGE, null,
            "Controller state, one-hot (new, connecting, live, resetting, deleting, dead)",
            "subsystem", "path", "state"),
    /** Controller state as a number: 0 new, 1 connecting, 2 live, 3 resetting, 4 deleting, 5 dead; -1 unknown. */
    PATH_CONTROLLER_STATE_CODE("nvmpath.path.controller.state.code", Type.GAUGE, null,
            "Controller state: 0 new, 1 connecting, 2 live, 3 resetting, 4 deleting, 5 dead", "subsystem", "path"),
    /** The controller's CNTLID (it changes when the controller reconnects). */
    PATH_CNTLID("nvmpath.path.cntlid", Type.GAUGE, null, "Controller ID of the path", "subsystem", "path"),
    /** Commands sent along the path and not yet completed. */
    PATH_IN_FLIGHT("nvmpath.path.inflight", Type.GAUGE, null, "Commands in flight on the path", "subsystem", "path"),
    /** Round trip of the controller's last Keep Alive (absent until one completed). */
    PATH_KEEPALIVE_RTT("nvmpath.path.keepalive.rtt", Type.GAUGE, "seconds", "Round trip of the last Keep Alive",
            "subsystem", "path"),
    /** Failovers recorded, by subsystem and cause. */
    FAILOVERS("nvmpath.failovers", Type.COUNTER, null, "Failovers (requests leaving one path of a head for one cause)",
            "subsystem", "cause"),
    /** From a failover's first failed command to its first completion on another path. */
    FAILOVER_STALL("nvmpath.failover.stall", Type.HISTOGRAM, "seconds",
            "Stall of each failover: first failed command to first completion on another path", "subsystem", "cause"),
    /** Successful I/O commands by kind (read, write, flush, other). */
    PATH_OPS("nvmpath.path.ops", Type.COUNTER, null, "Successful I/O commands", "subsystem", "path", "op"),
    /** Data of the successful I/O commands by kind. */
    PATH_BYTES("nvmpath.path.bytes", Type.COUNTER, "bytes", "Data of successful I/O commands",
            "subsystem", "path", "op"),
    /** Latency of the successful I/O commands, buckets of {@code PathStats.BUCKET_MICROS}. */
    PATH_LATENCY("nvmpath.path.latency", Type.HISTOGRAM, "seconds", "Latency of successful I/O commands",
            "subsystem", "path"),
    /** Failed commands by NVMe status ({@code status="0x302"}, SCT and SC) and its name. */
    PATH_ERRORS("nvmpath.path.errors", Type.COUNTER, null, "Failed commands by NVMe status",
            "subsystem", "path", "status", "status_name"),

    /** One-hot ANA state of the path into the namespace: 1 on the current {@code state}, 0 on the others. */
    PATH_ANA_STATE("nvmpath.path.ana.state", Type.GAUGE, null,
            "ANA state, one-hot (optimized, non-optimized, inaccessible, persistent-loss, change)",
            "subsystem", "nsid", "path", "state"),
    /** ANA state as its code in the ANA log: 1 optimized, 2 non-optimized, 3 inaccessible, 4 persistent loss, 15 change. */
    PATH_ANA_STATE_CODE("nvmpath.path.ana.state.code", Type.GAUGE, null,
            "ANA state code: 1 optimized, 2 non-optimized, 3 inaccessible, 4 persistent-loss, 15 change",
            "subsystem", "nsid", "path"),
    /** The ANA group of the namespace behind this path. */
    PATH_ANA_GROUP("nvmpath.path.ana.group", Type.GAUGE, null, "ANA group ID", "subsystem", "nsid", "path"),
    /** 1 while the path predicate holds (controller live, ANA state usable, no ANA change pending). */
    PATH_USABLE("nvmpath.path.usable", Type.GAUGE, null, "1 while the path is usable", "subsystem", "nsid", "path"),
    /** 1 while the path is held back (used only when nothing better is usable): marginal, or waiting before failback. */
    PATH_HELD("nvmpath.path.held", Type.GAUGE, null, "1 while the path is held back", "subsystem", "nsid", "path"),
    /** 1 while the path is marginal (erring or slow). */
    PATH_MARGINAL("nvmpath.path.marginal", Type.GAUGE, null, "1 while the path is marginal",
            "subsystem", "nsid", "path"),
    /** Times the path stopped being usable. */
    PATH_FAILURES("nvmpath.path.failures", Type.COUNTER, null, "Times the path stopped being usable",
            "subsystem", "nsid", "path"),
    /** Times the path was held back as marginal. */
    PATH_MARGINAL_HOLDS("nvmpath.path.marginal.holds", Type.COUNTER, null, "Times the path was held as marginal",
            "subsystem", "nsid", "path"),
    /** Requests failed over away from the path. */
    PATH_FAILOVERS("nvmpath.path.failovers", Type.COUNTER, null, "Requests failed over away from the path",
            "subsystem", "nsid", "path"),

    /** 1 while the export's namespace head has a usable path. */
    EXPORT_AVAILABLE("nvmpath.export.available", Type.GAUGE, null, "1 while the export has a usable path",
            "export", "subsystem", "nsid"),
    /** Open NBD connections. */
    EXPORT_CONNECTIONS("nvmpath.export.connections", Type.GAUGE, null, "Open NBD connections",
            "export", "subsystem", "nsid"),
    /** NBD connections opened since start. */
    EXPORT_CONNECTIONS_OPENED("nvmpath.export.connections.opened", Type.COUNTER, null, "NBD connections opened",
            "export", "subsystem", "nsid"),
    /** NBD requests received and not yet answered. */
    EXPORT_IN_FLIGHT("nvmpath.export.inflight", Type.GAUGE, null, "NBD requests in flight",
            "export", "subsystem", "nsid"),
    /** Completed NBD requests by command (read, write, flush, trim, write_zeroes, cache, block_status). */
    EXPORT_REQUESTS("nvmpath.export.requests", Type.COUNTER, null, "Completed NBD requests",
            "export", "subsystem", "nsid", "op"),
    /** Data moved by NBD command. */
    EXPORT_BYTES("nvmpath.export.bytes", Type.COUNTER, "bytes", "Data moved by NBD requests",
            "export", "subsystem", "nsid", "op"),
    /** Failed NBD requests by NBD error name (EIO, ENOSPC...). */
    EXPORT_ERRORS("nvmpath.export.errors", Type.COUNTER, null, "Failed NBD requests by error",
            "export", "subsystem", "nsid", "error"),

    /** One-hot portal state (connected, connecting, retrying); {@code subsystem} is "" for a discovery portal. */
    PORTAL_STATE("nvmpath.portal.state", Type.GAUGE, null, "Portal state, one-hot (connected, connecting, retrying)",
            "portal", "kind", "subsystem", "state"),
    /**
     * Failed connects of the portal (and its controllers deleted), by {@code reason}: "authentication"
     * when DH-HMAC-CHAP refused it, else "connect".
     */
    PORTAL_CONNECT_FAILURES("nvmpath.portal.connect.failures", Type.COUNTER, null,
            "Failed connects of the portal, by reason (authentication, connect)", "portal", "kind", "subsystem", "reason"),

    /**
     * Direct memory in use by Netty: {@code source="pooled"} the pooled allocator, {@code "adaptive"}
     * the default allocator when it is not the pooled one, {@code "platform"} what Netty reserved
     * outside the JDK's accounting (only when Netty tracks it). A Micrometer gauge, not read from the view.
     */
    NETTY_DIRECT_MEMORY("nvmpath.netty.direct.memory.used", Type.GAUGE, "bytes", "Direct memory used by Netty",
            "source");

    /** How a meter is exposed. */
    public enum Type {
        /** A value that goes up and down. */
        GAUGE,
        /** A monotonic count since start; samples end in {@code _total}. */
        COUNTER,
        /** Cumulative buckets {@code _bucket{le}}, {@code _sum} and {@code _count}. */
        HISTOGRAM
    }

    private final String name;
    private final Type type;
    private final String baseUnit;
    private final String description;
    private final List<String> labels;

    GatewayMeter(String name, Type type, String baseUnit, String description, String... labels) {
        this.name = name;
        this.type = type;
        this.baseUnit = baseUnit;
        this.description = description;
        this.labels = List.of(labels);
    }

    /** The dotted Micrometer name. */
    public String meterName() {
        return name;
    }

    public Type type() {
        return type;
    }

    /** The base unit ("bytes", "seconds"), or null for a plain count. */
    public String baseUnit() {
        return baseUnit;
    }

    public String description() {
        return description;
    }

    /** Label names, in the order their values are given. */
    public List<String> labels() {
        return labels;
    }

    /** The Prometheus family name: {@code nvmpath_path_latency_seconds}; a counter's samples add {@code _total}. */
    public String prometheusName() {
        String base = name.replace('.', '_');
        if (baseUnit != null && !base.endsWith("_" + baseUnit)) {
            base += "_" + baseUnit;
        }
        return base;
    }

    /** Whether the meter is read from a {@link io.nvmpath.server.gateway.GatewayView} snapshot at each scrape. */
    boolean fromView() {
        return this != NETTY_DIRECT_MEMORY;
    }

    Collector.Type prometheusType() {
        return switch (type) {
            case GAUGE -> Collector.Type.GAUGE;
            case COUNTER -> Collector.Type.COUNTER;
            case HISTOGRAM -> Collector.Type.HISTOGRAM;
        };
    }
}
