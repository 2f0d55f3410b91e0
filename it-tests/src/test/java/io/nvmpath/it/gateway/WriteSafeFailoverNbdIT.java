package io.nvmpath.it.gateway;

import io.nvmpath.it.guest.KernelHostGuest;
import io.nvmpath.it.guest.Peers;
import io.nvmpath.multipath.FailoverRecord;
import io.nvmpath.multipath.MultipathView;
import io.nvmpath.server.gateway.Gateway;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The ghost-write hazard seen from NBD clients. The project's target holds every write on port 1 for
 * {@value #GHOST_MS} ms and still applies the ones whose connection was cut (an array that has not
 * noticed its host is gone); port 1's connections are cut while writes are in flight on it.
 *
 * <p>fio's nbd engine rewrites a small range: each loop writes every block once in random order at
 * iodepth 16, waits for them, and reads every block back with its checksum and sequence number. With
 * {@code writeFailover: immediate} a write retried on port 2 completes, a later loop rewrites the block,
 * and the ghost copy lands on top: fio must find a stale block (this proves the drill can fail). With
 * {@code safe} (the default) and Cross-Controller Reset on the target, or with Cross-Controller Reset
 * off (the time rule), every block must verify. The Linux kernel's NBD client (ext4, fsync'ed files,
 * checksums, e2fsck, in a QEMU guest) must find its files intact the same way.
 */
class WriteSafeFailoverNbdIT {
    static final int GHOST_MS = 200;
    private static final Duration PATH_WAIT = Duration.ofSeconds(20);
    /** How long fio runs: the cuts take about 1.5 s each (the gateway reconnects after 1 s). */
    private static final int FIO_SECONDS = 25;
    private static final String NQN = TargetConfig.DEMO_NQN;
    /**
     * Each path's loss count when it was last cut (the target reuses CNTLIDs): a cut waits until the
     * host has seen the previous one and is back.
     */
    private static final Map<String, Long> CUT_AT_FAILURES = new java.util.concurrent.ConcurrentHashMap<>();
    private static final String EXPORT = Gateway.exportName(NQN, 1);

    @Test
    void immediate_failover_lets_fio_find_a_stale_block() throws Exception {
        Peers.assumeTools("fio", "fio");
        try (NvmeTarget target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
             GatewayFixture gw = gateway(target, ", writeFailover: immediate")) {
            Drill d = fioDrill(target, gw, 10);
            assertThat(d.fio().rc()).as("fio must fail verification: %s", d.fio().out()).isNotZero();
            assertThat(d.fio().out() + d.fio().err()).as("fio's complaint").containsPattern("verify: bad header|crc32c");
            assertThat(d.failovers()).as("failovers").isNotEmpty()
                    .allSatisfy(f -> assertThat(f.fenced()).as("immediate fences nothing").isZero());
        }
    }

    @Test
    void safe_failover_with_cross_controller_reset_keeps_every_block() throws Exception {
        Peers.assumeTools("fio", "fio");
        try (NvmeTarget target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
             GatewayFixture gw = gateway(target, "")) {
            Drill d = fioDrill(target, gw, 10);
            d.fio().requireOk("fio verify with writeFailover safe (ccr)");
            assertFenced(d.failovers(), "ccr");
        }
    }

    @Test
    void safe_failover_without_cross_controller_reset_keeps_every_block_by_the_time_rule() throws Exception {
        Peers.assumeTools("fio", "fio");
        TargetConfig c = TargetConfig.demo(0, 0, 0, 0);
        c = new TargetConfig(List.of(c.subsystems().get(0).withCrossControllerReset(false)), c.ports(), c.discovery(),
                c.limits(), c.admin(), c.anatt());
        try (NvmeTarget target = NvmeTarget.start(c);
             GatewayFixture gw = gateway(target, "")) {
            Drill d = fioDrill(target, gw, 3);
            d.fio().requireOk("fio verify with writeFailover safe (time)");
            assertFenced(d.failovers(), "time");
        }
    }

    @Test
    void ext4_over_the_kernel_nbd_client_keeps_its_files_through_cuts_with_ghost_writes() throws Exception {
        Peers.assumeGuest();
        try (NvmeTarget target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
             GatewayFixture gw = gateway(target, "");
             KernelHostGuest guest = KernelHostGuest.start("nbd-ext4-ghost-writes", Map.of(gw.nbdPort(), gw.nbdPort()))) {
            Ext4Drill.Fault cut = new Ext4Drill.Fault("ghost writes and two cuts of port 1",
                    () -> {
                        target.setFault(1, new Fault.GhostWrites(GHOST_MS));
                        cutWithWritesInFlight(target, gw, () -> false);
                    },
                    () -> {
                        cutWithWritesInFlight(target, gw, () -> false);
                        target.setFault(1, Fault.NONE);
                    });
            Ext4Drill.run(guest, gw.nbdPort(), EXPORT, List.of(cut, cut));
            List<FailoverRecord> failovers = gw.gateway.multipath().failovers();
            report("ext4 (kernel nbd-client), safe, ccr", failovers);
            assertFenced(failovers, "ccr");
            assertThat(gw.gateway.view().exports().get(0).errors()).as("NBD errors").isEmpty();
        }
    }

