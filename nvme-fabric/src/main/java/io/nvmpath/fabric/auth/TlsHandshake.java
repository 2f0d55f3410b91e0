package io.nvmpath.fabric.auth;

import java.util.Locale;

/**
 * Which hash a TLS 1.3 handshake under a configured PSK uses (binder, key schedule and so the cipher
 * suite). The two differ only for a 48-byte PSK (hash 02, an {@code NVMe0R02} identity).
 */
public enum TlsHandshake {
    /**
     * SHA-256 for every PSK, TLS_AES_128_GCM_SHA256: what Linux's tlshd (ktls-utils 1.0) does on both
     * sides, so what Linux's nvmet and host meet. The default.
     */
    LINUX("linux"),
    /**
     * The PSK's own hash, as NVMe TCP 3.6.1.3 pairs them: SHA-256 with TLS_AES_128_GCM_SHA256, SHA-384
     * with TLS_AES_256_GCM_SHA384 — for peers that follow the specification there (a 48-byte PSK then
     * does not meet Linux).
     */
    SPECIFICATION("spec");

    private final String label;

    TlsHandshake(String label) {
        this.label = label;
    }

    /** How configuration files and the CLI write it. */
    public String label() {
        return label;
    }

    /** The hash of a handshake under a PSK of {@code pskHash}. */
    public AuthHash handshakeHash(AuthHash pskHash) {
        return this == SPECIFICATION ? pskHash : AuthHash.SHA256;
    }

    /** @throws IllegalArgumentException naming the choices */
    public static TlsHandshake fromLabel(String label) {
        for (TlsHandshake h : values()) {
            if (h.label.equals(label.strip().toLowerCase(Locale.ROOT))) {
                return h;
            }
        }
        throw new IllegalArgumentException("\"" + label + "\" is not a TLS handshake (linux, spec)");
    }
}
