package io.nvmpath.fabric.auth;

import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** HKDF against RFC 5869 appendix A (the SHA-256 cases 1 to 3; also what OpenSSL 3's HKDF gives). */
class HkdfTest {
    private static final HexFormat HEX = HexFormat.of();

    private static byte[] range(int from, int to) {
        byte[] b = new byte[to - from];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (from + i);
        }
        return b;
    }

    @Test
    void rfc5869_case_1_basic_sha256() {
        byte[] ikm = HEX.parseHex("0b".repeat(22));
        byte[] prk = Hkdf.extract(AuthHash.SHA256, HEX.parseHex("000102030405060708090a0b0c"), ikm);
        assertThat(HEX.formatHex(prk)).isEqualTo("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
        assertThat(HEX.formatHex(Hkdf.expand(AuthHash.SHA256, prk, HEX.parseHex("f0f1f2f3f4f5f6f7f8f9"), 42)))
                .isEqualTo("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    }

    @Test
    void rfc5869_case_2_long_inputs_span_three_blocks() {
        byte[] prk = Hkdf.extract(AuthHash.SHA256, range(0x60, 0xb0), range(0x00, 0x50));
        assertThat(HEX.formatHex(prk)).isEqualTo("06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244");
        assertThat(HEX.formatHex(Hkdf.expand(AuthHash.SHA256, prk, range(0xb0, 0x100), 82))).isEqualTo(
                "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09"
                        + "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");
    }

    @Test
    void rfc5869_case_3_no_salt_means_hash_length_zeros() {
        byte[] ikm = HEX.parseHex("0b".repeat(22));
        byte[] prk = Hkdf.extract(AuthHash.SHA256, new byte[0], ikm);
        assertThat(HEX.formatHex(prk)).isEqualTo("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
        assertThat(Hkdf.extract(AuthHash.SHA256, null, ikm)).isEqualTo(prk);
        assertThat(Hkdf.extract(AuthHash.SHA256, new byte[32], ikm)).isEqualTo(prk);
        assertThat(HEX.formatHex(Hkdf.expand(AuthHash.SHA256, prk, new byte[0], 42)))
                .isEqualTo("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
    }

    @Test
    void expand_refuses_more_than_255_blocks() {
        assertThatThrownBy(() -> Hkdf.expand(AuthHash.SHA256, new byte[32], new byte[0], 255 * 32 + 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("length");
    }

    @Test
    void expand_label_is_rfc8446_hkdf_label() {
        byte[] prk = range(1, 33);
        byte[] ctx = "ctx".getBytes();
        byte[] info = Hkdf.concat(new byte[] {0, 32, 18}, "tls13 nvme-tls-psk".getBytes(), new byte[] {3}, ctx);
        assertThat(Hkdf.expandLabel(AuthHash.SHA256, prk, "nvme-tls-psk", ctx, 32))
                .isEqualTo(Hkdf.expand(AuthHash.SHA256, prk, info, 32));
    }

    @Test
    void legacy_libnvme_label_has_little_endian_length_and_no_length_bytes() {
        assertThat(HkdfLabelEncoding.LIBNVME_LEGACY.info("HostNQN", "h".getBytes(), 48))
                .isEqualTo(Hkdf.concat(new byte[] {48, 0}, "tls13 HostNQNh".getBytes()));
        assertThat(HkdfLabelEncoding.RFC_8446.info("HostNQN", "h".getBytes(), 48))
                .isEqualTo(Hkdf.concat(new byte[] {0, 48, 13}, "tls13 HostNQN".getBytes(), new byte[] {1}, "h".getBytes()));
    }
}
