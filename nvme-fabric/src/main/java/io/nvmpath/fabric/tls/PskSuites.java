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

    static int prf(AuthHash hash) {
        return hash == AuthHash.SHA384 ? PRFAlgorithm.tls13_hkdf_sha384 : PRFAlgorithm.tls13_hkdf_sha256;
    }

    static String name(int suite) {
        return switch (suite) {
            case CipherSuite.TLS_AES_128_GCM_SHA256 -> "TLS_AES_128_GCM_SHA256";
            case CipherSuite.TLS_AES_256_GCM_SHA384 -> "TLS_AES_256_GCM_SHA384";
            default -> String.format("0x%04x", suite);
        };
    }
}
