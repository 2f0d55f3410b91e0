package io.nvmpath.fabric.auth;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

class TlsPskTest {
    private static final HexFormat HEX = HexFormat.of();
    /** libnvme test/psk.c: the configured PSKs of test_data_psk and test_data_identity. */
    private static final byte[] PSK32 = HEX.parseHex("5512dbb6737d0106f65975b773dfb011ffc344bcf442e2dd6d8bc4870b5d5b03");
    private static final byte[] PSK48 = HEX.parseHex("5512dbb6737d0106f65975b773dfb011ffc344bcf442e2dd6d8bc4870b5d5b03"
            + "ffc344bcf442e2dd6d8bc4870b5d5b03");
    private static final String HOST = "nqn.psk-test-host";
    private static final String SUBSYS = "nqn.psk-test-subsys";

    @Test
    void imports_and_exports_the_libnvme_interchange_vectors() {
        String v00 = "NVMeTLSkey-1:00:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
        String v01 = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
        String v02 = "NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwP/w0S89ELi3W2LxIcLXVsDn8kXZQ==:";
        assertThat(TlsPsk.of(PSK32, null).format()).isEqualTo(v00);
        assertThat(TlsPsk.of(PSK32, AuthHash.SHA256).format()).isEqualTo(v01);
        assertThat(TlsPsk.of(PSK48, AuthHash.SHA384).format()).isEqualTo(v02);
        TlsPsk p = TlsPsk.parse(v02);
        assertThat(p.transform()).contains(AuthHash.SHA384);
        assertThat(p.length()).isEqualTo(48);
        assertThat(TlsPsk.parse(v00).transform()).isEmpty();
        assertThat(TlsPsk.parse(v00).hash()).isEqualTo(AuthHash.SHA256);
        assertThat(TlsPsk.parse(v01).format()).isEqualTo(v01);
    }

    @Test
    void version_1_identities_match_libnvme_with_rfc8446_labels() {
        assertThat(TlsPsk.of(PSK32, AuthHash.SHA256).identity(1, HOST, SUBSYS, HkdfLabelEncoding.RFC_8446).toString())
                .isEqualTo("NVMe1R01 nqn.psk-test-host nqn.psk-test-subsys iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU=");
        assertThat(TlsPsk.of(PSK48, AuthHash.SHA384).identity(1, HOST, SUBSYS, HkdfLabelEncoding.RFC_8446).toString())
                .isEqualTo("NVMe1R02 nqn.psk-test-host nqn.psk-test-subsys "
                        + "QhW2+Rp6RzHlNtCslyRxMnwJ11tKKhz8JCAQpQ+XUD8f9td1VeH5h53yz2wKJG1a");
    }

    @Test
    void version_1_identities_match_libnvme_compat_with_legacy_labels() {
        assertThat(TlsPsk.of(PSK32, AuthHash.SHA256).identity(1, HOST, SUBSYS, HkdfLabelEncoding.LIBNVME_LEGACY)
                .toString()).isEqualTo(
                        "NVMe1R01 nqn.psk-test-host nqn.psk-test-subsys 66GuqV08TsAGII39teWUfwQwizjv06Jy8jOcX3NAAzM=");
        assertThat(TlsPsk.of(PSK48, AuthHash.SHA384).identity(1, HOST, SUBSYS, HkdfLabelEncoding.LIBNVME_LEGACY)
                .toString()).isEqualTo("NVMe1R02 nqn.psk-test-host nqn.psk-test-subsys "
                        + "RsKmYJ3nAn1ApjjMloJFbAkLPivONDAX/xW327YBUsn2eGShXSjCZvBaOxscLqmz");
    }

    @Test
    void version_0_identity_has_no_digest() {
        TlsPskIdentity id = TlsPsk.of(PSK48, AuthHash.SHA384).identity(0, HOST, SUBSYS, HkdfLabelEncoding.RFC_8446);
        assertThat(id.toString()).isEqualTo("NVMe0R02 nqn.psk-test-host nqn.psk-test-subsys");
        assertThat(TlsPsk.of(PSK32, null).identity(0, HOST, SUBSYS, HkdfLabelEncoding.RFC_8446).toString())
                .isEqualTo("NVMe0R01 nqn.psk-test-host nqn.psk-test-subsys");
    }

