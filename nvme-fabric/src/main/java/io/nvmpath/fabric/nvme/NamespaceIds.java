package io.nvmpath.fabric.nvme;

import io.netty.buffer.ByteBuf;

import java.util.Arrays;
import java.util.Objects;
import java.util.UUID;

/**
 * A namespace's identifiers, from the Namespace Identification Descriptor list (CNS 03h) and,
 * where the list lacks them, from Identify Namespace. Two paths reach the same namespace only when
 * these are equal.
 *
 * @param eui64 8 bytes or {@code null}
 * @param nguid 16 bytes or {@code null}
 * @param uuid or {@code null}
 * @param csi command set identifier, 0 (NVM) when not reported
 */
public record NamespaceIds(byte[] eui64, byte[] nguid, UUID uuid, int csi) {
    public static final int NIDT_EUI64 = 1;
    public static final int NIDT_NGUID = 2;
    public static final int NIDT_UUID = 3;
    public static final int NIDT_CSI = 4;

    /** Parses a descriptor list (4096 bytes), ending at the first zero NIDT. */
    public static NamespaceIds parseDescriptors(ByteBuf b) {
        byte[] eui = null;
        byte[] nguid = null;
        UUID uuid = null;
        int csi = 0;
        int r = b.readerIndex();
        int end = b.writerIndex();
        int off = r;
        while (off + 4 <= end) {
            int nidt = b.getUnsignedByte(off);
            int nidl = b.getUnsignedByte(off + 1);
            if (nidt == 0 || off + 4 + nidl > end) {
                break;
            }
            int v = off + 4;
            switch (nidt) {
                case NIDT_EUI64 -> eui = nidl == 8 ? Wire.bytes(b, v, 8) : null;
                case NIDT_NGUID -> nguid = nidl == 16 ? Wire.bytes(b, v, 16) : null;
                case NIDT_UUID -> uuid = nidl == 16 ? new UUID(b.getLong(v), b.getLong(v + 8)) : null;
                case NIDT_CSI -> csi = nidl >= 1 ? b.getUnsignedByte(v) : 0;
                default -> {
                    // unknown types are skipped by their length
                }
            }
            off = v + nidl;
        }
        return new NamespaceIds(eui, nguid, uuid, csi);
    }

    /** Fills identifiers the descriptor list lacked from Identify Namespace (non-zero values only). */
    public NamespaceIds withFallback(IdentifyNamespace ns) {
        byte[] e = eui64 != null ? eui64 : (Wire.allZero(ns.eui64()) ? null : ns.eui64());
        byte[] g = nguid != null ? nguid : (Wire.allZero(ns.nguid()) ? null : ns.nguid());
        return new NamespaceIds(e, g, uuid, csi);
    }

    public boolean isEmpty() {
        return eui64 == null && nguid == null && uuid == null;
    }

    public String eui64Hex() {
        return eui64 == null ? null : Wire.hex(eui64);
    }

    public String nguidHex() {
        return nguid == null ? null : Wire.hex(nguid);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NamespaceIds n && Arrays.equals(eui64, n.eui64) && Arrays.equals(nguid, n.nguid)
                && Objects.equals(uuid, n.uuid) && csi == n.csi;
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(eui64), Arrays.hashCode(nguid), uuid, csi);
    }

    @Override
    public String toString() {
        return "NamespaceIds{eui64=" + eui64Hex() + ", nguid=" + nguidHex() + ", uuid=" + uuid + ", csi=" + csi + "}";
    }
}
