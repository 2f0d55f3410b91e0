package io.nvmpath.server.gateway;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What a reload may change, computed from the configuration in force and the new one, before anything
 * is applied: the settings that can change only at a start, and the configuration that is in force
 * afterwards — the new one, with every start-only setting kept at the value that runs, so that the
 * next reload compares with what runs.
 *
 * @param needsRestart the start-only settings that differ, by their configuration names
 * @param effective the configuration in force after the reload
 * @param portalsRemoved portals of the old configuration that the new one lacks
 * @param portalsAdded portals of the new configuration that the old one lacks
 */
record ConfigDiff(List<String> needsRestart, GatewayConfig effective, List<GatewayConfig.Portal> portalsRemoved,
                  List<GatewayConfig.Portal> portalsAdded) {

    static ConfigDiff between(GatewayConfig old, GatewayConfig next) {
        List<String> restart = new ArrayList<>();
        if (!Objects.equals(old.host(), next.host())) {
            restart.add("host");
        }
        if (!old.controller().equals(next.controller())) {
            restart.add("controller");
        }
        GatewayConfig.Multipath om = old.multipath();
        GatewayConfig.Multipath nm = next.multipath();
        // the iopolicy and write failover apply at once; the timers are the multipath layer's, from its start
        if (!om.noPathTimeout().equals(nm.noPathTimeout()) || !om.failback().equals(nm.failback())
                || !om.failbackDelay().equals(nm.failbackDelay()) || !om.delayedRemoval().equals(nm.delayedRemoval())
                || !om.unreportedQuiesceTime().equals(nm.unreportedQuiesceTime())
                || !om.marginal().equals(nm.marginal())) {
            restart.add("multipath (noPathTimeout, failback, failbackDelay, delayedRemoval, unreportedQuiesceTime,"
                    + " marginal)");
        }
        if (!old.nbd().listen().equals(next.nbd().listen())) {
            restart.add("nbd.listen");
        }
        if (!old.nbd().tls().equals(next.nbd().tls())) {
            restart.add("nbd.tls (the files themselves are followed as they change)");
        }
        if (old.nbd().maxPayload() != next.nbd().maxPayload()) {
            restart.add("nbd.maxPayload");
        }
        if (!Objects.equals(old.http(), next.http())) {
            restart.add("http");
        }
        GatewayConfig effective = new GatewayConfig(old.host(), next.portals(), old.controller(),
                new GatewayConfig.Multipath(nm.iopolicy(), om.noPathTimeout(), om.failback(), om.failbackDelay(),
                        om.delayedRemoval(), nm.writeFailover(), om.unreportedQuiesceTime(), om.marginal()),
                next.subsystems(),
                new GatewayConfig.Nbd(old.nbd().listen(), old.nbd().tls(), next.nbd().allow(), old.nbd().maxPayload()),
                next.exports(), old.http(), next.log());
        // a portal is its endpoint: new secrets alone do not reconnect it (its controllers re-authenticate with them)
        List<GatewayConfig.Portal> removed = old.portals().stream()
                .filter(p -> next.portals().stream().noneMatch(p::sameEndpoint)).toList();
        List<GatewayConfig.Portal> added = next.portals().stream()
                .filter(p -> old.portals().stream().noneMatch(p::sameEndpoint)).toList();
        return new ConfigDiff(List.copyOf(restart), effective, removed, added);
    }
}
