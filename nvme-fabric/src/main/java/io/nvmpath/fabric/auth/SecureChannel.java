package io.nvmpath.fabric.auth;

/**
 * SC_C, the secure channel concatenation byte of AUTH_Negotiate, hashed into the host response (Linux
 * {@code NVME_AUTH_SECP_*}, {@code include/linux/nvme.h}). Secure channel concatenation came after
 * 6.12, in 6.14: Linux 6.12 sends and hashes {@link #NONE} only.
 */
public enum SecureChannel {
    /** 00h: no secure channel concatenation. */
    NONE(0x00),
    /** 01h, named SC by the kernel. */
    SC(0x01),
    /** 02h: derive a new TLS PSK from this authentication. */
    NEW_TLS_PSK(0x02),
    /** 03h: replace the TLS PSK of the current TLS session. */
    REPLACE_TLS_PSK(0x03);

    private final int code;

    SecureChannel(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The value for a code, or {@code null} for one not defined. */
    public static SecureChannel fromCode(int code) {
        for (SecureChannel s : values()) {
            if (s.code == code) {
                return s;
            }
        }
        return null;
    }
}
