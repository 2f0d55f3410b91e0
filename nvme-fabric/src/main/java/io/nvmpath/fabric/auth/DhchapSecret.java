package io.nvmpath.fabric.auth;

import javax.crypto.Mac;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Optional;

/**
 * A DH-HMAC-CHAP secret (a host key or a controller key) in the representation nvme-cli
 * ({@code gen-dhchap-key}), the kernel's {@code dhchap_secret}/{@code dhchap_ctrl_secret} connect options
 * and the nvmet configfs attributes {@code dhchap_key}/{@code dhchap_ctrl_key} use:
 * {@code DHHC-1:<hh>:<base64 of key || CRC-32(key) little-endian>:}.
 *
 * <ul>
 * <li>{@code hh}: two decimal digits, 00 (the key is used as is), 01 SHA-256, 02 SHA-384, 03 SHA-512
 *     (the hash of {@link #transformedKey}); the kernel reads it with {@code sscanf("DHHC-1:%hhd:")} and
 *     nvmet refuses values over 3 ({@code nvmet_auth_set_key}).</li>
 * <li>the key is 32, 48 or 64 bytes, whatever {@code hh} is: since Linux 6.7 ("nvme-auth: allow mixing
 *     of secret and hash lengths") the kernel accepts any of the three with any hash
 *     ({@code nvme_auth_extract_key} checks only 36, 52 or 68 decoded bytes). nvme-cli's
 *     {@code check-dhchap-key} is stricter and wants the length of hh's hash; this class follows the
 *     kernel.</li>
 * <li>the CRC is zlib's CRC-32 (the kernel computes {@code ~crc32(~0, key, len)}, libnvme zlib's
 *     {@code crc32}; both are {@code java.util.zip.CRC32}), stored little-endian after the key.</li>
 * <li>the trailing {@code ':'} is optional, as in the kernel ("Secret might be affixed with a ':'"),
 *     and surrounding white space is ignored, as nvmet's {@code strim} does.</li>
 * </ul>
 *
 * <p>A secret never shows itself: {@link #toString()} names only its hash and length, and a string that
 * fails to parse is refused with a message that names the problem and none of the input.
 *
 * <p>Note that nvme-cli's {@code gen-dhchap-key --hmac=N} already applies the transformation with its
 * {@code --nqn} before printing, and the kernel applies it again at every authentication: the
 * printed key is the transformed one, marked with its hash. Both sides do the same, so it works.
 */
public final class DhchapSecret {
    /** The prefix of the representation. */
    public static final String PREFIX = "DHHC-1:";
    /** The seventeen ASCII bytes the transformation appends to the NQN. */
    static final byte[] TRANSFORM_SEED = "NVMe-over-Fabrics".getBytes(StandardCharsets.US_ASCII);

    private final byte[] key;
    private final AuthHash transform;

    private DhchapSecret(byte[] key, AuthHash transform) {
        this.key = key;
        this.transform = transform;
    }

    /**
     * A secret of raw key bytes.
     *
     * @param transform the hash of {@link #transformedKey}, {@code null} for hh 00
     */
    public static DhchapSecret of(byte[] key, AuthHash transform) {
        checkLength(key.length);
        return new DhchapSecret(key.clone(), transform);
    }

    /** A random secret of {@code length} bytes (32, 48 or 64), as {@code nvme gen-dhchap-key} without a secret. */
    public static DhchapSecret generate(int length, AuthHash transform, SecureRandom random) {
        checkLength(length);
        byte[] key = new byte[length];
        random.nextBytes(key);
        return new DhchapSecret(key, transform);
    }

