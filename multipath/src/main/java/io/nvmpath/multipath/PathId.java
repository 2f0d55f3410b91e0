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

    /**
     * {@code s} checked as a portal address the way paths carry theirs, {@code traddr:trsvcid}
     * ({@code [v6]:port} for IPv6), trimmed; a clear refusal otherwise.
     */
    public static String portalAddress(String s) {
        String a = s == null ? "" : s.trim();
        int colon = a.lastIndexOf(':');
        String host = colon <= 0 ? "" : a.substring(0, colon);
        String port = colon < 0 ? "" : a.substring(colon + 1);
        boolean ok = !host.isEmpty() && !port.isEmpty() && port.chars().allMatch(Character::isDigit) && port.length() <= 5
                && a.chars().noneMatch(Character::isWhitespace)
                && (host.indexOf(':') < 0 || host.startsWith("[") && host.endsWith("]"));
        if (!ok || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535) {
            throw new IllegalArgumentException("'" + s + "' is not a portal address: traddr:trsvcid, e.g. 10.0.0.1:4420"
                    + " or [fd00::1]:4420 (a preferred path is the portal, whatever the controller ID)");
        }
        return a;
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
