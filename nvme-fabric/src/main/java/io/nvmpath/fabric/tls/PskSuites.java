package io.nvmpath.fabric.tls;

import io.nvmpath.fabric.auth.AuthHash;
import org.bouncycastle.tls.CipherSuite;
import org.bouncycastle.tls.PRFAlgorithm;

/** The TLS 1.3 cipher suite and HKDF of a PSK's hash (NVMe TCP Transport 3.6.1.3). */
final class PskSuites {
    private PskSuites() {
    }

    static int cipherSuite(AuthHash hash) {
        return hash == AuthHash.SHA384 ? CipherSuite.TLS_AES_256_GCM_SHA384 : CipherSuite.TLS_AES_128_GCM_SHA256;
    }

    /**
     * The suites a target takes for a handshake of {@code hash}. Not TLS_CHACHA20_POLY1305_SHA256: Linux
     * 6.12's host (tlshd 1.0 as client) offers it after TLS_AES_256_GCM_SHA384 for an {@code NVMe0R02}
     * identity whose binder it makes with SHA-256, and reports the handshake failed (-EIO) when it is
     * chosen; refusing at once names the problem instead.
     */
    static int[] acceptable(AuthHash hash) {
        return new int[] {cipherSuite(hash)};
    }

    static int prf(AuthHash hash) {
        return hash == AuthHash.SHA384 ? PRFAlgorithm.tls13_hkdf_sha384 : PRFAlgorithm.tls13_hkdf_sha256;
    }

    static String name(int suite) {
        return switch (suite) {
            case CipherSuite.TLS_AES_128_GCM_SHA256 -> "TLS_AES_128_GCM_SHA256";
            case CipherSuite.TLS_AES_256_GCM_SHA384 -> "TLS_AES_256_GCM_SHA384";
            case CipherSuite.TLS_CHACHA20_POLY1305_SHA256 -> "TLS_CHACHA20_POLY1305_SHA256";
            default -> String.format("0x%04x", suite);
        };
    }
}
