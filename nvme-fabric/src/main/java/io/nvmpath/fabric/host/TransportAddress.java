package io.nvmpath.fabric.host;

/** TRADDR and TRSVCID of an NVMe/TCP port. */
public record TransportAddress(String traddr, int trsvcid) {
    public TransportAddress {
        if (traddr == null || traddr.isBlank()) {
            throw new IllegalArgumentException("traddr is empty");
        }
        if (trsvcid < 1 || trsvcid > 65535) {
            throw new IllegalArgumentException("trsvcid out of range: " + trsvcid);
        }
    }

    @Override
    public String toString() {
        return traddr.contains(":") ? "[" + traddr + "]:" + trsvcid : traddr + ":" + trsvcid;
    }
}
