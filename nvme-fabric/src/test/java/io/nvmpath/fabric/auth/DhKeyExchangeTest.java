package io.nvmpath.fabric.auth;

import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.security.SecureRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DhKeyExchangeTest {
    private static final SecureRandom RANDOM = new SecureRandom();

    @Test
    void groups_carry_the_wire_ids_and_the_kernel_names() {
        assertThat(DhGroup.fromId(0)).isEqualTo(DhGroup.NULL);
        assertThat(DhGroup.fromId(5)).isEqualTo(DhGroup.FFDHE8192);
        assertThat(DhGroup.fromId(6)).isNull();
        assertThat(DhGroup.fromName("ffdhe3072")).isEqualTo(DhGroup.FFDHE3072);
        assertThat(DhGroup.fromName("null")).isEqualTo(DhGroup.NULL);
        assertThat(DhGroup.FFDHE4096.valueLength()).isEqualTo(512);
        assertThat(AuthHash.fromId(2)).isEqualTo(AuthHash.SHA384);
        assertThat(AuthHash.fromId(0)).isNull();
        assertThat(AuthHash.fromName("hmac(sha512)")).isEqualTo(AuthHash.SHA512);
        assertThat(AuthHash.SHA256.hmacName()).isEqualTo("hmac(sha256)");
    }

    @Test
    void primes_have_the_rfc7919_shape() {
        BigInteger ones64 = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
        for (DhGroup g : DhGroup.values()) {
            if (g == DhGroup.NULL) {
                continue;
            }
            BigInteger p = g.prime();
            assertThat(p.bitLength()).as(g.groupName()).isEqualTo(g.bits());
            assertThat(p.and(ones64)).as(g.groupName()).isEqualTo(ones64);
            assertThat(p.shiftRight(g.bits() - 64)).as(g.groupName()).isEqualTo(ones64);
            // the 32 bits below the top ones come from e and are the same in every RFC 7919 prime
            assertThat(p.shiftRight(g.bits() - 96).and(BigInteger.valueOf(0xFFFFFFFFL)).longValue())
                    .as(g.groupName()).isEqualTo(0xADF85458L);
        }
        BigInteger p = DhGroup.FFDHE2048.prime();
        assertThat(p.isProbablePrime(40)).isTrue();
        assertThat(p.shiftRight(1).isProbablePrime(40)).isTrue();
    }

    @Test
    void both_sides_agree_in_every_group_and_values_have_the_size_of_p() {
        for (DhGroup g : DhGroup.values()) {
            if (g == DhGroup.NULL) {
                continue;
            }
            DhKeyExchange host = DhKeyExchange.generate(g, RANDOM);
            DhKeyExchange ctrl = DhKeyExchange.generate(g, RANDOM);
            assertThat(host.publicValue()).hasSize(g.valueLength());
            byte[] a = host.sharedSecret(ctrl.publicValue());
            byte[] b = ctrl.sharedSecret(host.publicValue());
            assertThat(a).as(g.groupName()).hasSize(g.valueLength()).isEqualTo(b);
        }
    }

    @Test
    void public_value_and_shared_secret_are_big_endian_and_zero_padded() {
        DhKeyExchange two = DhKeyExchange.withPrivateExponent(DhGroup.FFDHE2048, BigInteger.TWO);
        byte[] y = two.publicValue();
        assertThat(y).hasSize(256);
        assertThat(new BigInteger(1, y)).isEqualTo(BigInteger.valueOf(4));
        assertThat(y[254]).isZero();
        assertThat(y[255]).isEqualTo((byte) 4);
        BigInteger x = new BigInteger(1, new byte[] {0x3a, 0x7f, 0x11, 0x42, 0x5c, 0x09, 0x77, 0x2d});
        DhKeyExchange other = DhKeyExchange.withPrivateExponent(DhGroup.FFDHE2048, x);
        BigInteger p = DhGroup.FFDHE2048.prime();
        BigInteger expected = BigInteger.TWO.modPow(x.multiply(BigInteger.TWO), p);
        assertThat(new BigInteger(1, two.sharedSecret(other.publicValue()))).isEqualTo(expected);
        assertThat(other.sharedSecret(y)).isEqualTo(two.sharedSecret(other.publicValue()));
        // a peer value with leading zeros, or sent shorter, is the same number
        assertThat(other.sharedSecret(new byte[] {4})).isEqualTo(other.sharedSecret(y));
        assertThat(DhKeyExchange.toFixed(BigInteger.ONE, 4)).containsExactly(0, 0, 0, 1);
        assertThat(DhKeyExchange.toFixed(new BigInteger(1, new byte[] {(byte) 0x80, 0, 0, 0}), 4))
                .containsExactly(0x80, 0, 0, 0);
    }

    @Test
    void refuses_peer_values_outside_the_group_as_the_kernel_does() {
        DhKeyExchange k = DhKeyExchange.generate(DhGroup.FFDHE2048, RANDOM);
        BigInteger p = DhGroup.FFDHE2048.prime();
        for (BigInteger bad : new BigInteger[] {BigInteger.ZERO, BigInteger.ONE, p.subtract(BigInteger.ONE), p,
                p.add(BigInteger.TWO)}) {
            assertThatThrownBy(() -> k.sharedSecret(bad.toByteArray())).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("ffdhe2048");
        }
        BigInteger q = p.shiftRight(1);
        BigInteger nonResidue = BigInteger.valueOf(3);
        while (nonResidue.modPow(q, p).equals(BigInteger.ONE)) {
            nonResidue = nonResidue.add(BigInteger.ONE);
        }
        byte[] v = nonResidue.toByteArray();
        assertThatThrownBy(() -> k.sharedSecret(v)).hasMessageContaining("subgroup");
        assertThatThrownBy(() -> DhKeyExchange.generate(DhGroup.NULL, RANDOM)).isInstanceOf(IllegalArgumentException.class);
        assertThat(k.toString()).isEqualTo("DhKeyExchange[ffdhe2048]");
    }
}
