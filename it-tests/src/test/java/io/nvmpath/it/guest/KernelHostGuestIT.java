package io.nvmpath.it.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Proves the kernel-host harness against the Linux kernel target: an {@link NvmetGuest} and a
 * {@link KernelHostGuest} whose guest ports 4420/4421 lead (through 127.0.0.1) to nvmet's
 * ports 1 and 2. The kernel host discovers, connects both paths, sees them grouped by native
 * multipath with nvmet's ANA states, runs a verified fio write on the multipath head and
 * disconnects. Two TCG guests share two cores here, so everything is slow; timeouts are generous
 * and each step prints its duration. Skipped (or failed, with -Dnvmpath.it.requirePeers=true)
 * without the guest.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 240, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class KernelHostGuestIT {

    private static final String HEAD = "/dev/nvme0n1";
    private static final Duration FIO_TIMEOUT = Duration.ofSeconds(180);
    /** "+- nvme0 tcp traddr=10.0.2.100,trsvcid=4420,src_addr=10.0.2.15 live optimized" (nvme-cli 2.3). */
    private static final Pattern SUBSYS_PATH = Pattern.compile(
            "\\+- (nvme\\d+) tcp traddr=([^,\\s]+),trsvcid=(\\d+)\\S* (\\S+)(?: (\\S+))?");

    /** Shell group: "comm pid" of every process in uninterruptible sleep (D). */
    /**
     * The processes in uninterruptible sleep, "comm pid" a line. Shell builtins only: a fork per process
     * (cut, cat) takes long enough under TCG emulation on a loaded machine to outlast the command's bound.
     */
    private static final String D_STATE = "{ for f in /proc/[0-9]*/stat; do read -r l < $f 2>/dev/null || continue;"
            + " s=${l##*) }; [ \"${s%% *}\" = D ] && c=${l#*(} && echo \"${c%%)*} ${l%% *}\"; done; true; }";

    private static NvmetGuest nvmet;
    private static KernelHostGuest host;

    @BeforeAll
    @Timeout(300)
    static void boot() throws IOException {
        Peers.assumeGuest();
        long t0 = System.nanoTime();
        nvmet = NvmetGuest.start("KernelHostGuestIT-nvmet");
        System.out.printf("nvmet guest ready after %d ms (4420->%d, 4421->%d)%n",
                nvmet.readyAfter().toMillis(), nvmet.port(1), nvmet.port(2));
        host = KernelHostGuest.start("KernelHostGuestIT-host",
                Map.of(4420, nvmet.port(1), 4421, nvmet.port(2)));
        System.out.printf("kernel-host guest ready after %d ms (both guests: %d ms), log %s%n",
                host.readyAfter().toMillis(), ms(t0), host.vm().logFile());
    }

    @AfterAll
    static void shutdown() {
        long t0 = System.nanoTime();
        if (host != null) {
            host.close();
            System.out.printf("kernel-host guest stopped in %d ms, run.sh exit %s%n", ms(t0), host.vm().exitCode());
        }
        long t1 = System.nanoTime();
        if (nvmet != null) {
            nvmet.close();
            System.out.printf("nvmet guest stopped in %d ms, run.sh exit %s%n", ms(t1), nvmet.vm().exitCode());
        }
        if (host != null) {
            assertEquals(0, host.vm().exitCode().orElse(-1), "kernel-host exit code after quit" + host.vm().tail());
        }
    }

    @Test
    @Order(1)
    void controlChannelRunsCommands() {
        long t0 = System.nanoTime();
        host.ping();
        KernelHostGuest.Result r = host.sh("echo out; echo err >&2; exit 7", Duration.ofSeconds(20));
        assertEquals(new KernelHostGuest.Result(7, "out\nerr"), r);
        assertEquals(KernelHostGuest.HOST_NQN, host.shOk("cat /etc/nvme/hostnqn", Duration.ofSeconds(20)));
        assertEquals(KernelHostGuest.HOST_ID, host.shOk("cat /etc/nvme/hostid", Duration.ofSeconds(20)));
        assertEquals("Y", host.shOk("cat /sys/module/nvme_core/parameters/multipath", Duration.ofSeconds(20)));
        assertEquals(KernelHostGuest.TARGET_ADDRESS, host.targetAddress());
        long tRt = System.nanoTime();
        for (int i = 0; i < 10; i++) {
            assertEquals(0, host.sh("true", Duration.ofSeconds(20)).rc());
        }
        System.out.printf("sh round trip: %d ms on average (10 calls)%n", ms(tRt) / 10);

        // a command over its time is killed by the guest; the channel stays usable
        KernelHostGuest.CommandTimeoutException e = assertThrows(KernelHostGuest.CommandTimeoutException.class,
                () -> host.sh("echo begun; sleep 30; echo never", Duration.ofSeconds(2)));
        assertEquals("begun", e.partialOutput());
        host.bg("sleeper", "sleep 30");
        assertThrows(KernelHostGuest.CommandTimeoutException.class, () -> host.await("sleeper", Duration.ofSeconds(1)));
        host.kill("sleeper");
        assertEquals(137, host.await("sleeper", Duration.ofSeconds(20)).rc());
        assertTrue(host.anaStates().isEmpty(), "nothing connected yet: " + host.anaStates());
        System.out.printf("control channel checks took %d ms%n", ms(t0));
    }

    @Test
    @Order(2)
    void discoverShowsTheSubsystem() {
        long t0 = System.nanoTime();
        KernelHostGuest.Result r = host.nvmeDiscover(4420);
        System.out.printf("nvme discover (%d ms), rc %d:%n%s%n", ms(t0), r.rc(), r.output());
        r.requireOk("nvme discover");
        assertTrue(r.output().contains("subnqn:  " + nvmet.subsystemNqn()) || r.output().contains(nvmet.subsystemNqn()),
                r.output());

        long t1 = System.nanoTime();
        KernelHostGuest.Result json = host.nvmeDiscover(4420, "-o", "json");
        System.out.printf("nvme discover -o json (%d ms), rc %d:%n%s%n", ms(t1), json.rc(), json.output());
        json.requireOk("nvme discover -o json");
        assertTrue(json.output().contains("\"subnqn\":\"" + nvmet.subsystemNqn() + "\"")
                || json.output().contains("\"subnqn\" : \"" + nvmet.subsystemNqn() + "\""), json.output());
    }

    @Test
    @Order(3)
    void connectBothPathsShowsAnaStates() {
        for (int guestPort : List.of(4420, 4421)) {
            long t0 = System.nanoTime();
            KernelHostGuest.Result r = host.nvmeConnect(guestPort, nvmet.subsystemNqn());
            System.out.printf("nvme connect -s %d (%d ms), rc %d: %s%n", guestPort, ms(t0), r.rc(), r.output());
            r.requireOk("nvme connect -s " + guestPort);
        }
        // nvme connect returns before the namespaces of the new controller are scanned
        long t1 = System.nanoTime();
        int expected = 2 * nvmet.facts().namespaceCount();
        List<KernelHostGuest.PathInfo> paths = host.awaitPaths(p -> p.size() == expected, Duration.ofSeconds(30));
        System.out.printf("%d paths after %d ms:%n", paths.size(), ms(t1));
        paths.forEach(p -> System.out.println("  " + p));

        // every path: live, through 10.0.2.100, ANA group and state as nvmet's facts say
        for (KernelHostGuest.PathInfo p : paths) {
            int nvmetPort = p.guestPort() == 4420 ? 1 : p.guestPort() == 4421 ? 2 : -1;
            assertTrue(nvmetPort > 0, "path through an unexpected port: " + p);
            assertEquals("live", p.controllerState(), p.toString());
            assertTrue(p.address().startsWith("traddr=" + KernelHostGuest.TARGET_ADDRESS + ","), p.toString());
            int group = nvmet.facts().anaGroup(p.nsid());
            assertEquals(group, p.anaGroup(), p.toString());
            assertEquals(nvmet.facts().anaState(nvmetPort, group), p.anaState(), p.toString());
        }
        assertEquals(paths.stream().collect(Collectors.toMap(KernelHostGuest.PathInfo::path,
                KernelHostGuest.PathInfo::anaState)), host.anaStates());

        long t2 = System.nanoTime();
        KernelHostGuest.Result subsys = host.listSubsys(HEAD).requireOk("nvme list-subsys");
        System.out.printf("nvme list-subsys %s (%d ms):%n%s%n", HEAD, ms(t2), subsys.output());
        assertTrue(subsys.output().contains("NQN=" + nvmet.subsystemNqn()), subsys.output());
        Map<String, String> stateByPort = new TreeMap<>();
        for (String line : subsys.lines()) {
            Matcher m = SUBSYS_PATH.matcher(line.trim());
            if (m.find()) {
                assertEquals(KernelHostGuest.TARGET_ADDRESS, m.group(2), line);
                stateByPort.put(m.group(3), m.group(4) + " " + m.group(5));
            }
        }
        assertEquals(Map.of("4420", "live optimized", "4421", "live non-optimized"), stateByPort, subsys.output());
        assertEquals("numa", host.shOk("cat /sys/class/nvme-subsystem/nvme-subsys0/iopolicy", Duration.ofSeconds(20)));
    }

    @Test
    @Order(4)
    void fioVerifiedWriteOnTheMultipathHead() {
        Map<String, Long> before = host.readsPerPath();
        long t0 = System.nanoTime();
        // 4 MiB: about 1000 writes and then 1000 verify reads. 16 MiB did not finish its write
        // phase within --runtime=10 at ~300 IOPS (two TCG guests), and then fio skips the verify
        // pass and still exits 0 - it would prove nothing about the data.
        host.bg("fio", "fio --name=v --filename=" + HEAD + " --rw=randwrite --bs=4k --iodepth=16 --ioengine=libaio"
                + " --direct=1 --size=4m --verify=crc32c --runtime=60 --eta=never");
        KernelHostGuest.Result r = host.await("fio", FIO_TIMEOUT);
        System.out.printf("fio (%d ms), rc %d:%n%s%n", ms(t0), r.rc(), r.output());
        r.requireOk("fio");
        assertTrue(r.output().contains("err= 0"), r.output());
        assertTrue(r.output().contains("issued rwts: total=1024,1024,"), "1024 writes, all verified: " + r.output());

        Map<String, Long> after = host.readsPerPath();
        System.out.println("reads per path before " + before + ", after " + after);
        // with iopolicy numa, all I/O of namespace 1 goes to its optimized path (port 4420)
        for (KernelHostGuest.PathInfo p : host.paths()) {
            if (p.nsid() != 1) {
                continue;
            }
            long reads = after.getOrDefault(p.path(), 0L) - before.getOrDefault(p.path(), 0L);
            if (p.anaState().equals("optimized")) {
                assertTrue(reads >= 1024, "verify reads on the optimized path " + p + ": " + reads);
            } else {
                assertEquals(0, reads, "reads on the " + p.anaState() + " path " + p);
            }
        }
    }

    @Test
    @Order(5)
    void connectErrorsAreReported() {
        int pathsBefore = host.paths().size();
        long t0 = System.nanoTime();
        KernelHostGuest.Result r = host.nvmeConnect(4420, "nqn.2026-11.test:no-such-subsystem");
        System.out.printf("nvme connect to an unknown NQN (%d ms), rc %d: %s%n", ms(t0), r.rc(), r.output());
        System.out.println("dmesg: " + host.shOk("dmesg | tail -2", Duration.ofSeconds(20)));
        assertNotEquals(0, r.rc(), r.output());
        assertTrue(r.output().contains("could not add new controller"), r.output());
        assertEquals(pathsBefore, host.paths().size(), "the good paths are untouched");
    }

    @Test
    @Order(6)
    void disconnectAll() {
        long t0 = System.nanoTime();
        KernelHostGuest.Result r = host.disconnectAll().requireOk("nvme disconnect-all");
        System.out.printf("nvme disconnect-all (%d ms): %s%n", ms(t0), r.output());
        assertFalse(host.sh("test -e " + HEAD, Duration.ofSeconds(20)).ok(), HEAD + " is gone");
        assertTrue(host.controllers().isEmpty(), host.controllers().toString());
        assertTrue(host.paths().isEmpty(), host.paths().toString());
    }

    /**
     * I/O to a multipath head whose only path is gone is queued by the kernel (the controller
     * reconnects), so the command hangs in the kernel. The guest still answers with TIMEOUT,
     * the channel stays usable, and the I/O completes once the path is back.
     */
    @Test
    @Order(7)
    void commandStuckInTheKernelTimesOutAndTheChannelSurvives() {
        host.nvmeConnect(4420, nvmet.subsystemNqn(), "--reconnect-delay=1", "--ctrl-loss-tmo=60")
                .requireOk("nvme connect -s 4420");
        host.awaitPaths(p -> p.size() == nvmet.facts().namespaceCount(), Duration.ofSeconds(30));
        nvmet.removePort(1);
        try {
            host.awaitPaths(p -> p.stream().allMatch(x -> x.controllerState().equals("connecting")),
                    Duration.ofSeconds(30));
            long t0 = System.nanoTime();
            KernelHostGuest.CommandTimeoutException e = assertThrows(KernelHostGuest.CommandTimeoutException.class,
                    () -> host.sh("echo reading; fio --name=r --filename=" + HEAD
                            + " --rw=read --bs=4k --size=4k --direct=1 --ioengine=psync --eta=never",
                            Duration.ofSeconds(3)));
            System.out.printf("stuck read answered TIMEOUT after %d ms: %s%n", ms(t0), e.partialOutput());
            assertTrue(e.partialOutput().startsWith("reading"), e.partialOutput());
            String stuck = host.shOk(D_STATE, Duration.ofSeconds(20));
            System.out.println("processes in D state: " + stuck);
            assertTrue(stuck.contains("fio"), "fio waits in the kernel: " + stuck);
        } finally {
            nvmet.addPort(1);
        }
        long t1 = System.nanoTime();
        host.awaitPaths(p -> !p.isEmpty() && p.stream().allMatch(x -> x.controllerState().equals("live")),
                Duration.ofSeconds(30));
        System.out.printf("path live again after %d ms%n", ms(t1));
        // the queued read completes on the new connection and the SIGKILLed fio goes away
        host.shOk("i=0; while " + D_STATE + " | grep -q fio && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done;"
                + " ! " + D_STATE + " | grep -q fio", Duration.ofSeconds(30));
        host.disconnectAll().requireOk("nvme disconnect-all");
        assertTrue(host.paths().isEmpty(), host.paths().toString());
    }

    private static long ms(long t0) {
        return (System.nanoTime() - t0) / 1_000_000;
    }
}
