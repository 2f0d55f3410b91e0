package io.nvmpath.it.target;

import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.DhGroup;
import io.nvmpath.fabric.auth.DhchapSecret;
import io.nvmpath.fabric.auth.TlsPsk;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.testing.LogCapture;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Linux 6.12's NVMe/TCP host over TLS to the project's target (trixie guest): the configured PSK is
 * inserted into the guest's {@code .nvme} keyring with nvme-cli 2.13's {@code check-tls-key --insert},
 * tlshd does the host's handshakes, {@code nvme connect --tls} (with DH-HMAC-CHAP on top) makes two
 * paths under native multipath, and fio verifies across an ANA flip. The target binds the TLS session
 * to its identity: a Connect for another host NQN over a session made with this host's PSK is refused.
 * Skipped without the trixie guest, failed instead with -Dnvmpath.it.requirePeers=true (as on CI).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 600, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class KernelHostTlsAgainstOwnTargetIT {
    private static final String NQN = "nqn.2026-12.io.nvmpath:it-tls-target";
    private static final String OTHER_HOST_NQN = "nqn.2026-12.io.nvmpath.test:another-host";
    private static final String OTHER_HOST_ID = "6e766d70-686f-4000-8000-0000000000b3";
    private static final Duration FIO = Duration.ofSeconds(240);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final TlsPsk PSK = newPsk();
    private static final DhchapSecret HOST_KEY = DhchapSecret.generate(32, AuthHash.SHA256, RANDOM);

    private static NvmeTarget target;
    private static KernelHostGuest host;
    private static LogCapture logs;
    private static int p1;
    private static int p2;
    private static String keySerial;

    private static TlsPsk newPsk() {
        // 32 bytes (NVMeTLSkey-1:01:): with a 48-byte PSK tlshd 1.0 as client offers only SHA-384 suites
        // while it binds the PSK with SHA-256, which no server can complete (see PskSuites.acceptable)
        byte[] k = new byte[32];
        RANDOM.nextBytes(k);
        return TlsPsk.of(k, AuthHash.SHA256);
    }

    @BeforeAll
    static void start() throws Exception {
        if (Peers.guestUnavailableReason(GuestFlavour.TRIXIE).isPresent()) {
            return;
        }
        logs = LogCapture.start();
        SubsystemConfig sub = new SubsystemConfig(NQN, "NVMPATHTLS01", "nvmpath tls it", "0.1", false,
                List.of(KernelHostGuest.HOST_NQN, OTHER_HOST_NQN),
                List.of(new NamespaceConfig(1, 128L << 20, null, 512, 1, null, null, null, false)))
                .withDhchap(Map.of(KernelHostGuest.HOST_NQN, new DhchapHost(HOST_KEY, null, AuthHash.SHA256, DhGroup.FFDHE2048)));
        PortConfig a = new PortConfig(1, "127.0.0.1", 0, KernelHostGuest.TARGET_ADDRESS, List.of(NQN),
                Map.of(1, AnaState.OPTIMIZED)).withTls(PSK);
        PortConfig b = new PortConfig(2, "127.0.0.1", 0, KernelHostGuest.TARGET_ADDRESS, List.of(NQN),
                Map.of(1, AnaState.NON_OPTIMIZED)).withTls(PSK);
        target = NvmeTarget.start(new TargetConfig(List.of(sub), List.of(a, b), new ListenConfig("127.0.0.1", 0),
                null, null, 10));
        p1 = target.port(1);
        p2 = target.port(2);
        Map<Integer, Integer> fwd = new HashMap<>();
        fwd.put(p1, p1);
        fwd.put(p2, p2);
        fwd.put(target.discoveryPort(), target.discoveryPort());
        host = KernelHostGuest.start("kernel-6.12-host-tls-vs-nvmpath-target", fwd, KernelHostGuest.READY_TIMEOUT,
                GuestFlavour.TRIXIE);
        // the host's key, as an operator inserts it, and the handshake daemon
        String inserted = host.shOk("/usr/sbin/nvme check-tls-key --keydata=" + PSK.format() + " --hostnqn="
                + KernelHostGuest.HOST_NQN + " --subsysnqn=" + NQN + " --insert", KernelHostGuest.NVME_TIMEOUT);
        System.out.println("nvme check-tls-key --insert: " + inserted.replace(PSK.format(), "<key>").strip());
        Matcher m = Pattern.compile("(?i)inserted TLS key ([0-9a-f]+)").matcher(inserted);
        assertThat(m.find()).as("check-tls-key printed the key's serial: %s", inserted).isTrue();
        keySerial = m.group(1);
        host.shOk("printf '[debug]\\nloglevel=0\\n[authenticate]\\nkeyrings=.nvme\\n' > /etc/tlshd.conf",
                KernelHostGuest.NVME_TIMEOUT);
        host.bg("tlshd", "/usr/sbin/tlshd -s -c /etc/tlshd.conf");
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
        if (logs != null) {
            logs.close();
            assertThat(logs.text()).doesNotContain(PSK.format().split(":")[2]).doesNotContain(HOST_KEY.format());
        }
    }

    private static PathInfo path(List<PathInfo> paths, int port) {
        return paths.stream().filter(p -> p.guestPort() == port).findFirst()
                .orElseThrow(() -> new AssertionError("no path through port " + port + ": " + paths));
    }

    @Test
    @Order(0)
    void nvme_discover_shows_both_ports_take_only_tls_1_3() {
        Result r = host.nvmeDiscover(target.discoveryPort()).requireOk("nvme discover");
        System.out.println("nvme discover:\n" + r.output());
        for (String entry : r.output().split("=====Discovery Log Entry")) {
            if (entry.contains("subnqn:  " + NQN)) {
                assertThat(entry).containsPattern("treq:\\s+required").containsPattern("sectype:\\s+tls13");
            }
        }
        assertThat(r.output()).contains("trsvcid: " + p1).contains("trsvcid: " + p2);
    }

    @Test
    @Order(1)
    void a_tls_session_of_this_host_does_not_carry_another_hosts_connect() {
        // the kernel makes the handshake with this host's key (by serial) and Connects as another host
        Result r = host.nvmeConnect(p1, NQN, "--tls", "--tls_key=0x" + keySerial, "--hostnqn=" + OTHER_HOST_NQN,
                "--hostid=" + OTHER_HOST_ID);
        System.out.println("connect as another host over this host's TLS key: rc=" + r.rc() + "\n" + r.output());
        assertThat(r.rc()).isNotZero();
        assertThat(host.paths()).isEmpty();
        assertThat(logs.text()).contains("Connect as host " + OTHER_HOST_NQN + " to " + NQN
                + " refused: the TLS session is of NVMe0R01 " + KernelHostGuest.HOST_NQN + " " + NQN);
    }

    @Test
    @Order(2)
    void a_host_without_tls_is_refused() {
        Result r = host.nvmeConnect(p1, NQN, "--dhchap-secret=" + HOST_KEY.format());
        System.out.println("connect without --tls: rc=" + r.rc());
        assertThat(r.rc()).isNotZero();
        assertThat(host.paths()).isEmpty();
    }

    @Test
    @Order(3)
    void two_tls_and_dhchap_paths_make_one_head_and_fio_verifies_across_an_ana_flip() {
        for (int p : new int[] {p1, p2}) {
            host.nvmeConnect(p, NQN, "--tls", "--dhchap-secret=" + HOST_KEY.format(), "--reconnect-delay=1",
                    "--ctrl-loss-tmo=60").requireOk("connect --tls port " + p);
        }
        List<PathInfo> paths = host.awaitPaths(ps -> ps.size() == 2
                && ps.stream().allMatch(p -> p.controllerState().equals("live")), Duration.ofSeconds(30));
        String tls = host.shOk("for c in /sys/class/nvme/nvme*; do echo \"${c##*/} tls_key=$(cat $c/tls_key 2>/dev/null)"
                + " tls_keyring=$(cat $c/tls_keyring 2>/dev/null)\"; done", KernelHostGuest.NVME_TIMEOUT);
        System.out.println("controllers:\n" + tls);
        assertThat(tls.lines().filter(l -> l.contains("tls_key=" + keySerial) || l.contains("tls_key=0x" + keySerial)))
                .hasSize(2);
        String opt = path(paths, p1).path();
        String nonopt = path(paths, p2).path();
        String head = "/dev/" + opt.replaceAll("c\\d+n", "n");
        host.bg("flip", "fio --name=flip --filename=" + head + " --rw=randwrite --bs=4k --iodepth=16 --ioengine=libaio"
                + " --direct=1 --size=12m --verify=crc32c --do_verify=1 --runtime=200 --output-format=normal");
        host.awaitIos(opt, 256, "fio writing through the optimized path");
        target.setAnaState(1, 1, AnaState.INACCESSIBLE);
        host.awaitPaths(ps -> path(ps, p1).anaState().equals("inaccessible"), Duration.ofSeconds(20));
        host.awaitIos(nonopt, host.iosPerPath().getOrDefault(nonopt, 0L) + 256, "I/O moving to the non-optimized path");
        target.setAnaState(1, 1, AnaState.OPTIMIZED);
        Result r = host.await("flip", FIO);
        assertThat(r.rc()).as(r.output()).isZero();
        assertThat(r.output()).contains("err= 0").doesNotContain("verify:").doesNotContain("bad magic");
        System.out.println("fio over TLS across an ANA flip: " + host.iosPerPath());
    }

}
