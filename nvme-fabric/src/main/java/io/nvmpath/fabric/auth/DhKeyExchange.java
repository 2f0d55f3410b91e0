package io.nvmpath.fabric.auth;

import javax.crypto.KeyAgreement;
import javax.crypto.interfaces.DHPublicKey;
import javax.crypto.spec.DHParameterSpec;
import javax.crypto.spec.DHPrivateKeySpec;
import javax.crypto.spec.DHPublicKeySpec;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;

/**
 * One side's ephemeral Diffie-Hellman exchange of DH-HMAC-CHAP over an RFC 7919 group: the public value
 * g^x mod p sent as the DH value (DHV) of the Challenge (controller) or Reply (host), and the shared
 * secret g^xy mod p that keys the augmented challenge ({@link DhchapResponse#augmentedChallenge}).
 *
 * <p>Byte format, as Linux's {@code crypto/dh.c} gives it to {@code nvme_auth_gen_pubkey} and
 * {@code nvme_auth_gen_shared_secret} ({@code drivers/nvme/common/auth.c}): both values big-endian
 * and left-padded with zeros to the size of p ({@code crypto_kpp_maxsize}; {@code mpi_write_to_sgl}
 * fills leading bytes with zero), so a 2048-bit group always gives 256 bytes, even when the value's
 * top byte is zero. The peer's value must satisfy 1 < y < p - 1 (the range check of the kernel's
 * {@code dh_is_pubkey_valid}) and y^q = 1 mod p with q = (p - 1) / 2, the SP 800-56A subgroup check that
 * {@code dh_is_pubkey_valid} makes when its group carries q; the private exponent's size is the JDK's
 * choice, which the peer cannot see.
 *
 * <p>Not thread-safe; one instance per authentication transaction.
 */
public final class DhKeyExchange {
    private final DhGroup group;
    private final PrivateKey privateKey;
    private final byte[] publicValue;

    private DhKeyExchange(DhGroup group, PrivateKey privateKey, BigInteger y) {
        this.group = group;
        this.privateKey = privateKey;
        this.publicValue = toFixed(y, group.valueLength());
    }

    /** A fresh key pair in {@code group} (not {@link DhGroup#NULL}). */
    public static DhKeyExchange generate(DhGroup group, SecureRandom random) {
        DHParameterSpec spec = spec(group);
        try {
            KeyPairGenerator gen = KeyPairGenerator.getInstance("DH");
            gen.initialize(spec, random);
            KeyPair pair = gen.generateKeyPair();
            return new DhKeyExchange(group, pair.getPrivate(), ((DHPublicKey) pair.getPublic()).getY());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("DH key generation for " + group.groupName() + " failed", e);
        }
    }

    /** A key pair with the given private exponent, for known-answer tests. */
    static DhKeyExchange withPrivateExponent(DhGroup group, BigInteger x) {
        DHParameterSpec spec = spec(group);
        try {
            PrivateKey sk = KeyFactory.getInstance("DH").generatePrivate(new DHPrivateKeySpec(x, spec.getP(), spec.getG()));
            return new DhKeyExchange(group, sk, spec.getG().modPow(x, spec.getP()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("DH private key for " + group.groupName() + " refused", e);
        }
    }

    public DhGroup group() {
        return group;
    }

    /** g^x mod p, big-endian, {@link DhGroup#valueLength()} bytes. */
    public byte[] publicValue() {
        return publicValue.clone();
    }

    /**
     * The shared secret (g^y)^x mod p with the peer's public value, big-endian,
     * {@link DhGroup#valueLength()} bytes: the kernel's session key {@code sess_key}.
     *
     * @throws IllegalArgumentException if the peer's value is not a valid element of the group (the
     *     kernel answers this with DH group not usable / incorrect payload)
     */
    public byte[] sharedSecret(byte[] peerValue) {
        BigInteger p = group.prime();
        BigInteger y = new BigInteger(1, peerValue);
        BigInteger pMinusOne = p.subtract(BigInteger.ONE);
        if (y.compareTo(BigInteger.ONE) <= 0 || y.compareTo(pMinusOne) >= 0) {
            throw new IllegalArgumentException("DH value is outside 2..p-2 of " + group.groupName());
        }
        if (!y.modPow(pMinusOne.shiftRight(1), p).equals(BigInteger.ONE)) {
            throw new IllegalArgumentException("DH value is not in the prime-order subgroup of " + group.groupName());
        }
        try {
            PublicKey peer = KeyFactory.getInstance("DH").generatePublic(new DHPublicKeySpec(y, p, DhGroup.GENERATOR));
            KeyAgreement ka = KeyAgreement.getInstance("DH");
            ka.init(privateKey);
            ka.doPhase(peer, true);
            return toFixed(new BigInteger(1, ka.generateSecret()), group.valueLength());
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("DH key agreement in " + group.groupName() + " failed: " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "DhKeyExchange[" + group.groupName() + "]";
    }

    private static DHParameterSpec spec(DhGroup group) {
        if (group == DhGroup.NULL) {
            throw new IllegalArgumentException("the null DH group has no key exchange");
        }
        return new DHParameterSpec(group.prime(), DhGroup.GENERATOR);
    }

    /** {@code v} big-endian in exactly {@code length} bytes, leading zeros kept. */
    static byte[] toFixed(BigInteger v, int length) {
        byte[] raw = v.toByteArray();
        if (raw.length == length) {
            return raw;
        }
        byte[] out = new byte[length];
        if (raw.length > length) {
            // a sign byte: only zeros may be dropped
            int extra = raw.length - length;
            for (int i = 0; i < extra; i++) {
                if (raw[i] != 0) {
                    throw new IllegalArgumentException("value does not fit " + length + " bytes");
                }
            }
            System.arraycopy(raw, extra, out, 0, length);
        } else {
            System.arraycopy(raw, 0, out, length - raw.length, raw.length);
        }
        return out;
    }
}
