package io.nvmpath.target.admin;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.TargetView;

import java.util.Map;

/**
 * The JSON of the admin API, in one place: what {@code GET /api/v1/target} and the port endpoints
 * answer, and what {@code nvmpath target -o json} prints. ANA states are written by their labels
 * ({@code "non-optimized"}), ANA groups as object keys ({@code {"1": "optimized"}}).
 */
public final class TargetJson {
    /** The mapper the admin API reads and writes with. */
    public static final ObjectMapper MAPPER = new ObjectMapper();

    private TargetJson() {
    }

    /** {@code {ports: [...], controllers: [...], discoveryPort}}; {@code discoveryPort} is null when there is none. */
    public static ObjectNode target(NvmeTarget target) {
        ObjectNode o = MAPPER.createObjectNode();
        ArrayNode ports = o.putArray("ports");
        for (TargetView.Port p : target.ports()) {
            ports.add(port(p));
        }
        ArrayNode controllers = o.putArray("controllers");
        for (TargetView.Controller c : target.controllers()) {
            controllers.add(controller(c));
        }
        int discovery = target.discoveryPort();
        if (discovery < 0) {
            o.putNull("discoveryPort");
        } else {
            o.put("discoveryPort", discovery);
        }
        return o;
    }

    /** One port: {@code id, address, port, subsystems, anaStates, fault, connections}. */
    public static ObjectNode port(TargetView.Port p) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("id", p.id());
        o.put("address", p.address());
        o.put("port", p.port());
        ArrayNode subsystems = o.putArray("subsystems");
        p.subsystems().forEach(subsystems::add);
        ObjectNode ana = o.putObject("anaStates");
        for (Map.Entry<Integer, AnaState> e : p.anaStates().entrySet()) {
            ana.put(String.valueOf(e.getKey()), e.getValue().label());
        }
        o.put("fault", p.fault());
        o.put("connections", p.connections());
        return o;
    }

    /** One controller: {@code cntlid, subsystem, hostNqn, portId, ioQueues, katoMillis, enabled}. */
    public static ObjectNode controller(TargetView.Controller c) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("cntlid", c.cntlid());
        o.put("subsystem", c.subsystem());
        o.put("hostNqn", c.hostNqn());
        o.put("portId", c.portId());
        o.put("ioQueues", c.ioQueues());
        o.put("katoMillis", c.katoMillis());
        o.put("enabled", c.enabled());
        return o;
    }
}
