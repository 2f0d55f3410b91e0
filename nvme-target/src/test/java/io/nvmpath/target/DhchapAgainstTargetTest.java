package io.nvmpath.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.auth.AuthFailure;
import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.AuthMessage;
import io.nvmpath.fabric.auth.AuthNegotiate;
import io.nvmpath.fabric.auth.FailureExplanation;
import io.nvmpath.fabric.auth.DhGroup;
import io.nvmpath.fabric.auth.DhchapChallenge;
import io.nvmpath.fabric.auth.DhchapReply;
import io.nvmpath.fabric.auth.DhchapResponse;
import io.nvmpath.fabric.auth.DhchapSecret;
import io.nvmpath.fabric.auth.DhchapSuccess1;
import io.nvmpath.fabric.host.AuthenticationException;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerListener;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.fabric.testing.LogCapture;
import io.nvmpath.fabric.testing.ManualScheduler;
import io.nvmpath.target.config.TargetConfig;
import io.nvmpath.target.config.TargetConfig.DhchapHost;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * DH-HMAC-CHAP between the project's host and the project's target, in process over loopback TCP:
 * every queue (admin, then each I/O queue) authenticates after its Connect, unidirectionally or
 * bidirectionally, with each hash and DH group; a wrong key on either side fails the association
 * set-up with one line naming the step and the reason; secrets appear in no log line and no message.
 */
class DhchapAgainstTargetTest {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:6f1d7a0e-2b8c-4c53-9a57-0d3f41c9e2aa";
    private static final Duration WAIT = Duration.ofSeconds(5);

    private final ManualScheduler clock = new ManualScheduler();
    private LogCapture logs;
    private final List<String> secrets = new ArrayList<>();
    private NvmeTarget target;
    private EventLoopGroup hostLoops;

    @BeforeEach
    void start() {
        hostLoops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        logs = LogCapture.start();
    }

    @AfterEach
    void stop() throws Exception {
        hostLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        if (target != null) {
            target.close();
        }
        logs.close();
        String logged = logs.text();
        for (String s : secrets) {
            assertThat(logged).as("a secret in the log").doesNotContain(s).doesNotContain(keyPart(s));
        }
    }

    private DhchapSecret secret(int length, AuthHash transform) {
        DhchapSecret s = DhchapSecret.generate(length, transform, RANDOM);
        secrets.add(s.format());
        return s;
    }

    /** The base64 of key and CRC, the part of a DHHC-1 string that is secret. */
    private static String keyPart(String formatted) {
        return formatted.split(":")[2];
    }

    private void startTarget(DhchapHost keys) throws Exception {
        TargetConfig demo = TargetConfig.demo(0, 0, 0, 0);
        SubsystemConfig sub = demo.subsystems().get(0).withDhchap(Map.of(HOST_NQN, keys));
        TargetConfig cfg = new TargetConfig(List.of(sub), demo.ports(), demo.discovery(), demo.limits(), demo.admin(),
                demo.anatt());
        target = NvmeTarget.start(cfg.validate(), clock);
    }

    private Controller connect(ControllerOptions o, ControllerListener... listeners) throws Exception {
        return Controller.connect(new TransportAddress("127.0.0.1", target.port(1)), TargetConfig.DEMO_NQN,
                o.hostNqn(HOST_NQN).ioQueues(2), hostLoops, listeners).get(20, TimeUnit.SECONDS);
    }

