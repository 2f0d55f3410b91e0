package io.nvmpath.fabric.auth;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A whole bidirectional DH-HMAC-CHAP transaction played by a host and a controller made of these
 * primitives, every message through its codec, in the order of {@code nvme_queue_auth_work} and
 * {@code nvmet_execute_auth_send/receive}.
 */
class DhchapFlowTest {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:0b6e3c1e-5d2f-4f55-9d59-3c5bd0b0f7a1";
    private static final String SUBSYS_NQN = "nqn.2026-12.io.nvmpath:flow";

    private static AuthMessage wire(AuthMessage m) {
        ByteBuf b = Unpooled.buffer(4096);
        try {
            m.encode(b);
            b.writeZero(b.writableBytes()); // the receiver's allocation length, zero-filled
            return AuthMessage.decode(b);
        } finally {
            b.release();
        }
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }

    @Test
    void host_and_controller_authenticate_each_other_over_ffdhe2048_with_sha384() {
        DhchapSecret hostSecret = DhchapSecret.generate(48, AuthHash.SHA384, RANDOM);
        DhchapSecret ctrlSecret = DhchapSecret.generate(32, AuthHash.SHA256, RANDOM);
        // both ends configured from the strings, as nvme connect and nvmet configfs are
        DhchapSecret hostSideCtrlKey = DhchapSecret.parse(ctrlSecret.format());
        DhchapSecret ctrlSideHostKey = DhchapSecret.parse(hostSecret.format());
        int tid = 0x2a;

        AuthNegotiate negotiate = (AuthNegotiate) wire(AuthNegotiate.offerAll(tid, SecureChannel.NONE));
        assertThat(negotiate.hashes()).contains(AuthHash.SHA384);
        assertThat(negotiate.dhGroups()).contains(DhGroup.FFDHE2048);

        AuthHash hash = AuthHash.SHA384;
        DhKeyExchange ctrlDh = DhKeyExchange.generate(DhGroup.FFDHE2048, RANDOM);
        byte[] c1 = random(hash.length());
        DhchapChallenge challenge = (DhchapChallenge) wire(new DhchapChallenge(negotiate.transactionId(), hash.id(),
                DhGroup.FFDHE2048.id(), 0x7000_0001, c1, ctrlDh.publicValue()));

        // host: DH, augmented C1, R1, its own challenge C2
        DhKeyExchange hostDh = DhKeyExchange.generate(challenge.dhGroup(), RANDOM);
        byte[] hostSession = hostDh.sharedSecret(challenge.dhValue());
        byte[] r1 = DhchapResponse.host(challenge.hash(), hostSecret.transformedKey(HOST_NQN),
                DhchapResponse.augmentedChallenge(challenge.hash(), hostSession, challenge.challenge()),
                challenge.seqnum(), challenge.transactionId(), 0, HOST_NQN, SUBSYS_NQN);
        byte[] c2 = random(hash.length());
        int s2 = 0x0000_1234;
        DhchapReply reply = (DhchapReply) wire(new DhchapReply(tid, r1, c2, s2, hostDh.publicValue()));

        // controller: the same session key, checks R1, answers R2
        byte[] ctrlSession = ctrlDh.sharedSecret(reply.dhValue());
        assertThat(ctrlSession).isEqualTo(hostSession);
        byte[] expectedR1 = DhchapResponse.host(hash, ctrlSideHostKey.transformedKey(HOST_NQN),
                DhchapResponse.augmentedChallenge(hash, ctrlSession, c1), 0x7000_0001, tid, 0, HOST_NQN, SUBSYS_NQN);
        assertThat(DhchapResponse.matches(expectedR1, reply.response())).isTrue();
        byte[] r2 = DhchapResponse.controller(hash, ctrlSecret.transformedKey(SUBSYS_NQN),
                DhchapResponse.augmentedChallenge(hash, ctrlSession, reply.challenge()), reply.seqnum(), tid,
                HOST_NQN, SUBSYS_NQN);
        DhchapSuccess1 success1 = (DhchapSuccess1) wire(new DhchapSuccess1(tid, hash.length(), r2));

        // host: checks R2, sends Success2
        byte[] expectedR2 = DhchapResponse.controller(hash, hostSideCtrlKey.transformedKey(SUBSYS_NQN),
                DhchapResponse.augmentedChallenge(hash, hostSession, c2), s2, tid, HOST_NQN, SUBSYS_NQN);
        assertThat(success1.hashLength()).isEqualTo(hash.length());
        assertThat(DhchapResponse.matches(expectedR2, success1.response())).isTrue();
        assertThat(wire(new DhchapSuccess2(tid))).isEqualTo(new DhchapSuccess2(tid));
    }

    @Test
    void a_wrong_host_key_fails_and_is_reported_with_failure1() {
        DhchapSecret hostSecret = DhchapSecret.generate(32, null, RANDOM);
        DhchapSecret other = DhchapSecret.generate(32, null, RANDOM);
        byte[] c1 = random(32);
        byte[] r1 = DhchapResponse.host(AuthHash.SHA256, other.transformedKey(HOST_NQN), c1, 1, 2, 0, HOST_NQN,
                SUBSYS_NQN);
        byte[] expected = DhchapResponse.host(AuthHash.SHA256, hostSecret.transformedKey(HOST_NQN), c1, 1, 2, 0,
                HOST_NQN, SUBSYS_NQN);
        assertThat(DhchapResponse.matches(expected, r1)).isFalse();
        AuthFailure f = (AuthFailure) wire(AuthFailure.failure1(2, FailureExplanation.FAILED));
        assertThat(f.isFailure1()).isTrue();
        assertThat(f.reasonCode()).isEqualTo(AuthFailure.REASON_AUTHENTICATION_FAILURE);
        assertThat(f.explanationCode()).isEqualTo(FailureExplanation.FAILED);
    }
}
