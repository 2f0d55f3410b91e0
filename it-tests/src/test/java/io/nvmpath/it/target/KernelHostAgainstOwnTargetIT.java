package io.nvmpath.it.target;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.NamespaceIds;
import io.nvmpath.it.guest.KernelHostGuest;
import io.nvmpath.it.guest.KernelHostGuest.PathInfo;
import io.nvmpath.it.guest.KernelHostGuest.Result;
import io.nvmpath.it.guest.Peers;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import io.nvmpath.target.config.TargetConfig.ListenConfig;
import io.nvmpath.target.config.TargetConfig.NamespaceConfig;
import io.nvmpath.target.config.TargetConfig.PortConfig;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The project's NVMe/TCP target, running on the host, judged by the Linux kernel's NVMe/TCP host
 * with native multipath, nvme-cli and fio in a QEMU guest.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KernelHostAgainstOwnTargetIT {
    private static final String NQN = "nqn.2026-11.io.nvmpath:it-target";
    private static final String SERIAL = "NVMPATHIT01";
    private static final String MODEL = "nvmpath it target";
    private static final long SIZE = 256L << 20;
    private static final Duration FIO = Duration.ofSeconds(240);

    private static NvmeTarget target;
    private static KernelHostGuest host;
    private static int p1;
    private static int p2;

    @BeforeAll
    static void start() throws Exception {
        Peers.assumeGuest();
        SubsystemConfig sub = new SubsystemConfig(NQN, SERIAL, MODEL, "0.1", true, List.of(),
                List.of(new NamespaceConfig(1, SIZE, null, 512, 1, null, null, null, false)));
        // addresses as the guest sees them: QEMU forwards 10.0.2.100:P to 127.0.0.1:P
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
        fwd.put(target.discoveryPort(), target.discoveryPort());
        host = KernelHostGuest.start("kernel-host-vs-nvmpath-target", fwd);
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

    @Test
    @Order(1)
    void nvme_discover_lists_both_ports() {
        Result r = host.nvmeDiscover(target.discoveryPort()).requireOk("nvme discover");
        assertThat(r.output()).contains(NQN).contains("trsvcid: " + p1).contains("trsvcid: " + p2)
                .contains("traddr:  " + KernelHostGuest.TARGET_ADDRESS);
    }

    @Test
    @Order(2)
    void connect_to_both_ports_gives_one_head_with_an_optimized_and_a_non_optimized_path() {
        host.nvmeConnect(p1, NQN, "--reconnect-delay=1", "--ctrl-loss-tmo=120").requireOk("connect port 1");
        host.nvmeConnect(p2, NQN, "--reconnect-delay=1", "--ctrl-loss-tmo=120").requireOk("connect port 2");
        List<PathInfo> paths = host.awaitPaths(ps -> ps.size() == 2
                && ps.stream().allMatch(p -> p.controllerState().equals("live")), Duration.ofSeconds(30));
        assertThat(path(paths, p1).anaState()).isEqualTo("optimized");
        assertThat(path(paths, p2).anaState()).isEqualTo("non-optimized");
        String subsys = host.listSubsys("/dev/nvme0n1").requireOk("list-subsys").output();
        assertThat(subsys).contains("NQN=" + NQN).contains("trsvcid=" + p1).contains("trsvcid=" + p2)
                .contains("live optimized").contains("live non-optimized");
        System.out.println("nvme list-subsys /dev/nvme0n1:\n" + subsys);
    }

    @Test
    @Order(3)
    void id_ctrl_id_ns_ns_descs_and_ana_log_agree_with_the_configuration() throws Exception {
        String ctrl = host.shOk("nvme id-ctrl /dev/nvme0", KernelHostGuest.NVME_TIMEOUT);
        assertThat(ctrl).containsPattern("mn\\s+: " + MODEL).containsPattern("sn\\s+: " + SERIAL)
                .containsPattern("subnqn\\s+: " + NQN).containsPattern("cmic\\s+: 0xb")
                .containsPattern("anatt\\s+: 10");
        String ns = host.shOk("nvme id-ns /dev/nvme0n1", KernelHostGuest.NVME_TIMEOUT);
        assertThat(ns).containsPattern("nsze\\s+: 0x" + Long.toHexString(SIZE / 512))
                .containsPattern("nmic\\s+: 0x1").containsPattern("anagrpid\\s*: 1");
        // the identifiers the kernel reads are the ones this target derives, through any port
        NamespaceIds ids;
        EventLoopGroup g = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (Controller c = Controller.connect(new TransportAddress("127.0.0.1", p2), NQN, new ControllerOptions(), g)
                .get(10, TimeUnit.SECONDS)) {
            ids = c.namespaceIds(1).get();
        } finally {
            g.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
        String descs = host.shOk("nvme ns-descs /dev/nvme0n1", KernelHostGuest.NVME_TIMEOUT);
        assertThat(descs.toLowerCase()).contains(ids.nguidHex()).contains(ids.uuid().toString())
                .contains(ids.eui64Hex());
        String wwid = host.shOk("cat /sys/block/nvme0n1/wwid", KernelHostGuest.NVME_TIMEOUT).trim();
        assertThat(wwid).isEqualTo("uuid." + ids.uuid());
        for (PathInfo p : host.paths()) {
            String ana = host.shOk("nvme ana-log /dev/" + p.controller(), KernelHostGuest.NVME_TIMEOUT);
            String expected = p.guestPort() == p1 ? "optimized" : "non-optimized";
            assertThat(ana).containsPattern("(?m)^state\\s*:\\s*" + expected + "$");
        }
    }

    private static String fio(String name, String size) {
        return "fio --name=" + name + " --filename=/dev/nvme0n1 --rw=randwrite --bs=4k --iodepth=16"
                + " --ioengine=libaio --direct=1 --size=" + size + " --verify=crc32c --do_verify=1"
                + " --runtime=200 --output-format=normal";
    }

    private static void assertFioClean(Result r) {
        assertThat(r.rc()).as(r.output()).isZero();
        assertThat(r.output()).contains("err= 0");
        assertThat(r.output()).doesNotContain("verify:").doesNotContain("bad magic");
    }

    @Test
    @Order(4)
    void fio_with_crc32c_verify_runs_clean_on_the_multipath_head_through_the_optimized_path() {
        Map<String, Long> before = host.iosPerPath();
        Result r = host.sh(fio("clean", "16m"), FIO);
        assertFioClean(r);
        Map<String, Long> after = host.iosPerPath();
        String opt = path(host.paths(), p1).path();
        String nonopt = path(host.paths(), p2).path();
        long viaOpt = after.get(opt) - before.getOrDefault(opt, 0L);
        long viaNon = after.get(nonopt) - before.getOrDefault(nonopt, 0L);
        System.out.printf("fio 16 MiB clean: I/Os via optimized %d, via non-optimized %d%n", viaOpt, viaNon);
        assertThat(viaOpt).as("16 MiB of 4 KiB writes, then their verify reads").isGreaterThanOrEqualTo(8192);
        assertThat(viaNon).isZero();
    }

    @Test
    @Order(5)
    void flipping_the_optimized_path_to_inaccessible_under_fio_moves_io_with_no_errors() throws Exception {
        String opt = path(host.paths(), p1).path();
        String nonopt = path(host.paths(), p2).path();
        Map<String, Long> before = host.iosPerPath();
        host.bg("flip", fio("flip", "12m"));
        Thread.sleep(3000);
        target.setAnaState(1, 1, AnaState.INACCESSIBLE);
        host.awaitPaths(ps -> path(ps, p1).anaState().equals("inaccessible"), Duration.ofSeconds(20));
        Map<String, Long> during = host.iosPerPath();
        Thread.sleep(3000);
        Map<String, Long> later = host.iosPerPath();
        assertThat(later.get(nonopt)).as("I/O moved to the non-optimized path").isGreaterThan(during.get(nonopt));
        assertThat(later.get(opt)).as("nothing more through the inaccessible path").isEqualTo(during.get(opt));
        target.setAnaState(1, 1, AnaState.OPTIMIZED);
        host.awaitPaths(ps -> path(ps, p1).anaState().equals("optimized"), Duration.ofSeconds(20));
        Result r = host.await("flip", FIO);
        assertFioClean(r);
        Map<String, Long> after = host.iosPerPath();
        System.out.printf("ANA flip: I/Os via %s %d, via %s %d (before: %s)%n", opt, after.get(opt) - before.get(opt),
                nonopt, after.get(nonopt) - before.get(nonopt), before);
    }

    @Test
    @Order(6)
    void a_port_going_down_under_fio_fails_over_and_the_path_returns_after_clear() throws Exception {
        String nonopt = path(host.paths(), p2).path();
        host.bg("down", fio("down", "12m"));
        Thread.sleep(3000);
        Map<String, Long> before = host.iosPerPath();
        target.setFault(1, new Fault.Down());
        long downAt = System.nanoTime();
        // watch the kernel fail over: per-second samples of path states and writes
        long movedMs = -1;
        for (int i = 0; i < 20 && movedMs < 0; i++) {
            Thread.sleep(500);
            Map<String, Long> now = host.iosPerPath();
            List<PathInfo> ps = host.paths();
            System.out.printf("t+%d ms: %s I/Os %s%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - downAt),
                    ps.stream().map(p -> p.controller() + "=" + p.controllerState()).toList(), now);
            if (now.get(nonopt) > before.get(nonopt)) {
                movedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - downAt);
            }
        }
        assertThat(movedMs).as("I/O moved to port 2").isNotNegative();
        System.out.printf("port 1 down: I/O moved to port 2 within %d ms%n", movedMs);
        target.setFault(1, Fault.NONE);
        List<PathInfo> back = host.awaitPaths(x -> path(x, p1).controllerState().equals("live")
                && path(x, p1).anaState().equals("optimized"), Duration.ofSeconds(30));
        System.out.println("port 1 back: " + back);
        assertFioClean(host.await("down", FIO));
    }

    @Test
    @Order(7)
    void disconnect_leaves_no_controller_on_the_target() throws Exception {
        host.disconnectAll().requireOk("disconnect-all");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!target.controllers().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(target.controllers()).isEmpty();
    }
}
