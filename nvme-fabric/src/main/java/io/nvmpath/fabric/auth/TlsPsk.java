package io.nvmpath.fabric.auth;

import javax.crypto.Mac;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * A configured NVMe/TCP TLS PSK in the PSK interchange format (NVMe TCP Transport 3.6.1.5), and the
 * derivations that turn it into the PSK TLS uses.
 *
 * <p>Interchange format, as libnvme's {@code nvme_import_tls_key_versioned} / {@code _export_}
 * ({@code src/nvme/linux.c}) and nvme-cli's {@code gen-tls-key}/{@code check-tls-key} read and write it:
 * {@code NVMeTLSkey-1:<hh>:<base64 of PSK || CRC-32(PSK) little-endian>:}, where {@code hh} is the hash
 * that turns the configured PSK into the retained PSK: 00 none (the configured PSK is the retained one,
 * 32 or 48 bytes), 01 SHA-256 (32 bytes), 02 SHA-384 (48 bytes). nvme-cli 2.13 prints 01 for a 32-byte
 * and 02 for a 48-byte key. The CRC is zlib's CRC-32 ({@code java.util.zip.CRC32}).
 *
 * <p>From configured to TLS PSK (TP8018; libnvme's {@code derive_nvme_keys}):
 * <ol>
 * <li>retained PSK = HKDF-Expand-Label(HKDF-Extract(0, configured), "HostNQN", NQNh, length) with hh's
 *     hash, or the configured PSK for hh 00 ({@link #retained});</li>
 * <li>the identity's hash is hh's, or for hh 00 the one of the key's length ({@link #hash});</li>
 * <li>version 1 only: PSK digest = base64(HMAC(retained, NQNh || " " || NQNc || " " ||
 *     "NVMe-over-Fabrics")) ({@link #digest}, the kernel's {@code nvme_auth_generate_digest});</li>
 * <li>TLS PSK = HKDF-Expand-Label(HKDF-Extract(0, retained), "nvme-tls-psk", context, hash length),
 *     the context being the identity string for version 0 and {@code "<hh> <digest>"} for version 1
 *     ({@link #deriveTlsPsk}, the kernel's {@code nvme_auth_derive_tls_psk}).</li>
 * </ol>
 * The HkdfLabel layout differs between libnvme before and after 1.16 ({@link HkdfLabelEncoding}); the
 * kernel has only the RFC 8446 one. Linux 6.12 derives nothing for a retained PSK: nvme-cli computes
 * the TLS PSK and inserts it into the {@code .nvme} keyring under its identity, and the kernel and tlshd
 * use it as is. So what a peer expects depends on the nvme-cli that inserted the key: nvme-cli 2.13
 * (libnvme 1.13) inserts {@link HkdfLabelEncoding#LIBNVME_LEGACY} keys.
 *
 * <p>{@link #toString()} never shows the key; parse errors never quote the input.
 */
public final class TlsPsk {
    /** The prefix of the interchange format, version 1. */
    public static final String PREFIX = "NVMeTLSkey-1:";
    private static final byte[] SEED = " NVMe-over-Fabrics".getBytes(StandardCharsets.US_ASCII);

    private final byte[] key;
    private final AuthHash transform;
    private final TlsHandshake handshake;

    private TlsPsk(byte[] key, AuthHash transform) {
        this(key, transform, TlsHandshake.LINUX);
    }

    private TlsPsk(byte[] key, AuthHash transform, TlsHandshake handshake) {
        this.key = key;
        this.transform = transform;
        this.handshake = handshake;
    }

    /** This PSK, used in handshakes of {@code h} (configured beside the key, not part of it). */
    public TlsPsk withHandshake(TlsHandshake h) {
        return new TlsPsk(key, transform, java.util.Objects.requireNonNull(h, "handshake"));
    }

    /** How handshakes under this PSK choose their hash: {@link TlsHandshake#LINUX} unless configured. */
    public TlsHandshake handshake() {
        return handshake;
    }

    /**
     * A configured PSK of raw bytes.
     *
     * @param transform the retained-PSK hash (SHA-256 for 32 bytes, SHA-384 for 48), {@code null} for hh 00
     */
    public static TlsPsk of(byte[] key, AuthHash transform) {
        check(key.length, transform);
        return new TlsPsk(key.clone(), transform);
    }

    /**
     * Parses {@code NVMeTLSkey-1:<hh>:<base64>:} (white space around it is ignored).
     *
     * @throws IllegalArgumentException naming the problem, never any part of the key
     */
    public static TlsPsk parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("TLS PSK: none given");
        }
        String s = text.strip();
        if (!s.startsWith(PREFIX)) {
            throw new IllegalArgumentException("TLS PSK: does not start with " + PREFIX);
        }
        int hhEnd = PREFIX.length() + 2;
        if (s.length() < hhEnd + 2 || s.charAt(hhEnd) != ':' || !s.endsWith(":")) {
            throw new IllegalArgumentException("TLS PSK: not NVMeTLSkey-1:<hh>:<base64>:");
        }
        AuthHash transform = switch (s.substring(PREFIX.length(), hhEnd)) {
            case "00" -> null;
            case "01" -> AuthHash.SHA256;
            case "02" -> AuthHash.SHA384;
            default -> throw new IllegalArgumentException("TLS PSK: the hash identifier is not 00, 01 or 02");
        };
        byte[] raw = Crc32Key.decode(s.substring(hhEnd + 1, s.length() - 1), "TLS PSK");
        int length = raw.length - 4;
        if (length != 32 && length != 48) {
            throw new IllegalArgumentException("TLS PSK: the key is " + Math.max(length, 0) + " bytes; it must be 32 or 48");
        }
        if (transform != null && transform.length() != length) {
            throw new IllegalArgumentException("TLS PSK: a " + length + "-byte key does not go with "
                    + transform.hmacName());
        }
        return new TlsPsk(Crc32Key.checkAndStrip(raw, "TLS PSK"), transform);
    }

    /** The interchange format, which {@link #parse} reads back. */
    public String format() {
        return PREFIX + String.format("%02d", transform == null ? 0 : transform.id()) + ":" + Crc32Key.encode(key) + ":";
    }

    /** The retained-PSK hash, empty for hh 00. */
    public Optional<AuthHash> transform() {
        return Optional.ofNullable(transform);
    }

    public int length() {
        return key.length;
    }

    /**
     * The hash of the identity and of the TLS PSK derivation: hh's, or for hh 00 SHA-256 for a 32-byte
     * and SHA-384 for a 48-byte key (libnvme's {@code default_hmac}).
     */
    public AuthHash hash() {
        return transform != null ? transform : key.length == 32 ? AuthHash.SHA256 : AuthHash.SHA384;
    }

    /**
     * The retained PSK: HKDF-Expand-Label(HKDF-Extract(0, configured PSK), "HostNQN", NQNh, length of
     * the configured PSK) with hh's hash (libnvme's {@code derive_retained_key} /
     * {@code derive_retained_key_compat}), or the configured PSK itself for hh 00.
     */
    public byte[] retained(String hostNqn, HkdfLabelEncoding encoding) {
        if (transform == null) {
            return key.clone();
        }
        byte[] prk = Hkdf.extract(transform, null, key);
        return Hkdf.expand(transform, prk, encoding.info("HostNQN", Hkdf.ascii(hostNqn), key.length), key.length);
    }

    /** The identity of this retained PSK for a host and subsystem, version 0 or 1. */
    public TlsPskIdentity identity(int version, String hostNqn, String subsysNqn, HkdfLabelEncoding encoding) {
        String digest = version == 1 ? digest(hash(), retained(hostNqn, encoding), hostNqn, subsysNqn) : null;
        return new TlsPskIdentity(version, false, hash(), hostNqn, subsysNqn, digest);
    }

    /** The TLS PSK for {@code identity} (one of {@link #identity}), what nvme-cli puts into the keyring. */
    public byte[] tlsPsk(TlsPskIdentity identity, HkdfLabelEncoding encoding) {
        if (identity.generated() || identity.hash() != hash()) {
            throw new IllegalArgumentException("TLS PSK: the identity is not of this retained PSK");
        }
        return deriveTlsPsk(identity, retained(identity.hostNqn(), encoding), encoding);
    }

    /**
     * TLS PSK = HKDF-Expand-Label(HKDF-Extract(0, input PSK), "nvme-tls-psk", context, L) with the
     * identity's hash, L its length; context the identity string (version 0) or {@code "<hh> <digest>"}
     * (version 1). The input PSK is a retained PSK or a generated one ({@link #generatedPsk}); the
     * kernel's {@code nvme_auth_derive_tls_psk} is this with {@link HkdfLabelEncoding#RFC_8446}.
     */
    public static byte[] deriveTlsPsk(TlsPskIdentity identity, byte[] inputPsk, HkdfLabelEncoding encoding) {
        AuthHash h = identity.hash();
        if (inputPsk.length != h.length()) {
            throw new IllegalArgumentException("TLS PSK: an input PSK of " + inputPsk.length + " bytes for "
                    + h.hmacName());
        }
        String context = identity.version() == 0 ? identity.toString()
                : String.format("%02d %s", h.id(), identity.digest());
        byte[] prk = Hkdf.extract(h, null, inputPsk);
        return Hkdf.expand(h, prk, encoding.info("nvme-tls-psk", Hkdf.ascii(context), h.length()), h.length());
    }

    /**
     * The PSK digest of a version 1 identity: base64(HMAC(PSK, NQNh || " " || NQNc || " " ||
     * "NVMe-over-Fabrics")), 44 characters for SHA-256 and 64 for SHA-384 (kernel
     * {@code nvme_auth_generate_digest}, libnvme {@code derive_psk_digest}).
     */
    public static String digest(AuthHash hash, byte[] psk, String hostNqn, String subsysNqn) {
        checkTlsHash(hash);
        Mac mac = hash.mac(psk);
        mac.update(Hkdf.ascii(hostNqn));
        mac.update((byte) ' ');
        mac.update(Hkdf.ascii(subsysNqn));
        mac.update(SEED);
        return Base64.getEncoder().encodeToString(mac.doFinal());
    }

    /**
     * The generated PSK of secure channel concatenation: HMAC(KS, C1 || C2) with the DH-HMAC-CHAP hash,
     * KS the session key (kernel {@code nvme_auth_generate_psk}, NVMe Base 8.3.4.5.9). Linux 6.12 does
     * not do secure channel concatenation; it came in 6.14.
     */
    public static byte[] generatedPsk(AuthHash hash, byte[] sessionKey, byte[] c1, byte[] c2) {
        if (c1.length != hash.length() || c2.length != hash.length()) {
            throw new IllegalArgumentException("generated PSK: challenges must be " + hash.length() + " bytes");
        }
        Mac mac = hash.mac(sessionKey);
        mac.update(c1);
        mac.update(c2);
        return mac.doFinal();
    }

    /** Names the hash and the length; never the key. */
    /** Same key bytes (compared in constant time), same transformation, same handshake. */
    @Override
    public boolean equals(Object o) {
        return o instanceof TlsPsk p && p.transform == transform && p.handshake == handshake
                && java.security.MessageDigest.isEqual(p.key, key);
    }

    /** From the transformation and the length only. */
    @Override
    public int hashCode() {
        return java.util.Objects.hash(transform, key.length);
    }

    @Override
    public String toString() {
        return "TlsPsk[" + (transform == null ? "no transform" : transform.hmacName()) + ", " + key.length + " bytes"
                + (handshake == TlsHandshake.LINUX ? "" : ", " + handshake.label() + " handshake") + "]";
    }

    static void checkTlsHash(AuthHash hash) {
        if (hash != AuthHash.SHA256 && hash != AuthHash.SHA384) {
            throw new IllegalArgumentException("TLS PSK: the hash must be SHA-256 or SHA-384, not " + hash);
        }
    }

    private static void check(int length, AuthHash transform) {
        if (length != 32 && length != 48) {
            throw new IllegalArgumentException("TLS PSK: the key is " + length + " bytes; it must be 32 or 48");
        }
        if (transform != null) {
            checkTlsHash(transform);
            if (transform.length() != length) {
                throw new IllegalArgumentException("TLS PSK: a " + length + "-byte key does not go with "
                        + transform.hmacName());
            }
        }
    }
}
