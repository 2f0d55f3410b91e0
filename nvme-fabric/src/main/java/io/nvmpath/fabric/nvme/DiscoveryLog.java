package io.nvmpath.fabric.nvme;

import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.List;

/**
 * The Discovery log page (LID 70h): a 1 KiB header (generation counter, record count) and 1 KiB
 * entries, one per subsystem port the discovery controller reports.
 */
public record DiscoveryLog(long generation, long numberOfRecords, List<Entry> entries) {
    public static final int HEADER_SIZE = 1024;
    public static final int ENTRY_SIZE = 1024;

    /** Transport type 3: TCP. */
    public static final int TRTYPE_TCP = 3;

    /**
     * @param trtype transport type (3 = TCP)
     * @param adrfam address family (1 = IPv4, 2 = IPv6)
     * @param subtype 1 referral to a discovery subsystem, 2 NVM subsystem, 3 current discovery subsystem
     * @param portid the port's identifier within the subsystem
     * @param tcpSectype for NVMe/TCP, TSAS byte 0, the security type: 0 none, 1 TLS 1.2, 2 TLS 1.3
     *                   (Linux's {@code NVMF_TCP_SECTYPE_*})
     */
    public record Entry(int trtype, int adrfam, int subtype, int treq, int portid, int cntlid, int asqsz,
                        String trsvcid, String subnqn, String traddr, int tcpSectype) {
        /** TREQ secure channel: 01b, a secure channel (TLS) is required to connect. */
        public boolean secureChannelRequired() {
            return (treq & 0x3) == 0x1;
        }

        /** The port speaks NVMe/TCP over TLS 1.3 (TSAS SECTYPE 2). */
        public boolean tls13() {
            return trtype == TRTYPE_TCP && tcpSectype == 2;
        }

        public String transportName() {
            return switch (trtype) {
                case 1 -> "rdma";
                case 2 -> "fc";
                case 3 -> "tcp";
                case 254 -> "loop";
                default -> "trtype-" + trtype;
            };
        }

        public String subtypeName() {
            return switch (subtype) {
                case 1 -> "referral";
                case 2 -> "nvme subsystem";
                case 3 -> "current discovery subsystem";
                default -> "subtype-" + subtype;
            };
        }
    }

    /** Reads the header's generation counter and record count. */
    public static long[] parseHeader(ByteBuf b) {
        Wire.require(b, 16, "Discovery log header");
        int r = b.readerIndex();
        return new long[] {b.getLongLE(r), b.getLongLE(r + 8)};
    }

    /** Parses a whole log: header and as many entries as the record count says and the data holds. */
    public static DiscoveryLog parse(ByteBuf b) {
        long[] h = parseHeader(b);
        int r = b.readerIndex();
        long avail = (b.readableBytes() - HEADER_SIZE) / ENTRY_SIZE;
        int n = (int) Math.max(0, Math.min(h[1], avail));
        List<Entry> entries = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int e = r + HEADER_SIZE + i * ENTRY_SIZE;
            entries.add(new Entry(b.getUnsignedByte(e), b.getUnsignedByte(e + 1), b.getUnsignedByte(e + 2),
                    b.getUnsignedByte(e + 3), b.getUnsignedShortLE(e + 4), b.getUnsignedShortLE(e + 6),
                    b.getUnsignedShortLE(e + 8), Wire.ascii(b, e + 32, 32), Wire.ascii(b, e + 256, 256),
                    Wire.ascii(b, e + 512, 256), b.getUnsignedByte(e + 768)));
        }
        return new DiscoveryLog(h[0], h[1], List.copyOf(entries));
    }
}
