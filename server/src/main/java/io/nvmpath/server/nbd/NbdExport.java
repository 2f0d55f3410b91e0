package io.nvmpath.server.nbd;

import io.nvmpath.server.block.BlockDevice;

import java.util.List;

/**
 * One export as the NBD server offers it.
 *
 * @param name the name clients ask for (see the README's naming scheme)
 * @param description free text shown by {@code nbdinfo --list}
 * @param device what the export reads and writes
 * @param readOnly refuse writes (EPERM) and advertise READ_ONLY, whatever the device allows
 * @param allow client networks allowed to see and open the export; empty = any
 * @param stats counters the front end keeps for this export
 */
public record NbdExport(String name, String description, BlockDevice device, boolean readOnly,
                        List<ClientNetwork> allow, ExportStats stats) {
    public NbdExport {
        allow = List.copyOf(allow);
    }

    /** Whether a client at {@code remote} may see and open this export (its allow-list). */
    public boolean allows(java.net.SocketAddress remote) {
        if (allow.isEmpty()) {
            return true;
        }
        if (!(remote instanceof java.net.InetSocketAddress inet) || inet.getAddress() == null) {
            return false;
        }
        for (ClientNetwork network : allow) {
            if (network.contains(inet.getAddress())) {
                return true;
            }
        }
        return false;
    }

    /** This export with other settings: the same device and counters. */
    public NbdExport with(boolean readOnly, List<ClientNetwork> allow) {
        return new NbdExport(name, description, device, readOnly, allow, stats);
    }
}