    /**
     * Parses {@code DHHC-1:<hh>:<base64>:}.
     *
     * @throws IllegalArgumentException naming what is wrong (prefix, hash identifier, base64, length,
     *     CRC) and never any part of the secret
     */
    public static DhchapSecret parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("DH-HMAC-CHAP secret: none given");
        }
        String s = text.strip();
        if (!s.startsWith(PREFIX)) {
            throw new IllegalArgumentException("DH-HMAC-CHAP secret: does not start with " + PREFIX);
        }
        int hhEnd = PREFIX.length() + 2;
        if (s.length() < hhEnd + 1 || s.charAt(hhEnd) != ':') {
            throw new IllegalArgumentException("DH-HMAC-CHAP secret: the hash identifier is not two digits and ':'");
        }
        AuthHash transform = switch (s.substring(PREFIX.length(), hhEnd)) {
            case "00" -> null;
            case "01" -> AuthHash.SHA256;
            case "02" -> AuthHash.SHA384;
            case "03" -> AuthHash.SHA512;
            default -> throw new IllegalArgumentException(
                    "DH-HMAC-CHAP secret: the hash identifier is not 00, 01, 02 or 03");
        };
        int end = s.endsWith(":") ? s.length() - 1 : s.length();
        byte[] raw = Crc32Key.decode(s.substring(hhEnd + 1, end), "DH-HMAC-CHAP secret");
        int keyLength = raw.length - 4;
        if (keyLength != 32 && keyLength != 48 && keyLength != 64) {
            throw new IllegalArgumentException("DH-HMAC-CHAP secret: the key is " + Math.max(keyLength, 0)
                    + " bytes; it must be 32, 48 or 64");
        }
        return new DhchapSecret(Crc32Key.checkAndStrip(raw, "DH-HMAC-CHAP secret"), transform);
    }

    /** The representation {@code DHHC-1:<hh>:<base64>:}, which {@link #parse} reads back. */
    public String format() {
        return PREFIX + String.format("%02d", transform == null ? 0 : transform.id()) + ":"
                + Crc32Key.encode(key) + ":";
    }

    /** The hash of the transformation, empty for hh 00. */
    public Optional<AuthHash> transform() {
        return Optional.ofNullable(transform);
    }

    /** The key length in bytes. */
    public int length() {
        return key.length;
    }

    /**
     * The key the HMAC of a response is keyed with, as the kernel's {@code nvme_auth_transform_key}:
     * for hh 00 the key itself; otherwise HMAC_hh(key, NQN || "NVMe-over-Fabrics"), with the NQN's bytes
     * without its terminating NUL and the seventeen ASCII bytes of the string, the length of hh's hash.
     * The host key is transformed with the host NQN, the controller key with the subsystem NQN
     * ({@code nvme_auth_dhchap_setup_host_response} / {@code _ctrl_response}, {@code nvmet_auth_host_hash}
     * / {@code nvmet_auth_ctrl_hash}). libnvme's {@code nvme_gen_dhchap_key} computes the same.
     */
    public byte[] transformedKey(String nqn) {
        if (transform == null) {
            return key.clone();
        }
        Mac mac = transform.mac(key);
        mac.update(nqn.getBytes(StandardCharsets.UTF_8));
        mac.update(TRANSFORM_SEED);
        return mac.doFinal();
    }

    /** Same key bytes (compared in constant time) and same transformation. */
    @Override
    public boolean equals(Object o) {
        return o instanceof DhchapSecret d && d.transform == transform && java.security.MessageDigest.isEqual(d.key, key);
    }

    /** From the transformation and the length only: the key does not leak through hash tables. */
    @Override
    public int hashCode() {
        return java.util.Objects.hash(transform, key.length);
    }

    /** Names the hash and the length; never the key. */
    @Override
    public String toString() {
        return "DhchapSecret[" + (transform == null ? "no transform" : transform.hmacName()) + ", "
                + key.length + " bytes]";
    }

    private static void checkLength(int length) {
        if (length != 32 && length != 48 && length != 64) {
            throw new IllegalArgumentException("DH-HMAC-CHAP secret: the key is " + length
                    + " bytes; it must be 32, 48 or 64");
        }
    }
}
