package io.nvmpath.target;

import io.netty.buffer.ByteBuf;
import io.nvmpath.fabric.auth.AuthFailure;
import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.AuthMessage;
import io.nvmpath.fabric.auth.AuthNegotiate;
import io.nvmpath.fabric.auth.AuthProtocolException;
import io.nvmpath.fabric.auth.DhGroup;
import io.nvmpath.fabric.auth.DhKeyExchange;
import io.nvmpath.fabric.auth.DhchapChallenge;
import io.nvmpath.fabric.auth.DhchapReply;
import io.nvmpath.fabric.auth.DhchapResponse;
import io.nvmpath.fabric.auth.DhchapSuccess1;
import io.nvmpath.fabric.auth.DhchapSuccess2;
import io.nvmpath.fabric.auth.FailureExplanation;
import io.nvmpath.fabric.auth.SecureChannel;
import io.nvmpath.target.config.TargetConfig.DhchapHost;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.SecureRandom;
import java.util.function.Supplier;

/**
 * The controller side of DH-HMAC-CHAP on one queue (NVMe Base 8.3.4.5; Linux
 * {@code drivers/nvme/target/fabrics-cmd-auth.c}): the host's Authentication Send messages move it
 * on, each Authentication Receive takes the message its step owes the host. A protocol error does
 * not fail the Send that carried it (nvmet completes it successfully): the next Receive returns
 * AUTH_Failure1 with the explanation, and the queue stays unauthenticated. A host may start over with
 * a new AUTH_Negotiate at any time.
 *
 * <p>Re-authentication (a new AUTH_Negotiate on a queue that has authenticated) reads the host's keys
 * as they are configured now, and the queue keeps carrying commands while it runs, as nvmet does
 * ({@code sq->authenticated} stays set). When it fails — the controller answers Failure1, or the host
 * aborts with Failure2 — the queue has lost its authentication and {@link #lost()} says so: the
 * controller then ends the association, as nvmet's {@code nvmet_ctrl_fatal_error}.
 *
 * <p>Confined to the queue's event loop. Secrets and derived values never reach a log line.
 */
final class TargetAuthentication {
    private static final Logger log = LoggerFactory.getLogger(TargetAuthentication.class);

    /** Where the transaction stands: what the host is to send, or what it is to receive. */
    enum Step {
        /** Waiting for AUTH_Negotiate (Send). */
        NEGOTIATE,
        /** The Challenge is to be received. */
        CHALLENGE,
        /** Waiting for the Reply (Send). */
        REPLY,
        /** Success1 is to be received. */
        SUCCESS1,
        /** Waiting for Success2 (Send), after a bidirectional Success1. */
        SUCCESS2,
        /** AUTH_Failure1 is to be received. */
        FAILURE1,
        /** The transaction succeeded. */
        DONE
    }

    /** The host's keys as configured now; {@code null} once the host has none. */
    private final Supplier<DhchapHost> currentKeys;
    private DhchapHost keys;
    private final String hostNqn;
    private final String subsysNqn;
    private final int qid;
    private final SecureRandom random;
    private Step step = Step.NEGOTIATE;
    private boolean authenticated;
    /** Whether the queue has authenticated once: a later transaction is a re-authentication. */
    private boolean everAuthenticated;
    /** A re-authentication failed: the association is to end. */
    private boolean lost;
    private final Runnable onReauthenticated;
    private int transactionId;
    private AuthHash hash;
    private DhGroup group;
    private DhKeyExchange dh;
    private byte[] sessionKey;
    private byte[] c1;
    private int s1;
    private byte[] c2;
    private int s2;
    private FailureExplanation failure;

    TargetAuthentication(Supplier<DhchapHost> keys, Runnable onReauthenticated, String hostNqn, String subsysNqn, int qid,
                         SecureRandom random) {
        this.currentKeys = keys;
        this.onReauthenticated = onReauthenticated;
        this.keys = keys.get();
        this.hostNqn = hostNqn;
        this.subsysNqn = subsysNqn;
        this.qid = qid;
        this.random = random;
    }

    /** Whether commands other than the Fabrics ones may run on this queue. */
    boolean authenticated() {
        return authenticated;
    }

    Step step() {
        return step;
    }

    /**
     * Whether a re-authentication of this queue failed (Failure1 sent or Failure2 received after it had
     * authenticated): the controller is to end the association, as nvmet does.
     */
    boolean lost() {
        return lost;
    }

