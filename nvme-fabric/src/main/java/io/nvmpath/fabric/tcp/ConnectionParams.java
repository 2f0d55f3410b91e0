package io.nvmpath.fabric.tcp;

/**
 * What the ICReq/ICResp exchange settled for one NVMe/TCP connection, shared by its decoder and
 * encoder. Lives on the connection's event loop; set once, right after the exchange.
 */
public final class ConnectionParams {
    /** Largest PDU a peer may send us unless configured otherwise: 8 MiB of data plus headers. */
    public static final int DEFAULT_MAX_RX_DATA = 8 << 20;

    private boolean headerDigest;
    private boolean dataDigest;
    private int txDataAlignment = 4;
    private int maxRxData = DEFAULT_MAX_RX_DATA;

    public boolean headerDigest() {
        return headerDigest;
    }

    public boolean dataDigest() {
        return dataDigest;
    }

    /** Byte alignment our data sections must start at: (PDA + 1) × 4 of the peer's ICReq/ICResp. */
    public int txDataAlignment() {
        return txDataAlignment;
    }

    /** The most data one received PDU may carry; a larger PLEN is a fatal header error. */
    public int maxRxData() {
        return maxRxData;
    }

    public ConnectionParams digests(boolean header, boolean data) {
        this.headerDigest = header;
        this.dataDigest = data;
        return this;
    }

    /** @param pda the peer's HPDA/CPDA (0's based dwords, 0..31) */
    public ConnectionParams peerDataAlignment(int pda) {
        this.txDataAlignment = (pda + 1) * 4;
        return this;
    }

    public ConnectionParams maxRxData(int bytes) {
        this.maxRxData = bytes;
        return this;
    }
}
