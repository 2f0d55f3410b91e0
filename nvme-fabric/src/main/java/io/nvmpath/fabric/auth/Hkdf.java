package io.nvmpath.fabric.auth;

import javax.crypto.Mac;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * HKDF (RFC 5869) and TLS 1.3's HKDF-Expand-Label (RFC 8446 section 7.1) over HMAC, as NVMe/TCP's
 * PSK derivations use them (NVMe TCP Transport 3.6.1.3, TP8018). Written over {@link Mac} rather than
 * {@code javax.crypto.KDF} because the project compiles for release 21, where that API is absent.
 */
public final class Hkdf {
    private Hkdf() {
    }

    /**
     * HKDF-Extract: PRK = HMAC(salt, IKM). An empty or {@code null} salt is the RFC's default, a string
     * of HashLen zeros; the kernel's {@code nvme_auth_derive_tls_psk} passes exactly that ("0").
     */
    public static byte[] extract(AuthHash hash, byte[] salt, byte[] ikm) {
        byte[] s = salt == null || salt.length == 0 ? new byte[hash.length()] : salt;
        return hash.hmac(s, ikm);
    }

    /** HKDF-Expand: the first {@code length} bytes of T(1) || T(2) || ..., at most 255 blocks. */
    public static byte[] expand(AuthHash hash, byte[] prk, byte[] info, int length) {
        if (length < 0 || length > 255 * hash.length()) {
            throw new IllegalArgumentException("HKDF-Expand length " + length + " is outside 0.."
                    + 255 * hash.length());
        }
        Mac mac = hash.mac(prk);
        byte[] out = new byte[length];
        byte[] t = new byte[0];
        int done = 0;
        for (int i = 1; done < length; i++) {
            mac.update(t);
            mac.update(info);
            mac.update((byte) i);
            t = mac.doFinal();
            int n = Math.min(t.length, length - done);
            System.arraycopy(t, 0, out, done, n);
            done += n;
        }
        return out;
    }

    /**
     * HKDF-Expand-Label(PRK, label, context, length) with the RFC 8446 HkdfLabel: a big-endian u16
     * length, a length-prefixed {@code "tls13 " + label} and a length-prefixed context. This is the
     * encoding of the kernel's {@code hkdf_expand_label} ({@code drivers/nvme/common/auth.c}) and of
     * libnvme since 1.16; {@link HkdfLabelEncoding#LIBNVME_LEGACY} is the one older libnvme used.
     */
    public static byte[] expandLabel(AuthHash hash, byte[] prk, String label, byte[] context, int length) {
        return expand(hash, prk, HkdfLabelEncoding.RFC_8446.info(label, context, length), length);
    }

    /** Concatenation helper for the info strings. */
    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