    /**
     * The controller withdraws the queue's authentication (a test target's fault: what a controller
     * that wants the host to authenticate again does): commands other than the Fabrics ones answer
     * Authentication Required until the host authenticates anew.
     */
    void withdraw() {
        if (authenticated) {
            log.info("authentication of host {} on queue {} of {} withdrawn", hostNqn, qid, subsysNqn);
        }
        authenticated = false;
    }

    /** An Authentication Send's message (read, not released). */
    void send(ByteBuf data) {
        AuthMessage m;
        try {
            m = AuthMessage.decode(data);
        } catch (AuthProtocolException e) {
            fail(e.explanation(), e.getMessage());
            return;
        }
        if (m instanceof AuthNegotiate n) {
            negotiate(n);
            return;
        }
        if (m instanceof AuthFailure f) {
            FailureExplanation why = f.explanationCode();
            log.info("host {} aborted authentication on queue {} of {}: AUTH_Failure RESCODE {}h RESCODE_EXP {}h{}",
                    hostNqn, qid, subsysNqn, Integer.toHexString(f.reasonCode()), Integer.toHexString(f.explanation()),
                    why == null ? "" : " (" + why.description() + ")");
            clear();
            loseIfReauthenticating();
            authenticated = false;
            step = Step.NEGOTIATE;
            return;
        }
        if (m.transactionId() != transactionId) {
            fail(FailureExplanation.INCORRECT_PAYLOAD, "T_ID " + m.transactionId() + ", the transaction is "
                    + transactionId);
            return;
        }
        if (step == Step.REPLY && m instanceof DhchapReply r) {
            reply(r);
        } else if (step == Step.SUCCESS2 && m instanceof DhchapSuccess2) {
            succeed();
        } else {
            fail(FailureExplanation.INCORRECT_MESSAGE, m.getClass().getSimpleName() + " at step " + step);
        }
    }

    /** The message an Authentication Receive returns now. */
    AuthMessage receive() {
        switch (step) {
            case CHALLENGE -> {
                c1 = randomBytes(hash.length());
                s1 = seqnum();
                byte[] dhv = new byte[0];
                if (group != DhGroup.NULL) {
                    dh = DhKeyExchange.generate(group, random);
                    dhv = dh.publicValue();
                }
                step = Step.REPLY;
                return new DhchapChallenge(transactionId, hash.id(), group.id(), s1, c1, dhv);
            }
            case SUCCESS1 -> {
                byte[] r2 = null;
                if (c2 != null) {
                    r2 = DhchapResponse.controller(hash, keys.ctrlKey().transformedKey(subsysNqn), augmented(c2), s2,
                            transactionId, hostNqn, subsysNqn);
                    step = Step.SUCCESS2;
                } else {
                    succeed();
                }
                return new DhchapSuccess1(transactionId, hash.length(), r2);
            }
            case FAILURE1 -> {
                step = Step.NEGOTIATE;
                loseIfReauthenticating();
                authenticated = false;
                return AuthFailure.failure1(transactionId, failure);
            }
            default -> {
                // nothing is owed at this step: the host is out of order
                FailureExplanation e = FailureExplanation.INCORRECT_MESSAGE;
                log.info("host {} on queue {} of {}: Authentication Receive at step {}", hostNqn, qid, subsysNqn, step);
                clear();
                loseIfReauthenticating();
                authenticated = false;
                step = Step.NEGOTIATE;
                return AuthFailure.failure1(transactionId, e);
            }
        }
    }

    /**
     * Whether a transaction is under way (begun by the host and neither done nor reset): the
     * queue then arms its expiry, as nvmet's {@code auth_expired_work}.
     */
    boolean inProgress() {
        return step != Step.NEGOTIATE && step != Step.DONE;
    }

    /**
     * The host let the transaction stall past its time (nvmet: the KATO, else 120 s): it is dropped,
     * as {@code nvmet_auth_expired_work} resets the step to Negotiate; the queue stays as it was.
     */
    void expire() {
        if (!inProgress()) {
            return;
        }
        log.info("host {} did not complete authentication on queue {} of {} in time (step {}): the transaction is reset",
                hostNqn, qid, subsysNqn, step);
        clear();
        step = Step.NEGOTIATE; // a late message of the old transaction is then out of order
    }

