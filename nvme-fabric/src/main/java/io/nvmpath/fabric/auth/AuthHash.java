package io.nvmpath.fabric.auth;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;

/**
 * The hash functions of NVMe in-band authentication, numbered as the NVMe Base specification's HashID
 * and Linux's {@code NVME_AUTH_HASH_*} ({@code include/linux/nvme.h}): 1 SHA-256, 2 SHA-384, 3 SHA-512.
 * The same numbers are the {@code <hh>} of a {@code DHHC-1} secret (the hash that transforms it, 0 for
 * none), the {@code <hh>} of a {@code NVMeTLSkey-1} PSK and the {@code <hmac>} of a TLS PSK identity.
 * The names are those of the kernel's {@code hash_map} ({@code drivers/nvme/common/auth.c}), which
 * nvme-cli and the nvmet configfs attribute {@code dhchap_hash} print and accept.
 */
public enum AuthHash {
    /** HashID 01h. */
    SHA256(1, "hmac(sha256)", "sha256", 32, "HmacSHA256", "SHA-256"),
    /** HashID 02h. */
    SHA384(2, "hmac(sha384)", "sha384", 48, "HmacSHA384", "SHA-384"),
    /** HashID 03h; not usable for TLS PSKs (the kernel's digest and TLS PSK derivation refuse it). */
    SHA512(3, "hmac(sha512)", "sha512", 64, "HmacSHA512", "SHA-512");

    private final int id;
    private final String hmacName;
    private final String digestName;
    private final int length;
    private final String jcaMac;
    private final String jcaDigest;

    AuthHash(int id, String hmacName, String digestName, int length, String jcaMac, String jcaDigest) {
        this.id = id;
        this.hmacName = hmacName;
        this.digestName = digestName;
        this.length = length;
        this.jcaMac = jcaMac;
        this.jcaDigest = jcaDigest;
    }

    /** The HashID on the wire. */
    public int id() {
        return id;
    }

    /** The name as the kernel and nvme-cli print it, e.g. {@code hmac(sha256)}. */
    public String hmacName() {
        return hmacName;
    }

    /** The bare digest name, e.g. {@code sha256}. */
    public String digestName() {
        return digestName;
    }

    /** The digest length in bytes, the HL of the DH-HMAC-CHAP messages. */
    public int length() {
        return length;
    }

    /** The hash for a HashID, or {@code null} for one not defined (0 is "no hash", not a hash). */
    public static AuthHash fromId(int id) {
        for (AuthHash h : values()) {
            if (h.id == id) {
                return h;
            }
        }
        return null;
    }

    /** The hash for {@code hmac(shaNNN)} or {@code shaNNN}, or {@code null}. */
    public static AuthHash fromName(String name) {
        for (AuthHash h : values()) {
            if (h.hmacName.equals(name) || h.digestName.equals(name)) {
                return h;
            }
        }
        return null;
    }

    /** A fresh HMAC keyed with {@code key} (any length, as HMAC allows; at least one byte). */
    Mac mac(byte[] key) {
        try {
            Mac mac = Mac.getInstance(jcaMac);
            mac.init(new SecretKeySpec(key, jcaMac));
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(jcaMac + " is not available", e);
        }
    }

    /** HMAC({@code key}, {@code data}). */
    byte[] hmac(byte[] key, byte[] data) {
        return mac(key).doFinal(data);
    }

    /** H({@code data}). */
    byte[] digest(byte[] data) {
        try {
            return MessageDigest.getInstance(jcaDigest).digest(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(jcaDigest + " is not available", e);
        }
    }
}
