package io.nvmpath.fabric.auth;

import javax.crypto.Mac;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * The response values of DH-HMAC-CHAP (NVMe Base specification 8.3.4.5, "DH-HMAC-CHAP protocol"), byte
 * for byte as Linux computes them: the host's R1 in {@code nvme_auth_dhchap_setup_host_response}
 * ({@code drivers/nvme/host/auth.c}) and nvmet's {@code nvmet_auth_host_hash}, the controller's R2 in
 * {@code nvme_auth_dhchap_setup_ctrl_response} and {@code nvmet_auth_ctrl_hash}
 * ({@code drivers/nvme/target/auth.c}), the augmented challenge in {@code nvme_auth_augmented_challenge}
 * ({@code drivers/nvme/common/auth.c}).
 *
 * <p>The HMAC is the one of the HashID the controller chose in the Challenge; its key is the
 * transformed secret ({@link DhchapSecret#transformedKey}), whose hash is the secret's own and may
 * differ. Integers are little-endian; NQNs are their bytes without the terminating NUL.
 */
public final class DhchapResponse {
    private static final byte[] HOST_HOST = "HostHost".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CONTROLLER = "Controller".getBytes(StandardCharsets.US_ASCII);

    private DhchapResponse() {
    }

    /**
     * R1 = HMAC(Kh, C1' || S1 || T_ID || SC_C || "HostHost" || NQNh || 00h || NQNc), where C1' is the
     * challenge (already augmented when a DH group is in use), S1 the Challenge's sequence number (u32
     * LE), T_ID the transaction (u16 LE) and SC_C the Negotiate's secure channel concatenation byte
     * (Linux 6.12 always sends and hashes 0; later kernels hash the negotiated value).
     *
     * @param hash the Challenge's HashID
     * @param hostKey the host secret transformed with the host NQN
     * @param challenge C1, or its augmented form, {@code hash.length()} bytes
     */
    public static byte[] host(AuthHash hash, byte[] hostKey, byte[] challenge, int seqnum, int transactionId,
            int secureChannel, String hostNqn, String subsysNqn) {
        Mac mac = start(hash, hostKey, challenge, seqnum, transactionId, secureChannel);
        mac.update(HOST_HOST);
        mac.update(nqn(hostNqn));
        mac.update((byte) 0);
        mac.update(nqn(subsysNqn));
        return mac.doFinal();
    }

    /**
     * R2 = HMAC(Kc, C2' || S2 || T_ID || 00h || "Controller" || NQNc || 00h || NQNh): the NQNs in the
     * other order, and a zero byte where R1 has SC_C (so in every kernel read, 6.12 to the 2026 sources).
     *
     * @param ctrlKey the controller secret transformed with the subsystem NQN
     * @param challenge C2 of the Reply, or its augmented form
     * @param seqnum S2 of the Reply
     */
    public static byte[] controller(AuthHash hash, byte[] ctrlKey, byte[] challenge, int seqnum, int transactionId,
            String hostNqn, String subsysNqn) {
        Mac mac = start(hash, ctrlKey, challenge, seqnum, transactionId, 0);
        mac.update(CONTROLLER);
        mac.update(nqn(subsysNqn));
        mac.update((byte) 0);
        mac.update(nqn(hostNqn));
        return mac.doFinal();
    }

    /**
     * The augmented challenge Ca = HMAC(H(g^xy mod p), C) that replaces C1 (and C2) in the responses
     * when the DH group is not null: H is the negotiated hash, g^xy mod p the shared secret as
     * {@link DhKeyExchange#sharedSecret} gives it (padded to the size of p).
     */
    public static byte[] augmentedChallenge(AuthHash hash, byte[] sharedSecret, byte[] challenge) {
        checkChallenge(hash, challenge);
        return hash.hmac(hash.digest(sharedSecret), challenge);
    }

    /** Whether a received response equals the expected one, in time independent of where they differ. */
    public static boolean matches(byte[] expected, byte[] received) {
        return MessageDigest.isEqual(expected, received);
    }

    private static Mac start(AuthHash hash, byte[] key, byte[] challenge, int seqnum, int transactionId,
            int secureChannel) {
        checkChallenge(hash, challenge);
        Mac mac = hash.mac(key);
        mac.update(challenge);
        mac.update(new byte[] {(byte) seqnum, (byte) (seqnum >>> 8), (byte) (seqnum >>> 16), (byte) (seqnum >>> 24)});
        mac.update(new byte[] {(byte) transactionId, (byte) (transactionId >>> 8)});
        mac.update((byte) secureChannel);
        return mac;
    }

    private static void checkChallenge(AuthHash hash, byte[] challenge) {
        if (challenge.length != hash.length()) {
            throw new IllegalArgumentException("challenge is " + challenge.length + " bytes; "
                    + hash.hmacName() + " needs " + hash.length());
        }
    }

    private static byte[] nqn(String nqn) {
        return nqn.getBytes(StandardCharsets.UTF_8);
    }
}
