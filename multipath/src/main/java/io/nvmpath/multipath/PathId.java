package io.nvmpath.multipath;

/**
 * Who a path is: the controller's transport address and its controller ID. The head, the views, the
 * metrics and the bench tell paths apart by this, never by parsing a display name.
 *
 * @param address {@code traddr:trsvcid} of the controller's portal (or a test's name for it)
 * @param cntlid the controller ID, -1 when unknown; a reconnect to the same portal may get another
 */
public record PathId(String address, int cntlid) {
    public PathId {
        if (address == null || address.isBlank()) {
            throw new IllegalArgumentException("a path needs an address");
        }
    }

    /** Whether this path is reached through the portal at {@code address} ({@code traddr:trsvcid}). */
    public boolean at(String address) {
        return this.address.equals(address);
    }

    /** For logs and the API: {@code 127.0.0.1:4420 cntlid 3}, or the address alone when the CNTLID is unknown. */
    @Override
    public String toString() {
        return cntlid < 0 ? address : address + " cntlid " + cntlid;
    }
}
