package io.nvmpath.server.nbd;

import java.util.List;

/**
 * The exports the NBD server offers, looked up on every option that names one: the set changes at
 * run time as namespaces appear and disappear, and a change shows in the next lookup. Called on
 * connection event loops, so implementations answer from memory without blocking.
 *
 * <p>The server applies each export's allow-list itself; these methods return every export.
 */
public interface NbdExports {

    /** The export called {@code name}, or {@code null} if there is none. Never called with "". */
    NbdExport find(String name);

    /** Every export, in the order {@code NBD_OPT_LIST} shows them. */
    List<NbdExport> list();

    /**
     * The export a client gets when it asks for the empty name (the protocol's "default" export):
     * by default the first of {@link #list()}, or {@code null} when there is none. The server then
     * applies that export's allow-list like any other's: the default export is not "the first one
     * this client may see".
     */
    default NbdExport defaultExport() {
        List<NbdExport> all = list();
        return all.isEmpty() ? null : all.get(0);
    }
}
