package io.nvmpath.fabric.host;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
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
import io.nvmpath.fabric.auth.DhchapSecret;
import io.nvmpath.fabric.auth.DhchapSuccess1;
import io.nvmpath.fabric.auth.DhchapSuccess2;
import io.nvmpath.fabric.auth.FailureExplanation;
import io.nvmpath.fabric.auth.SecureChannel;
import io.nvmpath.fabric.nvme.Status;

import java.security.SecureRandom;
import java.util.concurrent.CompletableFuture;

/**
 * The host side of one queue's DH-HMAC-CHAP transaction, run right after the queue's Fabrics Connect
 * when the response asks for it (AUTHREQ ATR), as Linux's {@code nvme_queue_auth_work}
 * ({@code drivers/nvme/host/auth.c}): Authentication Send AUTH_Negotiate, Receive the Challenge,
 * Send the Reply (with the host's own challenge C2 when a controller secret is configured), Receive
 * Success1 (checking R2 then), Send Success2 — or AUTH_Failure2 when the host refuses what it
 * received.
 *
 * <p>The same transaction runs again on a live queue ({@link #again}): on the controller's period
 * ({@link ControllerOptions#dhchapReauthPeriod}), when the secrets are rotated, or when the controller
 * answers a command with Authentication Required. The queue carries I/O meanwhile, and it reads the
 * secrets the controller holds then.
 *
 * <p>Every failure is one {@link AuthenticationException} whose message names the step and the
 * reason, never a secret. Runs on the queue's event loop through its command callbacks; the ffdhe
 * computations run there too (a few milliseconds to some tens for ffdhe8192, once per queue set-up).
 */
final class Authentication {
    /** Connect response dword 0, AUTHREQ ATR: authentication required ({@code NVME_CONNECT_AUTHREQ_ATR}). */
    static final int CONNECT_AUTHREQ_ATR = 1 << 17;
    /** AUTHREQ ASCR: authentication and secure channel concatenation required ({@code NVME_CONNECT_AUTHREQ_ASCR}). */
    static final int CONNECT_AUTHREQ_ASCR = 1 << 18;
    /** AL of every Authentication Receive: Linux's {@code CHAP_BUF_SIZE}. */
    static final int RECEIVE_LENGTH = 4096;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final HostQueue queue;
    private final DhchapSecret hostSecret;
    private final DhchapSecret ctrlSecret;
    private final String hostNqn;
    private final String subsysNqn;
    private final String where;
    private final boolean again;
    private final int transactionId;
    private AuthHash hash;
    private byte[] sessionKey;
    private byte[] c2;
    private int s2;

    private Authentication(HostQueue queue, int qid, ControllerOptions options, String subsysNqn, Object address,
                           boolean again) {
        this.queue = queue;
        this.hostSecret = options.dhchapSecret();
        this.ctrlSecret = options.dhchapCtrlSecret();
        this.hostNqn = options.hostNqn();
        this.subsysNqn = subsysNqn;
        this.where = "queue " + qid + " of " + subsysNqn + " at " + address;
        this.again = again;
        this.transactionId = RANDOM.nextInt(0x10000);
    }

    /**
     * Authenticates the queue when its Connect response dword 0 asks for it; completes at once when it
     * does not (a configured secret is then not used, as Linux does).
     */
    static CompletableFuture<Void> ifRequired(HostQueue queue, int qid, int connectDw0, ControllerOptions options,
                                              String subsysNqn, Object address) {
        if ((connectDw0 & (CONNECT_AUTHREQ_ATR | CONNECT_AUTHREQ_ASCR)) == 0) {
            return CompletableFuture.completedFuture(null);
        }
        Authentication a = new Authentication(queue, qid, options, subsysNqn, address, false);
        if ((connectDw0 & CONNECT_AUTHREQ_ASCR) != 0) {
            return CompletableFuture.failedFuture(a.failure(
                    "the controller requires secure channel concatenation, which this host does not support"));
        }
        if (options.dhchapSecret() == null) {
            return CompletableFuture.failedFuture(a.failure(
                    "the controller requires authentication and no DH-HMAC-CHAP secret is configured"));
        }
        return a.run().thenRun(() -> queue.reauthenticator(q -> again(q, qid, options, subsysNqn, address)));
    }

