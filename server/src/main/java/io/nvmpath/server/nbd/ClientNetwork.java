package io.nvmpath.server.nbd;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** A client network in CIDR notation ("10.0.0.0/8", "::1/128", or one address), for allow-lists. */
public record ClientNetwork(byte[] network, int prefix, String text) {

    /**
     * Parses "address[/prefix]": an IPv4 dotted quad or an IPv6 literal, never a host name (no
     * lookup); IllegalArgumentException names what is wrong.
     */
    public static ClientNetwork parse(String cidr) {
        String s = cidr.trim();
        int slash = s.indexOf('/');
        String addr = slash < 0 ? s : s.substring(0, slash);
        byte[] bytes = addr.contains(":") ? ipv6(addr, cidr) : ipv4(addr, cidr);
        int max = bytes.length * 8;
        int prefix;
        try {
            prefix = slash < 0 ? max : Integer.parseInt(s.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad prefix length in '" + cidr + "'");
        }
        if (prefix < 0 || prefix > max) {
            throw new IllegalArgumentException("prefix length " + prefix + " out of 0.." + max + " in '" + cidr + "'");
        }
        return new ClientNetwork(bytes, prefix, s);
    }

    private static byte[] ipv4(String addr, String cidr) {
        String[] parts = addr.split("\\.", -1);
        if (parts.length != 4) {
            throw new IllegalArgumentException("not an IP network: '" + cidr + "'");
        }
        byte[] b = new byte[4];
        for (int i = 0; i < 4; i++) {
            if (!parts[i].matches("\\d{1,3}") || Integer.parseInt(parts[i]) > 255) {
                throw new IllegalArgumentException("not an IP network: '" + cidr + "'");
            }
            b[i] = (byte) Integer.parseInt(parts[i]);
        }
        return b;
    }

    private static byte[] ipv6(String addr, String cidr) {
        if (!addr.matches("[0-9A-Fa-f:.]+")) {
            throw new IllegalArgumentException("not an IP network: '" + cidr + "'");
        }
        try {
            return InetAddress.getByName(addr).getAddress(); // contains ':': parsed as a literal, no lookup
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IP network: '" + cidr + "'");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ClientNetwork n && prefix == n.prefix && java.util.Arrays.equals(network, n.network);
    }

    @Override
    public int hashCode() {
        return 31 * java.util.Arrays.hashCode(network) + prefix;
    }

    /** Whether {@code a} lies in this network (an IPv4-mapped IPv6 address counts as IPv4). */
    public boolean contains(InetAddress a) {
        byte[] b = a.getAddress();
        if (b.length == 16 && network.length == 4 && isV4Mapped(b)) {
            b = java.util.Arrays.copyOfRange(b, 12, 16);
        }
        if (b.length != network.length) {
            return false;
        }
        int full = prefix / 8;
        for (int i = 0; i < full; i++) {
            if (b[i] != network[i]) {
                return false;
            }
        }
        int rest = prefix % 8;
        if (rest == 0) {
            return true;
        }
        int mask = (0xFF << (8 - rest)) & 0xFF;
        return (b[full] & mask) == (network[full] & mask);
    }

    private static boolean isV4Mapped(byte[] b) {
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return (b[10] & 0xFF) == 0xFF && (b[11] & 0xFF) == 0xFF;
    }

    @Override
    public String toString() {
        return text;
    }
}