    /** The message of the exception the connect fails with. */
    private String connectFailure(ControllerOptions o) {
        Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> connect(o));
        assertThat(t).isInstanceOf(ExecutionException.class);
        String m = t.getCause().getMessage();
        for (String s : secrets) {
            assertThat(m).doesNotContain(s).doesNotContain(keyPart(s));
        }
        return m;
    }

    /** Admin and I/O commands work on every queue: Identify, then a write and a read back on each I/O queue. */
    private static void assertWorks(Controller c) throws Exception {
        assertThat(c.identity().subnqn()).isEqualTo(TargetConfig.DEMO_NQN);
        assertThat(c.activeNamespaces().get(5, TimeUnit.SECONDS)).containsExactly(1);
        for (int i = 0; i < 8; i++) { // spread over the I/O queues
            byte[] bytes = new byte[512];
            RANDOM.nextBytes(bytes);
            ByteBuf w = Unpooled.wrappedBuffer(bytes);
            try {
                c.io(Commands.write(1, 100 + i, 1, w, false), "write").get(5, TimeUnit.SECONDS);
            } finally {
                w.release();
            }
            NvmeRequest r = c.io(Commands.read(1, 100 + i, 1, 512), "read").get(5, TimeUnit.SECONDS);
            ByteBuf b = r.takeReadData();
            try {
                assertThat(ByteBufUtil.getBytes(b)).isEqualTo(bytes);
            } finally {
                b.release();
            }
        }
    }

    static Stream<Arguments> hashesAndGroups() {
        List<Arguments> out = new ArrayList<>();
        for (AuthHash h : AuthHash.values()) {
            for (DhGroup g : List.of(DhGroup.NULL, DhGroup.FFDHE2048)) {
                out.add(Arguments.of(h, g, false));
                out.add(Arguments.of(h, g, true));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} bidirectional={2}")
    @MethodSource("hashesAndGroups")
    void should_authenticate_every_queue_then_run_admin_and_io(AuthHash hash, DhGroup group, boolean bidirectional)
            throws Exception {
        DhchapSecret hostKey = secret(48, AuthHash.SHA384);
        DhchapSecret ctrlKey = bidirectional ? secret(32, null) : null;
        startTarget(new DhchapHost(DhchapSecret.parse(hostKey.format()),
                ctrlKey == null ? null : DhchapSecret.parse(ctrlKey.format()), hash, group));
        try (Controller c = connect(new ControllerOptions().dhchapSecret(hostKey).dhchapCtrlSecret(ctrlKey))) {
            assertWorks(c);
        }
    }

    @Test
    void should_authenticate_bidirectionally_over_ffdhe8192_with_sha512() throws Exception {
        DhchapSecret hostKey = secret(64, AuthHash.SHA512);
        DhchapSecret ctrlKey = secret(64, AuthHash.SHA512);
        startTarget(new DhchapHost(hostKey, ctrlKey, AuthHash.SHA512, DhGroup.FFDHE8192));
        try (Controller c = connect(new ControllerOptions().dhchapSecret(hostKey).dhchapCtrlSecret(ctrlKey))) {
            assertWorks(c);
        }
    }

    @Test
    void should_delete_the_controller_without_retrying_when_its_reconnect_is_refused() throws Exception {
        DhchapSecret hostKey = secret(32, AuthHash.SHA256);
        startTarget(new DhchapHost(hostKey, null, AuthHash.SHA256, DhGroup.FFDHE2048));
        CompletableFuture<String> dead = new CompletableFuture<>();
        ControllerListener l = on(ControllerState.DEAD, dead);
        // a short reconnect delay and a long ctrl_loss_tmo: a retrying controller would not be dead for a minute
        ControllerOptions o = new ControllerOptions().dhchapSecret(hostKey).reconnectDelay(Duration.ofMillis(20))
                .ctrlLossTimeout(Duration.ofSeconds(60));
        try (Controller c = connect(o, l)) {
            assertWorks(c);
            target.setDhchap(TargetConfig.DEMO_NQN, HOST_NQN, new DhchapHost(secret(32, AuthHash.SHA256), null,
                    AuthHash.SHA256, DhGroup.FFDHE2048));
            c.reset("test: the target's key was replaced");
            String reason = dead.get(10, TimeUnit.SECONDS);
            assertThat(reason).startsWith("authentication failed: the controller rejected the host's response");
            assertThat(c.state()).isEqualTo(ControllerState.DEAD);
        }
        long refusals = logs.text().lines()
                .filter(line -> line.contains("failed authentication on queue 0")).count();
        assertThat(refusals).as("authentication attempts the target refused").isEqualTo(1);
    }

    @Test
    void should_fail_the_connect_naming_the_step_when_the_host_key_is_wrong() throws Exception {
        startTarget(new DhchapHost(secret(32, AuthHash.SHA256), null, AuthHash.SHA256, DhGroup.FFDHE2048));
        String m = connectFailure(new ControllerOptions().dhchapSecret(secret(32, AuthHash.SHA256)));
        assertThat(m).startsWith("authentication failed: the controller rejected the host's response "
                + "(DH-HMAC-CHAP failure reason 1h, explanation 01h: authentication failed); queue 0 of "
                + TargetConfig.DEMO_NQN);
    }

    @Test
    void should_refuse_a_controller_whose_response_does_not_verify_with_the_controller_key() throws Exception {
        DhchapSecret hostKey = secret(32, AuthHash.SHA256);
        startTarget(new DhchapHost(hostKey, secret(32, AuthHash.SHA256), AuthHash.SHA384, DhGroup.NULL));
        String m = connectFailure(new ControllerOptions().dhchapSecret(hostKey)
                .dhchapCtrlSecret(secret(32, AuthHash.SHA256)));
        assertThat(m).startsWith("authentication failed: the controller's response R2 did not verify");
    }

    @Test
    void should_refuse_a_host_without_a_secret_on_a_keyed_subsystem() throws Exception {
        startTarget(new DhchapHost(secret(32, null), null, AuthHash.SHA256, DhGroup.NULL));
        String m = connectFailure(new ControllerOptions());
        assertThat(m).startsWith(
                "authentication failed: the controller requires authentication and no DH-HMAC-CHAP secret is configured");
    }

    @Test
    void should_refuse_the_negotiation_when_the_host_asks_for_controller_authentication_and_the_target_has_no_key()
            throws Exception {
        DhchapSecret hostKey = secret(32, null);
        startTarget(new DhchapHost(hostKey, null, AuthHash.SHA256, DhGroup.NULL));
        String m = connectFailure(new ControllerOptions().dhchapSecret(hostKey)
                .dhchapCtrlSecret(secret(32, null)));
        assertThat(m).startsWith("authentication failed: the controller rejected the host's response");
    }

    @Test
    void should_answer_authentication_required_to_everything_but_fabrics_commands_before_authentication()
            throws Exception {
        startTarget(new DhchapHost(secret(32, null), null, AuthHash.SHA256, DhGroup.NULL));
        try (RawHost h = new RawHost(target.port(1))) {
            h.initialize();
            h.connect(1, 0, 31, 0xFFFF, TargetConfig.DEMO_NQN, HOST_NQN);
            Pdu.CapsuleResp connected = resp(h);
            assertThat(connected.cqe().ok()).isTrue();
            assertThat(connected.cqe().dw0() & (1 << 17)).as("AUTHREQ ATR").isNotZero();
            Sqe identify = Sqe.of(Opcodes.ADMIN_IDENTIFY).cid(2).cdw(10, 1).sgl(0, 4096, Sqe.SGL_TRANSPORT_DATA_BLOCK);
            h.send(new Pdu.CapsuleCmd(identify, Unpooled.EMPTY_BUFFER));
            assertThat(resp(h).cqe().status()).isEqualTo(Status.AUTH_REQUIRED | Status.DNR);
            Sqe cap = Sqe.of(Opcodes.FABRICS).fctype(Opcodes.FCTYPE_PROPERTY_GET).cid(3).cdw(10, 1)
                    .cdw(11, Opcodes.PROP_CAP).sgl(0, 0, Sqe.SGL_TRANSPORT_DATA_BLOCK);
            h.send(new Pdu.CapsuleCmd(cap, Unpooled.EMPTY_BUFFER));
            assertThat(resp(h).cqe().ok()).as("Property Get is a Fabrics command: allowed").isTrue();
        }
    }

    @Test
    void should_not_ask_an_unkeyed_host_to_authenticate() throws Exception {
        startTarget(new DhchapHost(secret(32, null), null, AuthHash.SHA256, DhGroup.NULL));
        try (RawHost h = new RawHost(target.port(1))) {
            h.initialize();
            h.connect(1, 0, 31, 0xFFFF, TargetConfig.DEMO_NQN, "nqn.2026-12.io.nvmpath:other-host");
            Pdu.CapsuleResp connected = resp(h);
            assertThat(connected.cqe().ok()).isTrue();
            assertThat(connected.cqe().dw0() & (1 << 17)).isZero();
        }
    }

    @Test
    void should_answer_failure1_when_the_host_offers_no_hash_the_controller_would_choose() throws Exception {
        startTarget(new DhchapHost(secret(32, null), null, AuthHash.SHA256, DhGroup.NULL));
        try (RawHost h = new RawHost(target.port(1))) {
            h.initialize();
            h.connect(1, 0, 31, 0xFFFF, TargetConfig.DEMO_NQN, HOST_NQN);
            assertThat(resp(h).cqe().ok()).isTrue();
            // an out-of-order Receive first: nothing is owed, so Failure1 "incorrect protocol message"
            AuthFailure early = (AuthFailure) authReceive(h, 2);
            assertThat(early.isFailure1()).isTrue();
            assertThat(early.explanationCode()).isEqualTo(FailureExplanation.INCORRECT_MESSAGE);
            // SHA-512 only: the controller wants SHA-256; the Send succeeds, the failure comes on the Receive
            authSend(h, 3, new AuthNegotiate(7, 0, List.of(AuthHash.SHA512.id()), List.of(DhGroup.NULL.id())));
            AuthFailure f = (AuthFailure) authReceive(h, 4);
            assertThat(f.transactionId()).isEqualTo(7);
            assertThat(f.reasonCode()).isEqualTo(AuthFailure.REASON_AUTHENTICATION_FAILURE);
            assertThat(f.explanationCode()).isEqualTo(FailureExplanation.HASH_UNUSABLE);
            Sqe identify = Sqe.of(Opcodes.ADMIN_IDENTIFY).cid(5).cdw(10, 1).sgl(0, 4096, Sqe.SGL_TRANSPORT_DATA_BLOCK);
            h.send(new Pdu.CapsuleCmd(identify, Unpooled.EMPTY_BUFFER));
            assertThat(resp(h).cqe().status()).as("still unauthenticated").isEqualTo(Status.AUTH_REQUIRED | Status.DNR);
        }
        assertThat(logs.text()).contains("does not offer hmac(sha256)");
    }

    @Test
    void should_drop_a_transaction_the_host_leaves_stalled_for_120_seconds_without_kato() throws Exception {
        startTarget(new DhchapHost(secret(32, null), null, AuthHash.SHA256, DhGroup.NULL));
        try (RawHost h = new RawHost(target.port(1))) {
            h.initialize();
            h.connect(1, 0, 31, 0xFFFF, TargetConfig.DEMO_NQN, HOST_NQN); // KATO 0
            assertThat(resp(h).cqe().ok()).isTrue();
            authSend(h, 2, AuthNegotiate.offerAll(9, io.nvmpath.fabric.auth.SecureChannel.NONE));
            clock.advance(Duration.ofMillis(TargetQueue.AUTH_EXPIRY_WITHOUT_KATO_MS - 1));
            assertThat(clock.pending()).as("the expiry is still armed").isPositive();
            clock.advance(Duration.ofMillis(1));
            // the Challenge is no longer owed: the transaction was reset to Negotiate
            AuthFailure f = (AuthFailure) authReceive(h, 3);
            assertThat(f.explanationCode()).isEqualTo(FailureExplanation.INCORRECT_MESSAGE);
            // and a new transaction works from the start
            authSend(h, 4, AuthNegotiate.offerAll(10, io.nvmpath.fabric.auth.SecureChannel.NONE));
            assertThat(authReceive(h, 5)).isInstanceOf(DhchapChallenge.class);
        }
        assertThat(logs.text()).contains("did not complete authentication");
    }

    @Test
    void should_take_an_authentication_send_whose_data_comes_through_r2t() throws Exception {
        startTarget(new DhchapHost(secret(32, null), null, AuthHash.SHA384, DhGroup.FFDHE2048));
        try (RawHost h = new RawHost(target.port(1))) {
            h.initialize();
            h.connect(1, 0, 31, 0xFFFF, TargetConfig.DEMO_NQN, HOST_NQN);
            assertThat(resp(h).cqe().ok()).isTrue();
            AuthNegotiate n = AuthNegotiate.offerAll(11, io.nvmpath.fabric.auth.SecureChannel.NONE);
            Sqe sqe = Sqe.of(Opcodes.FABRICS).fctype(Opcodes.FCTYPE_AUTH_SEND).cid(2)
                    .cdw(10, (0x01 << 8) | (0x01 << 16) | (0xE9 << 24)).cdw(11, n.size())
                    .sgl(0, n.size(), Sqe.SGL_TRANSPORT_DATA_BLOCK);
            h.send(new Pdu.CapsuleCmd(sqe, Unpooled.EMPTY_BUFFER));
            Object o = h.next(WAIT);
            assertThat(o).isInstanceOf(Pdu.R2T.class);
            Pdu.R2T r2t = (Pdu.R2T) o;
            assertThat(r2t.r2tl()).isEqualTo(n.size());
            ByteBuf data = Unpooled.buffer(n.size());
            n.encode(data);
            h.send(new Pdu.H2CData(2, r2t.ttag(), 0, data, true));
            assertThat(resp(h).cqe().ok()).isTrue();
            DhchapChallenge c = (DhchapChallenge) authReceive(h, 3, 512);
            assertThat(c.transactionId()).isEqualTo(11);
            assertThat(c.hash()).isEqualTo(AuthHash.SHA384);
            assertThat(c.dhGroup()).isEqualTo(DhGroup.FFDHE2048);
            assertThat(c.dhValue()).hasSize(256);
        }
    }

    @Test
    void should_log_the_refusal_of_a_wrong_host_key_without_the_secret() throws Exception {
        startTarget(new DhchapHost(secret(32, AuthHash.SHA256), null, AuthHash.SHA256, DhGroup.NULL));
        connectFailure(new ControllerOptions().dhchapSecret(secret(32, AuthHash.SHA256)));
        // the log is captured (so the check in stop() means something) and names the reason
        assertThat(logs.text()).contains("the host's response R1 did not verify");
    }

    /**
     * Re-authentication of live queues: on demand, on the period, with rotated secrets, when the
     * controller asks; the queues carry I/O meanwhile, and a refusal ends the association as nvmet's
     * fatal error does.
     */
    @Nested
    class Reauthentication {
        private static final String NQN = TargetConfig.DEMO_NQN;
        private static final int QUEUES = 3; // the admin queue and two I/O queues

        /** Writes and reads back {@code n} blocks, all in flight at once; completes when every one checked out. */
        private CompletableFuture<Void> ioBurst(Controller c, int n, long firstLba) {
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                byte[] bytes = new byte[4096];
                RANDOM.nextBytes(bytes);
                ByteBuf w = Unpooled.wrappedBuffer(bytes);
                long lba = firstLba + 8L * i;
                all.add(c.io(Commands.write(1, lba, 8, w, false), "write").whenComplete((r, e) -> w.release())
                        .thenCompose(r -> c.io(Commands.read(1, lba, 8, 512), "read"))
                        .thenAccept(r -> {
                            ByteBuf b = r.takeReadData();
                            try {
                                assertThat(ByteBufUtil.getBytes(b)).isEqualTo(bytes);
                            } finally {
                                b.release();
                            }
                        }));
            }
            return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
        }

        private List<String> stateChanges(Controller c) {
            List<String> changes = new CopyOnWriteArrayList<>();
            c.addListener(new ControllerListener() {
                @Override
                public void stateChanged(Controller ctrl, ControllerState from, ControllerState to, String reason) {
                    changes.add(from + " -> " + to + ": " + reason);
                }
            });
            return changes;
        }

        @Test
        void should_reauthenticate_every_queue_while_io_runs_on_them() throws Exception {
            DhchapSecret hostKey = secret(48, AuthHash.SHA384);
            DhchapSecret ctrlKey = secret(32, AuthHash.SHA256);
            startTarget(new DhchapHost(hostKey, ctrlKey, AuthHash.SHA384, DhGroup.FFDHE2048));
            try (Controller c = connect(new ControllerOptions().dhchapSecret(hostKey).dhchapCtrlSecret(ctrlKey))) {
                List<String> changes = stateChanges(c);
                int cntlid = c.identity().cntlid();
                for (int round = 0; round < 3; round++) {
                    CompletableFuture<Void> io = ioBurst(c, 64, 2048L * round);
                    c.reauthenticate().get(20, TimeUnit.SECONDS);
                    io.get(20, TimeUnit.SECONDS);
                }
                assertThat(c.reauthentications()).isEqualTo(3);
                assertThat(target.reauthentications(NQN)).as("queues the target saw re-authenticate")
                        .isEqualTo(3L * QUEUES);
                assertThat(changes).as("no reconnect").isEmpty();
                assertThat(c.identity().cntlid()).isEqualTo(cntlid);
                assertWorks(c);
            }
        }

        @Test
        void should_reauthenticate_on_the_configured_period() throws Exception {
            DhchapSecret hostKey = secret(32, AuthHash.SHA256);
            startTarget(new DhchapHost(hostKey, null, AuthHash.SHA256, DhGroup.NULL));
            ManualScheduler hostClock = new ManualScheduler();
            Duration period = Duration.ofMinutes(1);
            ControllerOptions o = new ControllerOptions().dhchapSecret(hostKey).dhchapReauthPeriod(period)
                    .keepAliveTimeout(Duration.ofMinutes(10)).scheduler(hostClock);
            try (Controller c = connect(o)) {
                hostClock.awaitTaskIn(period);
                assertThat(target.reauthentications(NQN)).isZero();
                hostClock.advance(period);
                c.reauthenticate().get(20, TimeUnit.SECONDS); // joins the round the period started
                assertThat(target.reauthentications(NQN)).isGreaterThanOrEqualTo(QUEUES);
                hostClock.awaitTaskIn(period);
                hostClock.advance(period);
                c.reauthenticate().get(20, TimeUnit.SECONDS);
                assertThat(target.reauthentications(NQN)).isGreaterThanOrEqualTo(2L * QUEUES);
                assertWorks(c);
            }
        }

        @Test
        void should_rotate_both_secrets_on_a_live_controller_without_reconnecting() throws Exception {
            DhchapSecret oldHost = secret(32, AuthHash.SHA256);
            DhchapSecret oldCtrl = secret(32, AuthHash.SHA256);
            startTarget(new DhchapHost(oldHost, oldCtrl, AuthHash.SHA256, DhGroup.FFDHE2048));
            try (Controller c = connect(new ControllerOptions().dhchapSecret(oldHost).dhchapCtrlSecret(oldCtrl))) {
                List<String> changes = stateChanges(c);
                DhchapSecret newHost = secret(64, AuthHash.SHA512);
                DhchapSecret newCtrl = secret(48, AuthHash.SHA384);
                target.setDhchap(NQN, HOST_NQN, new DhchapHost(newHost, newCtrl, AuthHash.SHA256, DhGroup.FFDHE2048));
                CompletableFuture<Void> io = ioBurst(c, 64, 0);
                c.reauthenticate(newHost, newCtrl).get(20, TimeUnit.SECONDS);
                io.get(20, TimeUnit.SECONDS);
                assertThat(changes).as("no reconnect").isEmpty();
                assertThat(target.reauthentications(NQN)).isEqualTo(QUEUES);
                // the next connect uses the rotated secrets too
                CompletableFuture<String> live = nextLive(c);
                c.reset("test: reconnect with the rotated secrets");
                live.get(20, TimeUnit.SECONDS);
                assertWorks(c);
            }
        }

        @Test
        void should_end_the_association_when_the_controller_refuses_the_reauthentication() throws Exception {
            DhchapSecret hostKey = secret(32, AuthHash.SHA256);
            startTarget(new DhchapHost(hostKey, null, AuthHash.SHA256, DhGroup.NULL));
            CompletableFuture<String> dead = new CompletableFuture<>();
            ControllerListener l = on(ControllerState.DEAD, dead);
            try (Controller c = connect(new ControllerOptions().dhchapSecret(hostKey)
                    .reconnectDelay(Duration.ofMillis(20)).ctrlLossTimeout(Duration.ofSeconds(60)), l)) {
                target.setDhchap(NQN, HOST_NQN, new DhchapHost(secret(32, AuthHash.SHA256), null, AuthHash.SHA256,
                        DhGroup.NULL));
                assertThatThrownBy(() -> c.reauthenticate().get(20, TimeUnit.SECONDS))
                        .cause().isInstanceOf(AuthenticationException.class)
                        .hasMessageStartingWith("re-authentication failed: the controller rejected the host's response")
                        .hasMessageContaining("queue 0 of " + NQN);
                assertThat(c.reauthenticationFailures()).isEqualTo(1);
                // the target ends the association (nvmet_ctrl_fatal_error); the reconnect meets the same refusal
                assertThat(dead.get(20, TimeUnit.SECONDS))
                        .startsWith("authentication failed: the controller rejected the host's response");
            }
            assertThat(logs.text()).contains("failed re-authentication on queue 0")
                    .contains("re-authentication of host " + HOST_NQN + " failed on queue 0");
        }

        @Test
        void should_authenticate_again_and_resend_when_the_controller_withdraws_the_authentication() throws Exception {
            DhchapSecret hostKey = secret(32, AuthHash.SHA256);
            DhchapSecret ctrlKey = secret(32, AuthHash.SHA256);
            startTarget(new DhchapHost(hostKey, ctrlKey, AuthHash.SHA256, DhGroup.FFDHE2048));
            try (Controller c = connect(new ControllerOptions().dhchapSecret(hostKey).dhchapCtrlSecret(ctrlKey))) {
                List<String> changes = stateChanges(c);
                assertWorks(c);
                target.withdrawAuthentication(NQN, HOST_NQN);
                // every command the controller refuses with Authentication Required waits for the queue to
                // authenticate again and is sent once more: the caller sees only successes
                ioBurst(c, 64, 0).get(20, TimeUnit.SECONDS);
                assertThat(c.activeNamespaces().get(5, TimeUnit.SECONDS)).containsExactly(1);
                assertThat(target.reauthentications(NQN)).isEqualTo(QUEUES);
                assertThat(changes).as("no reconnect").isEmpty();
            }
            assertThat(logs.text()).contains("the controller answered Authentication Required");
        }

        @Test
        void should_keep_serving_a_queue_while_its_reauthentication_is_under_way() throws Exception {
            DhchapSecret key = secret(32, null);
            startTarget(new DhchapHost(key, null, AuthHash.SHA256, DhGroup.NULL));
            try (RawHost h = new RawHost(target.port(1))) {
                h.initialize();
                h.connect(1, 0, 31, 0xFFFF, NQN, HOST_NQN);
                assertThat(resp(h).cqe().ok()).isTrue();
                authenticate(h, key, 2, 10);
                Sqe enable = Sqe.of(Opcodes.FABRICS).fctype(Opcodes.FCTYPE_PROPERTY_SET).cid(6).cdw(10, 0)
                        .cdw(11, Opcodes.PROP_CC).cdw(12, 1 | (6 << 16) | (4 << 20))
                        .sgl(0, 0, Sqe.SGL_TRANSPORT_DATA_BLOCK);
                h.send(new Pdu.CapsuleCmd(enable, Unpooled.EMPTY_BUFFER));
                assertThat(resp(h).cqe().ok()).as("CC.EN").isTrue();
                // a new AUTH_Negotiate begins a re-authentication; an Identify sent before it completes is
                // served (nvmet keeps sq->authenticated), not refused with Authentication Required
                authSend(h, 20, new AuthNegotiate(11, 0, List.of(AuthHash.SHA256.id()), List.of(DhGroup.NULL.id())));
                Sqe identify = Sqe.of(Opcodes.ADMIN_IDENTIFY).cid(21).cdw(10, 1)
                        .sgl(0, 4096, Sqe.SGL_TRANSPORT_DATA_BLOCK);
                h.send(new Pdu.CapsuleCmd(identify, Unpooled.EMPTY_BUFFER));
                Object data = h.next(WAIT);
                assertThat(data).as("Identify data mid re-authentication").isInstanceOf(Pdu.C2HData.class);
                ((Pdu.C2HData) data).data().release();
                assertThat(resp(h).cqe().ok()).isTrue();
                finish(h, key, 22, 11);
                assertThat(target.reauthentications(NQN)).isEqualTo(1);
            }
        }

        /** Negotiate, Challenge, Reply, Success1 at the wire (unidirectional, null DH group), from {@code cid}. */
        private void authenticate(RawHost h, DhchapSecret key, int cid, int tid) throws Exception {
            authSend(h, cid, new AuthNegotiate(tid, 0, List.of(AuthHash.SHA256.id()), List.of(DhGroup.NULL.id())));
            finish(h, key, cid + 1, tid);
        }

        /** Challenge, Reply, Success1 of transaction {@code tid}. */
        private void finish(RawHost h, DhchapSecret key, int cid, int tid) throws Exception {
            DhchapChallenge ch = (DhchapChallenge) authReceive(h, cid);
            byte[] r1 = DhchapResponse.host(AuthHash.SHA256, key.transformedKey(HOST_NQN),
                    ch.challenge(), ch.seqnum(), tid, 0, HOST_NQN, NQN);
            authSend(h, cid + 1, new DhchapReply(tid, r1, null, 0, new byte[0]));
            assertThat(authReceive(h, cid + 2)).isInstanceOf(DhchapSuccess1.class);
        }
    }

    /** Completes {@code f} with the reason when a controller enters {@code state}. */
    private static ControllerListener on(ControllerState state, CompletableFuture<String> f) {
        return new ControllerListener() {
            @Override
            public void stateChanged(Controller c, ControllerState from, ControllerState to, String reason) {
                if (to == state) {
                    f.complete(reason);
                }
            }
        };
    }

    /** Completes when {@code c} next becomes LIVE (after a reset the caller is about to make). */
    private static CompletableFuture<String> nextLive(Controller c) {
        CompletableFuture<String> live = new CompletableFuture<>();
        c.addListener(on(ControllerState.LIVE, live));
        return live;
    }

    private static void authSend(RawHost h, int cid, AuthMessage m) throws Exception {
        ByteBuf data = Unpooled.buffer(m.size());
        m.encode(data);
        Sqe sqe = Sqe.of(Opcodes.FABRICS).fctype(Opcodes.FCTYPE_AUTH_SEND).cid(cid)
                .cdw(10, (0x01 << 8) | (0x01 << 16) | (0xE9 << 24)).cdw(11, m.size())
                .sgl(0, m.size(), Sqe.SGL_DATA_BLOCK_OFFSET);
        h.send(new Pdu.CapsuleCmd(sqe, data));
        assertThat(resp(h).cqe().ok()).isTrue();
    }

    private static AuthMessage authReceive(RawHost h, int cid) throws Exception {
        return authReceive(h, cid, 256);
    }

    private static AuthMessage authReceive(RawHost h, int cid, int al) throws Exception {
        Sqe sqe = Sqe.of(Opcodes.FABRICS).fctype(Opcodes.FCTYPE_AUTH_RECV).cid(cid)
                .cdw(10, (0x01 << 8) | (0x01 << 16) | (0xE9 << 24)).cdw(11, al)
                .sgl(0, al, Sqe.SGL_TRANSPORT_DATA_BLOCK);
        h.send(new Pdu.CapsuleCmd(sqe, Unpooled.EMPTY_BUFFER));
        Object o = h.next(WAIT);
        assertThat(o).isInstanceOf(Pdu.C2HData.class);
        Pdu.C2HData d = (Pdu.C2HData) o;
        try {
            assertThat(d.data().readableBytes()).as("AL bytes, zero-filled").isEqualTo(al);
            AuthMessage m = AuthMessage.decode(d.data());
            assertThat(resp(h).cqe().ok()).isTrue();
            return m;
        } finally {
            d.data().release();
        }
    }

    private static Pdu.CapsuleResp resp(RawHost h) throws Exception {
        Object o = h.next(WAIT);
        assertThat(o).isInstanceOf(Pdu.CapsuleResp.class);
        return (Pdu.CapsuleResp) o;
    }

    /** Writes to two streams. */
}