    @Test
    void tls_psk_of_a_retained_psk_in_both_encodings() {
        // computed with OpenSSL 3 (openssl kdf HKDF) from the HkdfLabel layouts of libnvme's
        // derive_tls_key (RFC 8446) and derive_tls_key_compat; the retained PSK under them is the one
        // the libnvme identity vectors above confirm
        TlsPsk p = TlsPsk.of(PSK32, AuthHash.SHA256);
        for (HkdfLabelEncoding e : HkdfLabelEncoding.values()) {
            TlsPskIdentity v1 = p.identity(1, HOST, SUBSYS, e);
            TlsPskIdentity v0 = p.identity(0, HOST, SUBSYS, e);
            String t1 = HEX.formatHex(p.tlsPsk(v1, e));
            String t0 = HEX.formatHex(p.tlsPsk(v0, e));
            if (e == HkdfLabelEncoding.RFC_8446) {
                assertThat(HEX.formatHex(p.retained(HOST, e)))
                        .isEqualTo("073311dec37e219ff3acd43f130130c5bdd443c066e1cc3424e49030234ff7d5");
                assertThat(t1).isEqualTo("8fc3c0badfd4c0c66fa3ca33aadd0314f85536cc9bc47338b60f3e6e563786ca");
                assertThat(t0).isEqualTo("05c6503551ad136e6ee32e6eeb3f6d500b69701d84ec71e328f65c7f51566f68");
            } else {
                assertThat(HEX.formatHex(p.retained(HOST, e)))
                        .isEqualTo("ad4cdadfcbaf4e353fcbd09aac891c4d75c5300fe5ee7bb04ae87726a312eddc");
                assertThat(t1).isEqualTo("b9f5ab2a41ba6e72a23a12066302a2f775fa6c0942c8e0b18ca8ac07edf305e2");
                assertThat(t0).isEqualTo("09fb1983ac6d6d0353e7cae4f23daddd651c367fa347c59d9cf6936f5a83eafb");
            }
        }
        TlsPsk q = TlsPsk.of(PSK48, AuthHash.SHA384);
        assertThat(HEX.formatHex(q.tlsPsk(q.identity(1, HOST, SUBSYS, HkdfLabelEncoding.LIBNVME_LEGACY),
                HkdfLabelEncoding.LIBNVME_LEGACY))).isEqualTo("fcefe2e2a2e682b1447dcabf1ec268f78f08c63cd075753abcc8bda2"
                        + "c5c34d48d3014aa8d76ad80107e4f5c9f27e2149");
        assertThat(HEX.formatHex(q.tlsPsk(q.identity(1, HOST, SUBSYS, HkdfLabelEncoding.RFC_8446),
                HkdfLabelEncoding.RFC_8446))).isEqualTo("a2b2f943f479fc682555cec89857c80ed004ce92f32a973d5764155bb7e3"
                        + "6b17a85368a0666d250afac9282dda2e62ca");
    }

    @Test
    void no_transform_uses_the_configured_psk_as_retained() {
        TlsPsk p = TlsPsk.of(PSK48, null);
        assertThat(p.retained(HOST, HkdfLabelEncoding.RFC_8446)).isEqualTo(PSK48);
        assertThat(p.hash()).isEqualTo(AuthHash.SHA384);
    }