    private void negotiate(AuthNegotiate n) {
        clear();
        // a re-authentication: the queue stays usable while it runs (nvmet keeps sq->authenticated)
        transactionId = n.transactionId();
        keys = currentKeys.get();
        if (keys == null) {
            fail(FailureExplanation.FAILED, "the host has no DH-HMAC-CHAP key any more");
            return;
        }
        if (n.secureChannel() != SecureChannel.NONE.code()) {
            fail(FailureExplanation.CONCAT_MISMATCH, "secure channel concatenation (SC_C " + n.secureChannel()
                    + ") is not supported");
            return;
        }
        if (!n.hashes().contains(keys.hash())) {
            fail(FailureExplanation.HASH_UNUSABLE, "the host does not offer " + keys.hash().hmacName());
            return;
        }
        if (!n.dhGroups().contains(keys.dhGroup())) {
            fail(FailureExplanation.DHGROUP_UNUSABLE, "the host does not offer DH group " + keys.dhGroup().groupName());
            return;
        }
        hash = keys.hash();
        group = keys.dhGroup();
        step = Step.CHALLENGE;
    }

    private void reply(DhchapReply r) {
        byte[] response = r.response();
        if (response.length != hash.length()) {
            fail(FailureExplanation.HASH_UNUSABLE, "HL " + response.length + " for " + hash.hmacName());
            return;
        }
        byte[] dhv = r.dhValue();
        if (group == DhGroup.NULL) {
            if (dhv.length != 0) {
                fail(FailureExplanation.INCORRECT_PAYLOAD, "a DH value of " + dhv.length + " bytes with the null group");
                return;
            }
        } else {
            if (dhv.length != group.valueLength()) {
                fail(FailureExplanation.DHGROUP_UNUSABLE, "DHVLEN " + dhv.length + " for " + group.groupName());
                return;
            }
            try {
                sessionKey = dh.sharedSecret(dhv);
            } catch (IllegalArgumentException e) {
                fail(FailureExplanation.DHGROUP_UNUSABLE, e.getMessage());
                return;
            }
        }
        byte[] expected = DhchapResponse.host(hash, keys.hostKey().transformedKey(hostNqn), augmented(c1), s1,
                transactionId, 0, hostNqn, subsysNqn);
        if (!DhchapResponse.matches(expected, response)) {
            fail(FailureExplanation.FAILED, "the host's response R1 did not verify");
            return;
        }
        if (r.challenge() != null) {
            if (keys.ctrlKey() == null) {
                fail(FailureExplanation.FAILED, "the host challenges the controller, which has no controller key");
                return;
            }
            c2 = r.challenge();
            s2 = r.seqnum();
        }
        step = Step.SUCCESS1;
    }

    private void succeed() {
        boolean again = everAuthenticated;
        authenticated = true;
        everAuthenticated = true;
        step = Step.DONE;
        log.debug("host {} {} on queue {} of {} ({}, {})", hostNqn, again ? "re-authenticated" : "authenticated", qid,
                subsysNqn, hash.hmacName(), group.groupName());
        if (again) {
            onReauthenticated.run();
        }
        clear();
    }

    /**
     * Maps a protocol error to the wire: Failure1 on the next Receive, which takes the queue's
     * authentication (a re-authenticating queue keeps it until then, as nvmet).
     */
    private void fail(FailureExplanation e, String why) {
        log.info("host {} failed {} on queue {} of {}: {} ({})", hostNqn,
                everAuthenticated ? "re-authentication" : "authentication", qid, subsysNqn, why, e.description());
        clear();
        failure = e;
        step = Step.FAILURE1;
    }

    private void loseIfReauthenticating() {
        if (everAuthenticated) {
            lost = true;
        }
    }

    private byte[] augmented(byte[] challenge) {
        return sessionKey == null ? challenge : DhchapResponse.augmentedChallenge(hash, sessionKey, challenge);
    }

    private void clear() {
        dh = null;
        sessionKey = null;
        c1 = null;
        c2 = null;
        s2 = 0;
    }

    /** A sequence number: random and never 0, which means "none" (Linux {@code nvme_auth_get_seqnum}). */
    private int seqnum() {
        int s;
        do {
            s = random.nextInt();
        } while (s == 0);
        return s;
    }

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }
}