    /** What a fio drill saw: fio's result and the gateway's failover records. */
    record Drill(Tool.Result fio, List<FailoverRecord> failovers) {
    }

    private static GatewayFixture gateway(NvmeTarget target, String multipathExtra) throws Exception {
        // a path cut ten times in a row is marginal by default: here it must take writes again after each cut
        return GatewayFixture.start(List.of(
                new GatewayFixture.Portal("127.0.0.1", target.port(1), NQN),
                new GatewayFixture.Portal("127.0.0.1", target.port(2), NQN)), "",
                ", marginal: {hold: 0s}" + multipathExtra, 2);
    }

    /**
     * Runs fio's verifying rewrite loop through the gateway while port 1 holds its writes, cutting
     * port 1 {@code cuts} times, each time once writes are in flight on it again.
     */
    private static Drill fioDrill(NvmeTarget target, GatewayFixture gw, int cuts) throws Exception {
        target.setFault(1, new Fault.GhostWrites(GHOST_MS));
        // 64 blocks, each loop writes each once (fio's random map) and verifies them all; the run ends
        // at FIO_SECONDS (a loop cut short by the end is not verified, and fio exits 0) or at the
        // first block that does not verify (exit 1)
        CompletableFuture<Tool.Result> fio = CompletableFuture.supplyAsync(() -> {
            try {
                return Tool.run(Duration.ofSeconds(FIO_SECONDS + 120), "fio", "--name=rewrite", "--ioengine=nbd",
                        "--uri=nbd://127.0.0.1:" + gw.nbdPort() + "/" + EXPORT, "--rw=randwrite", "--bs=4k",
                        "--size=256k", "--loops=1000000", "--runtime=" + FIO_SECONDS, "--iodepth=16",
                        "--verify=crc32c", "--verify_fatal=1", "--randrepeat=0", "--verify_state_save=0");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        int done = 0;
        for (; done < cuts && !fio.isDone(); done++) {
            if (!cutWithWritesInFlight(target, gw, fio::isDone)) {
                break;
            }
        }
        Tool.Result r = fio.get(FIO_SECONDS + 150, TimeUnit.SECONDS);
        List<FailoverRecord> failovers = gw.gateway.multipath().failovers();
        System.out.printf("fio rewrite drill (%d cuts): fio rc %d%n%s%n", done, r.rc(),
                r.out().lines().filter(l -> l.contains("verify") || l.contains("issued") || l.contains("err="))
                        .toList());
        report("fio nbd rewrite, " + failovers.size() + " failovers", failovers);
        assertThat(done).as("cuts made while fio ran").isPositive();
        return new Drill(r, failovers);
    }

    /**
     * Waits until port 1's path is live again after its last cut, with writes in flight that the target
     * holds (so the cut makes ghost writes: a read in flight, or a write still on its way, would not),
     * then cuts port 1's connections. Returns false when no write came onto port 1 within {@link #PATH_WAIT}
     * or the drill is {@code over} first.
     */
    static boolean cutWithWritesInFlight(NvmeTarget target, GatewayFixture gw, java.util.function.BooleanSupplier over) {
        String p1 = "127.0.0.1:" + target.port(1);
        long deadline = System.nanoTime() + PATH_WAIT.toNanos();
        while (System.nanoTime() - deadline < 0 && !over.getAsBoolean()) {
            MultipathView.Head h = gw.gateway.multipath().head(NQN, 1).view();
            var busy = h.paths().stream().filter(p -> p.address().equals(p1) && p.controllerState().equals("live")
                    && p.inFlight() > 0 && p.failures() > CUT_AT_FAILURES.getOrDefault(p1, -1L)).findFirst();
            if (busy.isPresent() && target.heldWrites(1) > 0) {
                CUT_AT_FAILURES.put(p1, busy.get().failures());
                target.cutConnections(1);
                return true;
            }
            Thread.onSpinWait();
        }
        System.out.println("no write in flight on " + p1 + " within " + PATH_WAIT + "; no cut");
        return false;
    }

    private static void assertFenced(List<FailoverRecord> failovers, String method) {
        assertThat(failovers.stream().mapToInt(FailoverRecord::fenced).sum()).as("writes fenced: %s", failovers)
                .isPositive();
        assertThat(failovers.stream().filter(f -> f.fenced() > 0).map(FailoverRecord::fenceMethod))
                .as("fence methods").containsOnly(method);
    }

    private static void report(String what, List<FailoverRecord> failovers) {
        for (FailoverRecord f : failovers) {
            System.out.printf("  %s: %s -> %s cause %s reads %d writes %d fenced %d fence %s %d ms stall %d ms%n",
                    what, f.from(), f.to(), f.cause(), f.reads(), f.writes(), f.fenced(), f.fenceMethod(),
                    f.fenceWaitMillis(), f.stallMillis());
        }
    }
}
