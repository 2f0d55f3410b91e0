package io.nvmpath.fabric.auth;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * No published vector exists for the DH-HMAC-CHAP responses; the expected values were computed with
 * OpenSSL 3 ({@code openssl mac HMAC}, {@code openssl dgst}) over the byte strings the kernel's
 * {@code nvme_auth_dhchap_setup_host_response}/{@code _ctrl_response} and {@code nvmet_auth_*_hash}
 * feed their HMAC, so they pin the layout read from the kernel, not an independent reading of it.
 */
class DhchapResponseTest {
    private static final HexFormat HEX = HexFormat.of();
    private static final String HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:12345678-1234-1234-1234-123456789abc";
    private static final String SUBSYS_NQN = "nqn.2026-12.io.nvmpath:auth";
    private static final DhchapSecret SECRET =
            DhchapSecret.parse("DHHC-1:01:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n:");

    private static byte[] range(int from, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (from + i);
        }
        return b;
    }

    @Test
    void host_response_hashes_challenge_seqnum_transaction_sc_c_hosthost_and_both_nqns() {
        byte[] r1 = DhchapResponse.host(AuthHash.SHA256, SECRET.transformedKey(HOST_NQN), range(0, 32), 0x11223344,
                0x0102, 0, HOST_NQN, SUBSYS_NQN);
        assertThat(HEX.formatHex(r1)).isEqualTo("5f83a9996974f87870df34f738118a17e96e2ea10688255ae0959f4e52d7b763");
    }

    @Test
    void host_response_is_the_hmac_of_the_documented_byte_string() {
        byte[] key = SECRET.transformedKey(HOST_NQN);
        byte[] c1 = range(0, 32);
        byte[] expected = AuthHash.SHA256.hmac(key, Hkdf.concat(c1, new byte[] {0x44, 0x33, 0x22, 0x11, 0x02, 0x01, 0x00},
                "HostHost".getBytes(StandardCharsets.US_ASCII), HOST_NQN.getBytes(StandardCharsets.US_ASCII),
                new byte[] {0}, SUBSYS_NQN.getBytes(StandardCharsets.US_ASCII)));
        assertThat(DhchapResponse.host(AuthHash.SHA256, key, c1, 0x11223344, 0x0102, 0, HOST_NQN, SUBSYS_NQN))
                .isEqualTo(expected);
        assertThat(DhchapResponse.host(AuthHash.SHA256, key, c1, 0x11223344, 0x0102, SecureChannel.NEW_TLS_PSK.code(),
                HOST_NQN, SUBSYS_NQN)).isNotEqualTo(expected);
    }

    @Test
    void controller_response_puts_the_subsystem_first_and_uses_the_subsystem_transformed_key() {
        byte[] r2 = DhchapResponse.controller(AuthHash.SHA256, SECRET.transformedKey(SUBSYS_NQN), range(0x80, 32),
                0x55667788, 0x0102, HOST_NQN, SUBSYS_NQN);
        assertThat(HEX.formatHex(r2)).isEqualTo("d433915abe86fc6cf03c6c217d0ecce6d162a2b96d65761e1fcc0895ffe9338a");
    }

    @Test
    void response_hash_may_differ_from_the_secret_transformation_hash() {
        // a SHA-256-transformed 32-byte key answering a SHA-384 challenge (allowed since Linux 6.7)
        byte[] r1 = DhchapResponse.host(AuthHash.SHA384, SECRET.transformedKey(HOST_NQN), range(0, 48), 0x11223344,
                0x0102, 0, HOST_NQN, SUBSYS_NQN);
        assertThat(HEX.formatHex(r1)).isEqualTo(
                "1f020b6ab2e71184e6e7dba80474bcaece258841709c7e57f94e99dff78363278ccd0d50f2c8da8bc93dcd94b5009314");
    }

    @Test
    void augmented_challenge_is_hmac_keyed_by_the_hash_of_the_shared_secret() {
        byte[] ss = new byte[256];
        for (int i = 1; i < 256; i++) {
            ss[i] = (byte) ((i - 1) * 7 + 3);
        }
        byte[] ca = DhchapResponse.augmentedChallenge(AuthHash.SHA256, ss, range(0, 32));
        assertThat(HEX.formatHex(ca)).isEqualTo("ba9b832a11cd5c87b2e27cd9bfd3fe649ca34351713b7acafba940cf99978b3d");
    }

    @Test
    void refuses_a_challenge_of_the_wrong_length() {
        assertThatThrownBy(() -> DhchapResponse.host(AuthHash.SHA384, new byte[32], new byte[32], 1, 1, 0, "h", "s"))
                .hasMessageContaining("48");
        assertThatThrownBy(() -> DhchapResponse.augmentedChallenge(AuthHash.SHA256, new byte[256], new byte[31]))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void matches_compares_whole_values() {
        assertThat(DhchapResponse.matches(range(0, 32), range(0, 32))).isTrue();
        assertThat(DhchapResponse.matches(range(0, 32), range(1, 32))).isFalse();
        assertThat(DhchapResponse.matches(range(0, 32), range(0, 31))).isFalse();
    }
}