    /**
     * Authenticates a live queue again with the secrets {@code options} hold now (the controller's own
     * copy, which a rotation updates). The queue keeps carrying commands meanwhile.
     */
    static CompletableFuture<Void> again(HostQueue queue, int qid, ControllerOptions options, String subsysNqn,
                                         Object address) {
        Authentication a = new Authentication(queue, qid, options, subsysNqn, address, true);
        if (options.dhchapSecret() == null) {
            return CompletableFuture.failedFuture(a.failure("no DH-HMAC-CHAP secret is configured any more"));
        }
        return a.run();
    }

    private CompletableFuture<Void> run() {
        return send(AuthNegotiate.offerAll(transactionId, SecureChannel.NONE), "AUTH_Negotiate")
                .thenCompose(v -> receive("DH-HMAC-CHAP_Challenge"))
                .thenCompose(this::onChallenge)
                .thenCompose(v -> receive("DH-HMAC-CHAP_Success1"))
                .thenCompose(this::onSuccess1);
    }

    private CompletableFuture<Void> onChallenge(AuthMessage m) {
        if (m instanceof AuthFailure f) {
            return failed(controllerFailure("the controller refused the negotiation", f));
        }
        if (!(m instanceof DhchapChallenge c)) {
            return refuse(FailureExplanation.INCORRECT_MESSAGE, "expected DH-HMAC-CHAP_Challenge, received "
                    + m.getClass().getSimpleName());
        }
        if (c.transactionId() != transactionId) {
            return refuse(FailureExplanation.INCORRECT_PAYLOAD, "the Challenge is for transaction " + c.transactionId()
                    + ", not " + transactionId);
        }
        hash = c.hash();
        if (hash == null) {
            return refuse(FailureExplanation.HASH_UNUSABLE, String.format(
                    "the controller chose HashID %02xh, which this host does not know", c.hashId()));
        }
        byte[] c1 = c.challenge();
        if (c1.length != hash.length()) {
            return refuse(FailureExplanation.HASH_UNUSABLE, "the Challenge's HL " + c1.length + " does not fit "
                    + hash.hmacName());
        }
        DhGroup group = c.dhGroup();
        if (group == null) {
            return refuse(FailureExplanation.DHGROUP_UNUSABLE, String.format(
                    "the controller chose DH group %02xh, which this host does not know", c.dhGroupId()));
        }
        byte[] hostValue = new byte[0];
        if (group != DhGroup.NULL) {
            DhKeyExchange dh = DhKeyExchange.generate(group, RANDOM);
            try {
                sessionKey = dh.sharedSecret(c.dhValue());
            } catch (IllegalArgumentException e) {
                return refuse(FailureExplanation.DHGROUP_UNUSABLE, "the controller's DH value: " + e.getMessage());
            }
            hostValue = dh.publicValue();
        } else if (c.dhValue().length != 0) {
            return refuse(FailureExplanation.INCORRECT_PAYLOAD, "a DH value with the null DH group");
        }
        byte[] r1 = DhchapResponse.host(hash, hostSecret.transformedKey(hostNqn), augmented(c1), c.seqnum(),
                transactionId, 0, hostNqn, subsysNqn);
        if (ctrlSecret != null) {
            c2 = new byte[hash.length()];
            RANDOM.nextBytes(c2);
            do {
                s2 = RANDOM.nextInt();
            } while (s2 == 0);
        }
        return send(new DhchapReply(transactionId, r1, c2, s2, hostValue), "DH-HMAC-CHAP_Reply");
    }

