package io.nvmpath.target;

import io.nvmpath.fabric.nvme.AnaState;

import java.util.List;
import java.util.Map;

/** Read-only snapshots of a running target, for the admin API and tests. */
public final class TargetView {
    private TargetView() {
    }

    /**
     * @param id port ID
     * @param address bound address
     * @param port bound TCP port
     * @param subsystems NQNs linked to the port
     * @param anaStates state of each ANA group through this port
     * @param fault the fault in force
     * @param connections open TCP connections (queues) on the port
     */
    public record Port(int id, String address, int port, List<String> subsystems, Map<Integer, AnaState> anaStates,
                       String fault, int connections) {
    }

    /**
     * @param cntlid controller ID within its subsystem
     * @param subsystem subsystem NQN (the discovery NQN for discovery controllers)
     * @param hostNqn the host that connected
     * @param portId the port it came through
     * @param ioQueues connected I/O queues
     * @param katoMillis keep-alive timeout the host asked for (0 = none)
     * @param enabled CC.EN
     */
    public record Controller(int cntlid, String subsystem, String hostNqn, int portId, int ioQueues, long katoMillis,
                             boolean enabled) {
    }
}
