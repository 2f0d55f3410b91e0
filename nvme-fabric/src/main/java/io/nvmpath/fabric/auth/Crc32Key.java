package io.nvmpath.fabric.auth;

import java.util.Arrays;
import java.util.Base64;
import java.util.zip.CRC32;

/**
 * The {@code base64(key || CRC-32(key) little-endian)} part shared by the DHHC-1 secret and the
 * NVMeTLSkey-1 PSK interchange format. The CRC is zlib's CRC-32 ({@link CRC32}): the kernel's
 * {@code ~crc32(~0, ...)} and libnvme's {@code crc32(0, ...)}. Messages never include the input: a
 * failure names only the part at fault.
 */
final class Crc32Key {
    private Crc32Key() {
    }

    static String encode(byte[] key) {
        byte[] raw = Arrays.copyOf(key, key.length + 4);
        int crc = crc(key, key.length);
        raw[key.length] = (byte) crc;
        raw[key.length + 1] = (byte) (crc >>> 8);
        raw[key.length + 2] = (byte) (crc >>> 16);
        raw[key.length + 3] = (byte) (crc >>> 24);
        String s = Base64.getEncoder().encodeToString(raw);
        Arrays.fill(raw, (byte) 0);
        return s;
    }

    /** Decodes standard base64 with padding; the JDK's message (which quotes a character) is not passed on. */
    static byte[] decode(String base64, String what) {
        try {
            return Base64.getDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + ": the key is not valid base64");
        }
    }

    /** Checks the trailing little-endian CRC-32 and returns the key without it. */
    static byte[] checkAndStrip(byte[] raw, String what) {
        int n = raw.length - 4;
        int stored = (raw[n] & 0xFF) | (raw[n + 1] & 0xFF) << 8 | (raw[n + 2] & 0xFF) << 16 | (raw[n + 3] & 0xFF) << 24;
        boolean ok = stored == crc(raw, n);
        byte[] key = Arrays.copyOf(raw, n);
        Arrays.fill(raw, (byte) 0);
        if (!ok) {
            Arrays.fill(key, (byte) 0);
            throw new IllegalArgumentException(what + ": the CRC-32 does not match the key");
        }
        return key;
    }

    static int crc(byte[] b, int length) {
        CRC32 c = new CRC32();
        c.update(b, 0, length);
        return (int) c.getValue();
    }
}