    /** The kernel's KUnit vectors, drivers/nvme/common/tests/auth_kunit.c. */
    @Test
    void generated_psk_digest_and_tls_psk_match_the_kernel_kunit_vectors() {
        kernelVector(AuthHash.SHA256, "1733c59fa7f48fcf37f5f26fc4ff0268ad4f78e030f4f3b0bfd1d47e7bb1447a",
                "OldoKuTfKddMuyCznAZojkWD7P4D9/AtzDzLimtOxqI=",
                "3c17da628474a04d2247c4cab47968c915388193f7c071bd9489cc3666cd7cc8");
        kernelVector(AuthHash.SHA384, "f14b2dd3234c459694d3bc63f8968bd6b37c2c6de849e22e118749001ce4bbe8"
                        + "640b9e3a748cb11ce4b1d71d359cce39",
                "cffMWk8TSS7HOQebjgYEIkrPrjWPV4JE5cdPB8WhEvY4JBW5YynKyv66XscN4A9n",
                "27747532 33537b3fa50eb7d16a8e43457d85f4906c005b2236616c5d80939d0898fff15bb8b77119d2be0aac423e7590"
                        .replace(" ", ""));
        byte[] psk512 = generated(AuthHash.SHA512);
        assertThat(HEX.formatHex(psk512)).isEqualTo("9c9f089a618b47d2d75f4b6c28070424487b445dd96e70c4c09b55e8b6000152"
                + "a3363c3454043f38f0b85036ded40655350aa87b8b6a282b5c1acae16233dd5b");
        assertThatThrownBy(() -> TlsPsk.digest(AuthHash.SHA512, psk512, "hostnqn", "subsysnqn"))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static byte[] generated(AuthHash h) {
        byte[] skey = new byte[h.length()];
        byte[] c1 = new byte[h.length()];
        byte[] c2 = new byte[h.length()];
        for (int i = 0; i < h.length(); i++) {
            skey[i] = (byte) ('A' + i);
            c1[i] = (byte) i;
            c2[i] = (byte) (0xff - i);
        }
        return TlsPsk.generatedPsk(h, skey, c1, c2);
    }

    private static void kernelVector(AuthHash h, String psk, String digest, String tlsPsk) {
        byte[] generated = generated(h);
        assertThat(HEX.formatHex(generated)).isEqualTo(psk);
        String d = TlsPsk.digest(h, generated, "hostnqn", "subsysnqn");
        assertThat(d).isEqualTo(digest);
        TlsPskIdentity id = new TlsPskIdentity(1, true, h, "hostnqn", "subsysnqn", d);
        assertThat(HEX.formatHex(TlsPsk.deriveTlsPsk(id, generated, HkdfLabelEncoding.RFC_8446))).isEqualTo(tlsPsk);
    }

    @Test
    void identity_strings_parse_back() {
        for (String s : List.of("NVMe0R01 nqn.a nqn.b", "NVMe1G02 nqn.a nqn.b abc=",
                "NVMe1R01 nqn.psk-test-host nqn.psk-test-subsys iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU=")) {
            assertThat(TlsPskIdentity.parse(s).toString()).isEqualTo(s);
        }
        assertThat(TlsPskIdentity.parse("NVMe1R01 h s d").lookupPrefix()).isEqualTo("NVMe1R01 h s");
        assertThatThrownBy(() -> TlsPskIdentity.parse("NVMe2R01 h s")).hasMessageContaining("version");
        assertThatThrownBy(() -> TlsPskIdentity.parse("NVMe0X01 h s")).hasMessageContaining("type");
        assertThatThrownBy(() -> TlsPskIdentity.parse("NVMe0R03 h s")).hasMessageContaining("hash");
        assertThatThrownBy(() -> TlsPskIdentity.parse("NVMe0R01 h s d")).hasMessageContaining("digest");
        assertThatThrownBy(() -> TlsPskIdentity.parse("NVMe0R01 h")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void refuses_malformed_interchange_keys_naming_the_problem() {
        String good = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
        assertThatThrownBy(() -> TlsPsk.parse(good.replace("-1:", "-2:"))).hasMessageContaining("NVMeTLSkey-1:");
        assertThatThrownBy(() -> TlsPsk.parse(good.replace(":01:", ":03:"))).hasMessageContaining("hash identifier");
        assertThatThrownBy(() -> TlsPsk.parse(good.replace(":01:", ":02:"))).hasMessageContaining("32-byte");
        assertThatThrownBy(() -> TlsPsk.parse(good.substring(0, good.length() - 1))).hasMessageContaining("<base64>");
        assertThatThrownBy(() -> TlsPsk.parse(good.replace("VRLb", "VRL*"))).hasMessageContaining("base64");
        assertThatThrownBy(() -> TlsPsk.parse(good.replace("VRLb", "VRLc"))).hasMessageContaining("CRC-32");
        assertThatThrownBy(() -> TlsPsk.of(new byte[64], null)).hasMessageContaining("64 bytes");
        assertThatThrownBy(() -> TlsPsk.of(PSK32, AuthHash.SHA384)).hasMessageContaining("does not go with");
    }

    @Test
    void no_message_or_to_string_shows_any_part_of_the_key() {
        TlsPsk p = TlsPsk.of(PSK48, AuthHash.SHA384);
        String good = p.format();
        String b64 = good.substring(16, good.length() - 1);
        List<String> bad = List.of(good.replace("NVMeTLSkey-1", "NVMeTLSkey-7"), good.replace(":02:", ":09:"),
                good.substring(0, 30) + "#" + good.substring(31), good.substring(0, 20) + "A" + good.substring(21),
                good.substring(0, good.length() - 9) + ":", good.replace(":02:", ":01:"));
        List<String> parts = new ArrayList<>();
        for (int i = 0; i + 6 <= b64.length(); i++) {
            parts.add(b64.substring(i, i + 6));
        }
        String hex = HEX.formatHex(PSK48);
        for (int i = 0; i + 8 <= hex.length(); i += 2) {
            parts.add(hex.substring(i, i + 8));
        }
        for (String text : bad) {
            Throwable t = catchThrowable(() -> TlsPsk.parse(text));
            assertThat(t).as(text).isInstanceOf(IllegalArgumentException.class);
            for (String part : parts) {
                assertThat(String.valueOf(t.getMessage())).doesNotContainIgnoringCase(part);
                assertThat(t.getCause()).isNull();
            }
        }
        for (String part : parts) {
            assertThat(p.toString()).doesNotContainIgnoringCase(part);
        }
        assertThat(p.toString()).isEqualTo("TlsPsk[hmac(sha384), 48 bytes]");
        assertThat(Arrays.equals(p.retained(HOST, HkdfLabelEncoding.RFC_8446), PSK48)).isFalse();
    }
}
