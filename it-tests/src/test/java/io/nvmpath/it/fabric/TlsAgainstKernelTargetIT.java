package io.nvmpath.it.fabric;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.TlsPsk;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.it.guest.GuestFlavour;
import io.nvmpath.it.guest.NvmetGuest;
import io.nvmpath.it.guest.Peers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * The project's host over NVMe/TCP TLS to the Linux 6.12 kernel target in the trixie guest: nvmet
 * port 1 with {@code addr_tsas=tls1.3}, the host's configured PSK inserted into the guest's
 * {@code .nvme} keyring by nvme-cli 2.13 ({@code check-tls-key --insert}), tlshd doing the target's
 * handshakes. The host derives the same identity and TLS PSK from the same configured PSK, so the
 * handshake completing proves the derivation against nvme-cli, the kernel and tlshd (GnuTLS). Skipped
 * without the trixie guest, failed instead with -Dnvmpath.it.requirePeers=true (as on CI).
 */
@Timeout(value = 600, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TlsAgainstKernelTargetIT {
    private static final String HOST_NQN = "nqn.2026-12.io.nvmpath.test:tls-host";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static NvmetGuest target;
    private static EventLoopGroup group;
    private static TlsPsk psk;
    private static String portState;

    @BeforeAll
    static void boot() throws Exception {
        if (Peers.guestUnavailableReason(GuestFlavour.TRIXIE).isPresent()) {
            return;
        }
        target = NvmetGuest.start("tls-host-vs-nvmet-6.12", NvmetGuest.READY_TIMEOUT, GuestFlavour.TRIXIE);
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        byte[] key = new byte[32];
        RANDOM.nextBytes(key);
        psk = TlsPsk.of(key, AuthHash.SHA256); // NVMeTLSkey-1:01:..., as nvme gen-tls-key prints
        portState = target.portTls(1, HOST_NQN, psk.format());
    }

    @BeforeEach
    void needsTheGuest() {
        Peers.assumeTrixieGuest();
    }

    @AfterAll
    static void shutdown() throws Exception {
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).sync();
        }
        if (target != null) {
            target.close();
        }
    }

    private static Controller connect(int port, ControllerOptions o) throws Exception {
        return Controller.connect(new TransportAddress(target.address(), target.port(port)), target.subsystemNqn(),
                o.hostNqn(HOST_NQN).ioQueues(2).connectTimeout(Duration.ofSeconds(20)), group).get(60, TimeUnit.SECONDS);
    }

    @Test
    void nvmet_requires_tls_1_3_on_the_port() {
        assertThat(portState).contains("tsas=tls1.3").contains("treq=required");
    }

    @Test
    void writes_and_reads_back_64_MiB_over_tls_with_digests() throws Exception {
        try (Controller c = connect(1, new ControllerOptions().tlsPsk(psk).headerDigest(true).dataDigest(true))) {
            assertThat(c.identity().subnqn()).isEqualTo(target.subsystemNqn());
            assertThat(c.dataDigest()).isTrue();
            long t0 = System.nanoTime();
            String sums = writeReadBack(c, 64L << 20, 256, 131072);
            System.out.printf("64 MiB over TLS with digests: %.1f s write+read, sha256 %s%n",
                    (System.nanoTime() - t0) / 1e9, sums);
        }
    }

    /**
     * A 48-byte PSK ({@code NVMeTLSkey-1:02:}, identity {@code NVMe0R02}) on port 2 for a second host:
     * tlshd runs it with the SHA-256 handshake, and so does this host.
     */
    @Test
    void connects_over_tls_with_a_sha_384_psk() throws Exception {
        byte[] key = new byte[48];
        RANDOM.nextBytes(key);
        TlsPsk psk384 = TlsPsk.of(key, AuthHash.SHA384);
        String host384 = HOST_NQN + "-384";
        target.portTls(2, host384, psk384.format());
        try (Controller c = Controller.connect(new TransportAddress(target.address(), target.port(2)),
                target.subsystemNqn(), new ControllerOptions().hostNqn(host384).tlsPsk(psk384)
                        .connectTimeout(Duration.ofSeconds(20)), group).get(60, TimeUnit.SECONDS)) {
            writeReadBack(c, 4L << 20, 64, 300000);
        }
    }

    @Test
    void a_host_with_another_psk_is_refused_in_the_handshake() throws Exception {
        byte[] other = new byte[32];
        RANDOM.nextBytes(other);
        Throwable t = catchThrowable(() -> connect(1, new ControllerOptions().tlsPsk(TlsPsk.of(other, AuthHash.SHA256))
                .connectTimeout(Duration.ofSeconds(10))));
        assertThat(t).isInstanceOf(ExecutionException.class);
        System.out.println("another PSK: " + t.getCause().getMessage());
        assertThat(t.getCause().getMessage()).doesNotContain(psk.format().split(":")[2]);
    }

    @Test
    void a_host_without_tls_is_refused_by_the_tls_port_and_served_by_the_plain_one() throws Exception {
        Throwable t = catchThrowable(() -> connect(1, new ControllerOptions().connectTimeout(Duration.ofSeconds(10))));
        assertThat(t).isInstanceOf(ExecutionException.class);
        System.out.println("plain TCP to the TLS port: " + t.getCause().getMessage());
        try (Controller c = connect(2, new ControllerOptions())) {
            assertThat(c.identity().subnqn()).isEqualTo(target.subsystemNqn());
        }
    }

    /** Writes random data from {@code baseLba} in {@code blocks}-block writes, reads it back, compares SHA-256. */
    private static String writeReadBack(Controller c, long bytes, int blocks, long baseLba) throws Exception {
        int count = (int) (bytes / (blocks * 512L));
        Random rnd = new Random(baseLba);
        MessageDigest written = MessageDigest.getInstance("SHA-256");
        ArrayDeque<CompletableFuture<?>> window = new ArrayDeque<>();
        for (int i = 0; i < count; i++) {
            byte[] chunk = new byte[blocks * 512];
            rnd.nextBytes(chunk);
            written.update(chunk);
            ByteBuf data = PooledByteBufAllocator.DEFAULT.directBuffer(chunk.length).writeBytes(chunk);
            window.add(c.io(Commands.write(1, baseLba + (long) i * blocks, blocks, data, false), "write")
                    .whenComplete((r, e) -> data.release()));
            if (window.size() == 16) {
                window.removeFirst().get(60, TimeUnit.SECONDS);
            }
        }
        while (!window.isEmpty()) {
            window.removeFirst().get(60, TimeUnit.SECONDS);
        }
        MessageDigest readBack = MessageDigest.getInstance("SHA-256");
        for (int i = 0; i < count; i++) { // in order, one at a time: the digest needs the order
            ByteBuf b = c.io(Commands.read(1, baseLba + (long) i * blocks, blocks, 512), "read").get(60, TimeUnit.SECONDS)
                    .takeReadData();
            byte[] chunk = new byte[b.readableBytes()];
            b.getBytes(b.readerIndex(), chunk);
            b.release();
            readBack.update(chunk);
        }
        String w = HexFormat.of().formatHex(written.digest());
        assertThat(HexFormat.of().formatHex(readBack.digest())).as("SHA-256 of %d bytes read back", bytes).isEqualTo(w);
        return w;
    }
}