    private CompletableFuture<Void> onSuccess1(AuthMessage m) {
        if (m instanceof AuthFailure f) {
            return failed(controllerFailure("the controller rejected the host's response", f));
        }
        if (!(m instanceof DhchapSuccess1 s)) {
            return refuse(FailureExplanation.INCORRECT_MESSAGE, "expected DH-HMAC-CHAP_Success1, received "
                    + m.getClass().getSimpleName());
        }
        if (s.transactionId() != transactionId) {
            return refuse(FailureExplanation.INCORRECT_PAYLOAD, "Success1 is for transaction " + s.transactionId()
                    + ", not " + transactionId);
        }
        if (s.hashLength() != hash.length()) {
            return refuse(FailureExplanation.HASH_UNUSABLE, "Success1's HL " + s.hashLength() + " does not fit "
                    + hash.hmacName());
        }
        if (ctrlSecret == null) {
            return CompletableFuture.completedFuture(null);
        }
        byte[] r2 = s.response();
        if (r2 == null) {
            return refuse(FailureExplanation.FAILED, "the controller did not answer the host's challenge (no R2)");
        }
        byte[] expected = DhchapResponse.controller(hash, ctrlSecret.transformedKey(subsysNqn), augmented(c2), s2,
                transactionId, hostNqn, subsysNqn);
        if (!DhchapResponse.matches(expected, r2)) {
            return refuse(FailureExplanation.FAILED,
                    "the controller's response R2 did not verify (is the controller secret the controller's?)");
        }
        return send(new DhchapSuccess2(transactionId), "DH-HMAC-CHAP_Success2");
    }

    private byte[] augmented(byte[] challenge) {
        return sessionKey == null ? challenge : DhchapResponse.augmentedChallenge(hash, sessionKey, challenge);
    }

    // ---- the commands -------------------------------------------------------------------------

    private CompletableFuture<Void> send(AuthMessage m, String what) {
        ByteBuf b = ByteBufAllocator.DEFAULT.buffer(m.size());
        m.encode(b);
        NvmeRequest r = Commands.authSend(b);
        CompletableFuture<Void> f = new CompletableFuture<>();
        r.callback(done -> {
            b.release();
            if (done.ok()) {
                f.complete(null);
            } else {
                f.completeExceptionally(failure("Authentication Send (" + what + ") failed: " + done.describeStatus()));
            }
        });
        queue.submit(r);
        return f;
    }

    private CompletableFuture<AuthMessage> receive(String what) {
        NvmeRequest r = Commands.authReceive(RECEIVE_LENGTH);
        CompletableFuture<AuthMessage> f = new CompletableFuture<>();
        r.callback(done -> {
            if (!done.ok()) {
                if (Status.isPathError(done.status())) {
                    // Linux nvmet ends the association as it refuses (nvmet_ctrl_fatal_error before the
                    // Receive completes): the connection may close before the Failure1 arrives
                    f.completeExceptionally(failure("the controller closed the connection instead of answering "
                            + what + " (a controller that refuses the host's response may: Linux nvmet does); "
                            + done.describeStatus()));
                } else {
                    f.completeExceptionally(failure("Authentication Receive (" + what + ") failed: "
                            + done.describeStatus()));
                }
                return;
            }
            ByteBuf data = done.takeReadData();
            try {
                f.complete(AuthMessage.decode(data));
            } catch (AuthProtocolException e) {
                refuse(e.explanation(), "the controller's message: " + e.getMessage())
                        .whenComplete((v, err) -> f.completeExceptionally(err));
            } finally {
                data.release();
            }
        });
        queue.submit(r);
        return f;
    }

    /**
     * The host refuses what the controller sent: AUTH_Failure2 with the explanation (as
     * {@code nvme_auth_set_dhchap_failure2_data}), then the transaction fails with {@code reason}.
     */
    private <T> CompletableFuture<T> refuse(FailureExplanation e, String reason) {
        AuthenticationException failure = failure(reason);
        return send(AuthFailure.failure2(transactionId, e), "AUTH_Failure2")
                .handle((v, err) -> {
                    throw failure;
                });
    }

    private AuthenticationException controllerFailure(String what, AuthFailure f) {
        FailureExplanation e = f.explanationCode();
        return failure(what + String.format(" (DH-HMAC-CHAP failure reason %Xh, explanation %02Xh%s)", f.reasonCode(),
                f.explanation(), e == null ? "" : ": " + e.description()));
    }

    private AuthenticationException failure(String reason) {
        return new AuthenticationException((again ? "re-authentication failed: " : "authentication failed: ") + reason
                + "; " + where);
    }

    private static <T> CompletableFuture<T> failed(Throwable t) {
        return CompletableFuture.failedFuture(t);
    }
}
