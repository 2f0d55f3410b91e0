package io.nvmpath.it.target;

import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.DhGroup;
import io.nvmpath.fabric.auth.DhchapSecret;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.testing.Await;
import io.nvmpath.it.guest.GuestFlavour;
import io.nvmpath.it.guest.KernelHostGuest;
import io.nvmpath.it.guest.KernelHostGuest.PathInfo;
import io.nvmpath.it.guest.KernelHostGuest.Result;
import io.nvmpath.it.guest.Peers;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import io.nvmpath.target.config.TargetConfig.DhchapHost;
import io.nvmpath.target.config.TargetConfig.ListenConfig;
import io.nvmpath.target.config.TargetConfig.NamespaceConfig;
import io.nvmpath.target.config.TargetConfig.PortConfig;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The project's target authenticates the Linux 6.12 NVMe/TCP host (nvme-cli 2.13's
 * {@code nvme connect --dhchap-secret --dhchap-ctrl-secret}) in the trixie guest: a subsystem
 * that allows two hosts, each with its own secret, one of them also with a controller secret
 * (bidirectional), SHA-384 and ffdhe2048 for it, SHA-256 and the null group for the other. The
 * kernel authenticates the admin queue and every I/O queue of both paths, runs native multipath
 * over them, and fio verifies across an ANA flip; wrong or missing secrets are refused.
 * Skipped without the trixie guest, failed instead with -Dnvmpath.it.requirePeers=true (as on CI).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 600, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class KernelHostDhchapAgainstOwnTargetIT {
    private static final String NQN = "nqn.2026-12.io.nvmpath:it-dhchap-target";
    /** The second allowed host: the guest connects as it with --hostnqn/--hostid. */
    private static final String UNI_HOST_NQN = "nqn.2026-12.io.nvmpath.test:kernel-host-unidirectional";
    private static final String UNI_HOST_ID = "6e766d70-686f-4000-8000-0000000000a2";
    private static final long SIZE = 128L << 20;
    private static final Duration FIO = Duration.ofSeconds(240);
    private static final SecureRandom RANDOM = new SecureRandom();

    private static final DhchapSecret HOST_KEY = DhchapSecret.generate(48, AuthHash.SHA384, RANDOM);
    private static final DhchapSecret CTRL_KEY = DhchapSecret.generate(48, AuthHash.SHA384, RANDOM);
    private static final DhchapSecret UNI_KEY = DhchapSecret.generate(32, null, RANDOM);
    /** The host key the target and then the kernel rotate to, and one the target never holds. */
    private static final DhchapSecret ROTATED_KEY = DhchapSecret.generate(48, AuthHash.SHA384, RANDOM);
    private static final DhchapSecret UNKNOWN_KEY = DhchapSecret.generate(48, AuthHash.SHA384, RANDOM);

    private static NvmeTarget target;
    private static KernelHostGuest host;
    private static int p1;
    private static int p2;

    @BeforeAll
    static void start() throws Exception {
        if (Peers.guestUnavailableReason(GuestFlavour.TRIXIE).isPresent()) {
            return; // each test then skips, or fails on CI, with the reason
        }
        Map<String, DhchapHost> keys = Map.of(
                KernelHostGuest.HOST_NQN, new DhchapHost(HOST_KEY, CTRL_KEY, AuthHash.SHA384, DhGroup.FFDHE2048),
                UNI_HOST_NQN, new DhchapHost(UNI_KEY, null, AuthHash.SHA256, DhGroup.NULL));
        SubsystemConfig sub = new SubsystemConfig(NQN, "NVMPATHAUTH01", "nvmpath dhchap it", "0.1", false,
                List.of(KernelHostGuest.HOST_NQN, UNI_HOST_NQN),
                List.of(new NamespaceConfig(1, SIZE, null, 512, 1, null, null, null, false))).withDhchap(keys);
        PortConfig a = new PortConfig(1, "127.0.0.1", 0, KernelHostGuest.TARGET_ADDRESS, List.of(NQN),
                Map.of(1, AnaState.OPTIMIZED));
        PortConfig b = new PortConfig(2, "127.0.0.1", 0, KernelHostGuest.TARGET_ADDRESS, List.of(NQN),
                Map.of(1, AnaState.NON_OPTIMIZED));
        target = NvmeTarget.start(new TargetConfig(List.of(sub), List.of(a, b), new ListenConfig("127.0.0.1", 0),
                null, null, 10));
        p1 = target.port(1);
        p2 = target.port(2);
        Map<Integer, Integer> fwd = new HashMap<>();
        fwd.put(p1, p1);
        fwd.put(p2, p2);
        host = KernelHostGuest.start("kernel-6.12-host-dhchap-vs-nvmpath-target", fwd, KernelHostGuest.READY_TIMEOUT,
                GuestFlavour.TRIXIE);
    }

    @BeforeEach
    void needsTheGuest() {
        Peers.assumeTrixieGuest();
    }

    @AfterAll
    static void stop() {
        if (host != null) {
            host.close();
        }
        if (target != null) {
            target.close();
        }
    }

    private static PathInfo path(List<PathInfo> paths, int port) {
        return paths.stream().filter(p -> p.guestPort() == port).findFirst()
                .orElseThrow(() -> new AssertionError("no path through port " + port + ": " + paths));
    }

    private static String[] bidirectional() {
        return new String[] {"--dhchap-secret=" + HOST_KEY.format(), "--dhchap-ctrl-secret=" + CTRL_KEY.format(),
                "--reconnect-delay=1", "--ctrl-loss-tmo=60"};
    }

    @Test
    @Order(1)
    void a_host_without_its_secret_is_refused() {
        Result r = host.nvmeConnect(p1, NQN);
        System.out.println("connect without a secret: rc=" + r.rc() + "\n" + r.output());
        assertThat(r.rc()).as("connect without --dhchap-secret").isNotZero();
        // Linux 6.12 says so in its log: the controller asked for authentication, the host has no key
        assertThat(r.output()).contains("qid 0: no key");
        assertThat(host.paths()).isEmpty();
    }

    @Test
    @Order(2)
    void a_host_with_a_wrong_secret_is_refused() {
        DhchapSecret wrong = DhchapSecret.generate(48, AuthHash.SHA384, RANDOM);
        Result r = host.nvmeConnect(p1, NQN, "--dhchap-secret=" + wrong.format());
        System.out.println("connect with a wrong secret: rc=" + r.rc() + "\n" + r.output().replace(wrong.format(), "<secret>"));
        assertThat(r.rc()).as("connect with a wrong --dhchap-secret").isNotZero();
        assertThat(r.output()).containsIgnoringCase("authentication failed");
        assertThat(host.paths()).isEmpty();
    }

    @Test
    @Order(3)
    void a_host_expecting_another_controller_secret_refuses_the_target() {
        DhchapSecret notOurs = DhchapSecret.generate(48, AuthHash.SHA384, RANDOM);
        Result r = host.nvmeConnect(p1, NQN, "--dhchap-secret=" + HOST_KEY.format(), "--dhchap-ctrl-secret=" + notOurs.format());
        System.out.println("connect expecting another controller secret: rc=" + r.rc());
        assertThat(r.rc()).as("the kernel host must not accept a controller that cannot prove the controller secret")
                .isNotZero();
        assertThat(host.paths()).isEmpty();
    }

    @Test
    @Order(4)
    void the_unidirectional_host_authenticates_with_sha256_and_no_dh_and_writes() {
        host.nvmeConnect(p1, NQN, "--hostnqn=" + UNI_HOST_NQN, "--hostid=" + UNI_HOST_ID, "--dhchap-secret=" + UNI_KEY.format())
                .requireOk("connect as the unidirectional host");
        try {
            List<PathInfo> paths = host.awaitPaths(ps -> ps.size() == 1 && ps.get(0).controllerState().equals("live"),
                    Duration.ofSeconds(30));
            String dev = head(paths.get(0).path());
            Result r = host.sh("fio --name=uni --filename=" + dev + " --rw=randwrite --bs=4k --iodepth=8"
                    + " --ioengine=libaio --direct=1 --size=4m --verify=crc32c --do_verify=1 --output-format=normal", FIO);
            assertFioClean(r);
        } finally {
            host.disconnectAll().requireOk("disconnect-all");
            host.awaitPaths(List::isEmpty, Duration.ofSeconds(30));
        }
    }

    @Test
    @Order(5)
    void two_bidirectionally_authenticated_paths_make_one_head() {
        host.nvmeConnect(p1, NQN, bidirectional()).requireOk("connect port 1");
        host.nvmeConnect(p2, NQN, bidirectional()).requireOk("connect port 2");
        List<PathInfo> paths = host.awaitPaths(ps -> ps.size() == 2
                && ps.stream().allMatch(p -> p.controllerState().equals("live")), Duration.ofSeconds(30));
        assertThat(path(paths, p1).anaState()).isEqualTo("optimized");
        assertThat(path(paths, p2).anaState()).isEqualTo("non-optimized");
        // the kernel keeps what it authenticated with, per controller
        // the kernel keeps the secrets it authenticated with, per controller (shown as yes/no only)
        String queues = host.shOk("for c in /sys/class/nvme/nvme*; do echo \"${c##*/}"
                + " auth=$(grep -q DHHC-1 $c/dhchap_secret && echo yes || echo no)"
                + " ctrl_auth=$(grep -q DHHC-1 $c/dhchap_ctrl_secret && echo yes || echo no)\"; done",
                KernelHostGuest.NVME_TIMEOUT);
        System.out.println("controllers:\n" + queues);
        assertThat(queues.lines().filter(l -> l.contains("auth=yes ctrl_auth=yes")).count()).isEqualTo(2);
    }

    @Test
    @Order(6)
    void fio_verifies_across_an_ana_flip_between_the_authenticated_paths() {
        String opt = path(host.paths(), p1).path();
        String nonopt = path(host.paths(), p2).path();
        Map<String, Long> before = host.iosPerPath();
        host.bg("flip", fio("flip", head(opt), "12m"));
        host.awaitIos(opt, before.get(opt) + 256, "fio writing through the optimized path");
        target.setAnaState(1, 1, AnaState.INACCESSIBLE);
        host.awaitPaths(ps -> path(ps, p1).anaState().equals("inaccessible"), Duration.ofSeconds(20));
        Map<String, Long> during = host.iosPerPath();
        host.awaitIos(nonopt, during.get(nonopt) + 256, "I/O moving to the non-optimized path");
        target.setAnaState(1, 1, AnaState.OPTIMIZED);
        host.awaitPaths(ps -> path(ps, p1).anaState().equals("optimized"), Duration.ofSeconds(20));
        assertFioClean(host.await("flip", FIO));
        Map<String, Long> after = host.iosPerPath();
        System.out.printf("ANA flip over authenticated paths: I/Os via %s %d, via %s %d%n", opt,
                after.get(opt) - before.get(opt), nonopt, after.get(nonopt) - before.get(nonopt));
    }

    /**
     * A rotated host key: the target takes it, then the kernel's {@code dhchap_secret} of each controller
     * is written (nvme-cli's way to rotate, {@code nvme_ctrl_dhchap_secret_store}), which re-authenticates
     * every queue of both paths while fio writes and verifies — no reconnect, the same controllers.
     */
    @Test
    @Order(7)
    void the_kernel_reauthenticates_both_paths_with_a_rotated_secret_while_fio_verifies() {
        String opt = path(host.paths(), p1).path();
        List<String> controllers = host.paths().stream().map(PathInfo::controller).sorted().toList();
        long before = target.reauthentications(NQN);
        Map<String, Long> ios = host.iosPerPath();
        host.bg("reauth", fio("reauth", head(opt), "12m"));
        host.awaitIos(opt, ios.get(opt) + 256, "fio writing through the optimized path");
        target.setDhchap(NQN, KernelHostGuest.HOST_NQN,
                new DhchapHost(ROTATED_KEY, CTRL_KEY, AuthHash.SHA384, DhGroup.FFDHE2048));
        for (String c : controllers) {
            host.shOk("echo '" + ROTATED_KEY.format() + "' > /sys/class/nvme/" + c + "/dhchap_secret",
                    KernelHostGuest.NVME_TIMEOUT);
        }
        // the admin queue and at least one I/O queue of each of the two controllers
        Await.until("the kernel re-authenticating both controllers' queues",
                () -> target.reauthentications(NQN) >= before + 4, Duration.ofSeconds(60));
        assertFioClean(host.await("reauth", FIO));
        List<PathInfo> after = host.paths();
        assertThat(after.stream().map(PathInfo::controller).sorted().toList()).as("the same controllers")
                .isEqualTo(controllers);
        assertThat(after).allMatch(p -> p.controllerState().equals("live"));
        System.out.printf("re-authentications the target saw: %d%n", target.reauthentications(NQN) - before);
        String klog = host.shOk("dmesg | grep -c 're-authenticating controller' || true", KernelHostGuest.NVME_TIMEOUT);
        System.out.println("kernel 're-authenticating controller' lines: " + klog.strip());
    }

    /**
     * A key the target does not hold: the kernel's re-authentication is refused, the target ends the
     * association (as nvmet's fatal error), and the kernel's reconnects are refused too until the
     * right key is written back — then the path is live again.
     */
    @Test
    @Order(8)
    void a_reauthentication_the_target_refuses_ends_the_association_until_the_key_is_right_again() {
        PathInfo p = path(host.paths(), p2);
        host.shOk("echo '" + UNKNOWN_KEY.format() + "' > /sys/class/nvme/" + p.controller() + "/dhchap_secret",
                KernelHostGuest.NVME_TIMEOUT);
        host.awaitPaths(ps -> ps.stream().anyMatch(x -> x.controller().equals(p.controller())
                && !x.controllerState().equals("live")), Duration.ofSeconds(30));
        host.shOk("echo '" + ROTATED_KEY.format() + "' > /sys/class/nvme/" + p.controller() + "/dhchap_secret",
                KernelHostGuest.NVME_TIMEOUT);
        host.awaitPaths(ps -> ps.size() == 2 && ps.stream().allMatch(x -> x.controllerState().equals("live")),
                Duration.ofSeconds(60));
    }

    @AfterEach
    void noSecretInTheGuestLog() throws Exception {
        if (host == null) {
            return;
        }
        String log = java.nio.file.Files.readString(host.vm().logFile());
        for (DhchapSecret s : List.of(HOST_KEY, CTRL_KEY, UNI_KEY, ROTATED_KEY, UNKNOWN_KEY)) {
            assertThat(log).as("the guest's console log").doesNotContain(s.format());
        }
    }

    // ---- helpers -------------------------------------------------------------------------------

    /** The multipath head of a path device: nvme0c1n1 -> /dev/nvme0n1. */
    private static String head(String pathDevice) {
        return "/dev/" + pathDevice.replaceAll("c\\d+n", "n");
    }

    private static String fio(String name, String device, String size) {
        return "fio --name=" + name + " --filename=" + device + " --rw=randwrite --bs=4k --iodepth=16"
                + " --ioengine=libaio --direct=1 --size=" + size + " --verify=crc32c --do_verify=1"
                + " --runtime=200 --output-format=normal";
    }

    private static void assertFioClean(Result r) {
        assertThat(r.rc()).as(r.output()).isZero();
        assertThat(r.output()).contains("err= 0");
        assertThat(r.output()).doesNotContain("verify:").doesNotContain("bad magic");
    }
}
