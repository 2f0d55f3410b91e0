package io.nvmpath.fabric.auth;

/**
 * How the HkdfLabel (the HKDF info) of NVMe/TCP's retained-PSK and TLS-PSK derivations is laid out.
 * The two differ, and a TLS PSK derived one way does not open a session keyed the other way.
 */
public enum HkdfLabelEncoding {
    /**
     * RFC 8446 section 7.1: u16 length big-endian, then {@code "tls13 " + label} and the context, each
     * prefixed with its length byte. The kernel's {@code hkdf_expand_label}
     * ({@code drivers/nvme/common/auth.c}, used by {@code nvme_auth_derive_tls_psk} for secure channel
     * concatenation, Linux 6.14 on), SPDK, and libnvme 1.16 on (libnvme PR 1040/1051; nvme-cli 2.16's default).
     */
    RFC_8446,
    /**
     * What libnvme up to 1.15 computed, and so nvme-cli 2.13 (which requires libnvme 1.13) when it
     * inserts a retained PSK with {@code gen-tls-key --insert} / {@code check-tls-key --insert}: the
     * u16 length little-endian, then {@code "tls13 "}, the label and the context with no length bytes.
     * libnvme 1.16 keeps it as {@code nvme_generate_tls_key_identity_compat} /
     * {@code nvme_insert_tls_key_compat} (nvme-cli 2.16's {@code --compat}); its {@code test/psk.c} has
     * identity vectors for both encodings.
     */
    LIBNVME_LEGACY;

    /** The HKDF info for {@code label} (without {@code "tls13 "}), {@code context} and {@code length}. */
    byte[] info(String label, byte[] context, int length) {
        byte[] fullLabel = Hkdf.ascii("tls13 " + label);
        if (fullLabel.length > 255 || context.length > 255) {
            throw new IllegalArgumentException("HkdfLabel: label of " + fullLabel.length + " or context of "
                    + context.length + " bytes is over 255");
        }
        return switch (this) {
            case RFC_8446 -> Hkdf.concat(new byte[] {(byte) (length >>> 8), (byte) length},
                    new byte[] {(byte) fullLabel.length}, fullLabel, new byte[] {(byte) context.length}, context);
            case LIBNVME_LEGACY -> Hkdf.concat(new byte[] {(byte) length, (byte) (length >>> 8)}, fullLabel, context);
        };
    }
}
