package io.nvmpath.fabric.auth;

import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

class DhchapSecretTest {
    private static final HexFormat HEX = HexFormat.of();
    /** The example secret of the NVMe Base specification, as quoted in the Linux 6.7 patch series. */
    private static final String SPEC_EXAMPLE = "DHHC-1:00:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n:";
    private static final String HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:12345678-1234-1234-1234-123456789abc";
    private static final String SUBSYS_NQN = "nqn.2026-12.io.nvmpath:auth";

    @Test
    void parses_the_specification_example_with_every_hash_identifier() {
        for (String hh : List.of("00", "01", "02", "03")) {
            DhchapSecret s = DhchapSecret.parse(SPEC_EXAMPLE.replace(":00:", ":" + hh + ":"));
            assertThat(s.length()).isEqualTo(32);
            assertThat(s.transform()).isEqualTo(java.util.Optional.ofNullable(AuthHash.fromId(Integer.parseInt(hh))));
            assertThat(s.format()).isEqualTo(SPEC_EXAMPLE.replace(":00:", ":" + hh + ":"));
        }
    }

    @Test
    void accepts_no_trailing_colon_and_surrounding_white_space_as_the_kernel_does() {
        DhchapSecret s = DhchapSecret.parse("  " + SPEC_EXAMPLE.substring(0, SPEC_EXAMPLE.length() - 1) + "\n");
        assertThat(s.format()).isEqualTo(SPEC_EXAMPLE);
    }

    @Test
    void round_trips_every_length_and_hash() {
        Random r = new Random(7);
        for (int len : new int[] {32, 48, 64}) {
            for (AuthHash h : new AuthHash[] {null, AuthHash.SHA256, AuthHash.SHA384, AuthHash.SHA512}) {
                byte[] key = new byte[len];
                r.nextBytes(key);
                DhchapSecret s = DhchapSecret.of(key, h);
                String text = s.format();
                assertThat(text).startsWith("DHHC-1:0" + (h == null ? 0 : h.id()) + ":").endsWith(":");
                assertThat(text).hasSize(10 + (len + 4 + 2) / 3 * 4 + 1); // 59, 83, 103 as nvme-cli checks
                DhchapSecret back = DhchapSecret.parse(text);
                assertThat(back.transformedKey(HOST_NQN)).isEqualTo(s.transformedKey(HOST_NQN));
                assertThat(back.format()).isEqualTo(text);
            }
        }
        assertThat(DhchapSecret.generate(48, AuthHash.SHA384, new SecureRandom()).length()).isEqualTo(48);
    }

    @Test
    void crc_is_zlib_crc32_little_endian_after_the_key() {
        byte[] raw = Base64.getDecoder().decode("ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n");
        CRC32 c = new CRC32();
        c.update(raw, 0, 32);
        long v = c.getValue();
        assertThat(raw[32] & 0xFF).isEqualTo((int) (v & 0xFF));
        assertThat(raw[35] & 0xFF).isEqualTo((int) (v >>> 24));
    }

    @Test
    void transformation_is_hmac_of_the_nqn_and_nvme_over_fabrics() {
        // computed with OpenSSL 3 (openssl mac -digest SHA256 HMAC) over NQN || "NVMe-over-Fabrics"
        DhchapSecret s = DhchapSecret.parse(SPEC_EXAMPLE.replace(":00:", ":01:"));
        assertThat(HEX.formatHex(s.transformedKey(HOST_NQN)))
                .isEqualTo("a915f8fc874ffdbf7cff7ac96aad8d8477cf055bd16bdd7b783bb1bfe960bf88");
        assertThat(HEX.formatHex(s.transformedKey(SUBSYS_NQN)))
                .isEqualTo("8a7ea46a647e084411f8b253f19141afb1011a3f9e726218c25ce40bf6425ec7");
        byte[] key = Base64.getDecoder().decode("ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n");
        assertThat(DhchapSecret.parse(SPEC_EXAMPLE).transformedKey(HOST_NQN))
                .isEqualTo(java.util.Arrays.copyOf(key, 32));
    }

    @Test
    void transformed_key_has_the_length_of_its_hash_not_of_the_key() {
        byte[] key = new byte[32];
        assertThat(DhchapSecret.of(key, AuthHash.SHA512).transformedKey(HOST_NQN)).hasSize(64);
        assertThat(DhchapSecret.of(new byte[64], AuthHash.SHA256).transformedKey(HOST_NQN)).hasSize(32);
    }

    @Test
    void refuses_malformed_secrets_naming_the_problem() {
        String b64 = "ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n";
        assertThatThrownBy(() -> DhchapSecret.parse("DHHC-2:00:" + b64 + ":")).hasMessageContaining("DHHC-1:");
        assertThatThrownBy(() -> DhchapSecret.parse("DHHC-1:04:" + b64 + ":")).hasMessageContaining("hash identifier");
        assertThatThrownBy(() -> DhchapSecret.parse("DHHC-1:1:" + b64 + ":")).hasMessageContaining("hash identifier");
        assertThatThrownBy(() -> DhchapSecret.parse("DHHC-1:00:" + b64.replace('G', '_') + ":"))
                .hasMessageContaining("base64");
        assertThatThrownBy(() -> DhchapSecret.parse("DHHC-1:00:" + b64.substring(0, 44) + ":"))
                .hasMessageContaining("29 bytes");
        assertThatThrownBy(() -> DhchapSecret.parse("DHHC-1:00:" + b64.replace('G', 'H') + ":"))
                .hasMessageContaining("CRC-32");
        assertThatThrownBy(() -> DhchapSecret.parse(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DhchapSecret.of(new byte[40], null)).hasMessageContaining("40 bytes");
    }

    @Test
    void no_message_or_to_string_shows_any_part_of_the_secret() {
        byte[] key = new byte[48];
        new Random(11).nextBytes(key);
        DhchapSecret s = DhchapSecret.of(key, AuthHash.SHA384);
        String good = s.format();
        String b64 = good.substring(10, good.length() - 1);
        List<String> bad = new ArrayList<>();
        bad.add(good.replace("DHHC-1:", "DHHC-9:"));
        bad.add(good.replace(":02:", ":07:"));
        bad.add(good.replace(":02:", ":x2:"));
        bad.add(good.substring(0, 20) + "!" + good.substring(21));
        bad.add(good.substring(0, good.length() - 9) + ":");
        char c = b64.charAt(5);
        bad.add(good.substring(0, 15) + (c == 'A' ? 'B' : 'A') + good.substring(16));
        List<String> secrets = new ArrayList<>();
        for (int i = 0; i + 6 <= b64.length(); i++) {
            secrets.add(b64.substring(i, i + 6));
        }
        String hex = HEX.formatHex(key);
        for (int i = 0; i + 8 <= hex.length(); i += 2) {
            secrets.add(hex.substring(i, i + 8));
        }
        for (String text : bad) {
            Throwable t = catchThrowable(() -> DhchapSecret.parse(text));
            assertThat(t).as(text).isInstanceOf(IllegalArgumentException.class);
            for (Throwable e = t; e != null; e = e.getCause()) {
                String m = String.valueOf(e.getMessage());
                for (String part : secrets) {
                    assertThat(m).doesNotContainIgnoringCase(part);
                }
            }
        }
        String str = s.toString();
        assertThat(str).contains("hmac(sha384)").contains("48");
        for (String part : secrets) {
            assertThat(str).doesNotContainIgnoringCase(part);
        }
    }
}
