package io.nvmpath.fabric.tls;

import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.HkdfLabelEncoding;
import io.nvmpath.fabric.auth.TlsHandshake;
import io.nvmpath.fabric.auth.TlsPsk;
import io.nvmpath.fabric.auth.TlsPskIdentity;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * What one TLS handshake authenticates with: the PSK identity offered (or accepted) and the TLS PSK it
 * names, with the hash that selects the cipher suite. {@link #toString()} shows the identity, never the
 * key.
 *
 * <p>The handshake's hash ({@link #handshakeHash()}) follows {@link TlsHandshake}: by default SHA-256
 * for every PSK, the one Linux's tlshd (ktls-utils 1.0, GnuTLS's PSK credentials without a MAC) uses on
 * both sides: a 48-byte PSK under an {@code NVMe0R02} identity runs TLS_AES_128_GCM_SHA256 there, not
 * the TLS_AES_256_GCM_SHA384 that NVMe TCP 3.6.1.3 pairs with hash 02 (a handshake with the SHA-384
 * binder fails against Linux with decrypt_error; proven in TlsAgainstKernelTargetIT and
 * KernelHostTlsAgainstOwnTargetIT). {@link TlsHandshake#SPECIFICATION} pairs them as the specification does.
 *
 * @param identity the PSK identity, e.g. {@code NVMe0R01 <hostnqn> <subsysnqn>}
 * @param key the TLS PSK (32 bytes for SHA-256, 48 for SHA-384)
 * @param hash the identity's hash: SHA-256 or SHA-384
 * @param handshake how the handshake's hash is chosen
 */
public record PskCredentials(String identity, byte[] key, AuthHash hash, TlsHandshake handshake) {

    /** Credentials for the default handshake ({@link TlsHandshake#LINUX}). */
    public PskCredentials(String identity, byte[] key, AuthHash hash) {
        this(identity, key, hash, TlsHandshake.LINUX);
    }

    /** The hash of the TLS 1.3 handshake (binder, key schedule, suite). */
    public AuthHash handshakeHash() {
        return handshake.handshakeHash(hash);
    }

    public PskCredentials {
        Objects.requireNonNull(identity, "identity");
        Objects.requireNonNull(handshake, "handshake");
        if (hash != AuthHash.SHA256 && hash != AuthHash.SHA384) {
            throw new IllegalArgumentException("TLS PSK: " + hash + " is not SHA-256 or SHA-384");
        }
        if (key.length != hash.length()) {
            throw new IllegalArgumentException("TLS PSK: " + key.length + " bytes for " + hash.hmacName());
        }
        key = key.clone();
    }

    /**
     * The credentials of a configured PSK for a host and a subsystem: the version 0 identity of its
     * retained PSK and the TLS PSK derived for it, as nvme-cli 2.13's {@code check-tls-key --insert}
     * computes them ({@link HkdfLabelEncoding#LIBNVME_LEGACY}) — the key the Linux kernel and tlshd
     * then find in the {@code .nvme} keyring under that identity.
     */
    public static PskCredentials of(TlsPsk psk, String hostNqn, String subsysNqn) {
        return of(psk, 0, hostNqn, subsysNqn);
    }

    /** {@link #of(TlsPsk, String, String)} with an identity of {@code version} 0 or 1 (with the PSK digest). */
    public static PskCredentials of(TlsPsk psk, int version, String hostNqn, String subsysNqn) {
        HkdfLabelEncoding encoding = HkdfLabelEncoding.LIBNVME_LEGACY;
        TlsPskIdentity id = psk.identity(version, hostNqn, subsysNqn, encoding);
        return new PskCredentials(id.toString(), psk.tlsPsk(id, encoding), psk.hash(), psk.handshake());
    }

    /**
     * What a target holding {@code psk} accepts for an offered {@code identity}: the credentials when
     * it is a retained-PSK identity of {@code psk}'s hash, version 0 or 1 (its digest must then match),
     * for a subsystem {@code carried} says yes to; null otherwise.
     */
    public static PskCredentials accepting(TlsPsk psk, String identity, java.util.function.Predicate<String> carried) {
        TlsPskIdentity id;
        try {
            id = TlsPskIdentity.parse(identity);
        } catch (IllegalArgumentException e) {
            return null;
        }
        if (id.generated() || id.hash() != psk.hash() || !carried.test(id.subsysNqn())) {
            return null;
        }
        PskCredentials c = of(psk, id.version(), id.hostNqn(), id.subsysNqn());
        return c.identity.equals(identity) ? c : null;
    }

    /** The host NQN of the identity. */
    public String hostNqn() {
        return TlsPskIdentity.parse(identity).hostNqn();
    }

    /** The subsystem NQN of the identity. */
    public String subsysNqn() {
        return TlsPskIdentity.parse(identity).subsysNqn();
    }

    @Override
    public byte[] key() {
        return key.clone();
    }

    byte[] identityBytes() {
        return identity.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PskCredentials c && c.identity.equals(identity) && c.hash == hash
                && c.handshake == handshake && java.security.MessageDigest.isEqual(c.key, key);
    }

    @Override
    public int hashCode() {
        return Objects.hash(identity, hash);
    }

    @Override
    public String toString() {
        return "PskCredentials[" + identity + ", " + hash.hmacName() + ", " + handshake.label() + " handshake]";
    }
}
