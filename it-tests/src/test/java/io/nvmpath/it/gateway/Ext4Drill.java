package io.nvmpath.it.gateway;

import io.nvmpath.it.guest.KernelHostGuest;
import io.nvmpath.it.guest.KernelHostGuest.Result;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The kernel NBD client's drill: attach an export, make ext4 on it, write checksummed files while
 * the paths behind the export fail, then check from a fresh mount and with e2fsck.
 */
public final class Ext4Drill {
    private static final Duration LONG = Duration.ofSeconds(300);

    /** A fault staged on the paths while the guest writes, and how to undo it. */
    public record Fault(String name, Runnable apply, Runnable undo) {
    }

    private Ext4Drill() {
    }

    public static void run(KernelHostGuest guest, int nbdPort, String export, List<Fault> faults) throws Exception {
        // full paths: the trixie guest's busybox has modprobe, nbd-client and mke2fs applets that its
        // shell prefers to PATH
        guest.shOk("/usr/sbin/modprobe ext4; /usr/sbin/modprobe nbd nbds_max=2 max_part=0", Duration.ofSeconds(30));
        guest.shOk("/usr/sbin/nbd-client " + KernelHostGuest.TARGET_ADDRESS + " " + nbdPort + " /dev/nbd0 -N "
                + KernelHostGuest.quote(export) + " -b 4096", Duration.ofSeconds(60));
        String size = guest.shOk("blockdev --getsize64 /dev/nbd0", Duration.ofSeconds(10)).strip();
        System.out.println("kernel nbd-client attached " + export + ": " + size + " bytes");
        guest.shOk("/usr/sbin/mkfs.ext4 -q -F -E nodiscard /dev/nbd0 && mkdir -p /mnt/x && mount -t ext4 /dev/nbd0 /mnt/x", LONG);
        // 48 files of 512 KiB, each fsync'ed: I/O keeps flowing while the faults come and go
        guest.bg("writer", "set -e; for i in $(seq 1 48); do dd if=/dev/urandom of=/mnt/x/f$i bs=64k count=8"
                + " conv=fsync 2>/dev/null; done; sync; cd /mnt/x && sha256sum f* > /tmp/sums; echo WROTE");
        for (Fault f : faults) {
            Thread.sleep(2000);
            long t0 = System.nanoTime();
            f.apply().run();
            Thread.sleep(3000);
            f.undo().run();
            System.out.printf("fault %s applied for %d ms%n", f.name(), (System.nanoTime() - t0) / 1_000_000);
        }
        Result w = guest.await("writer", LONG);
        assertThat(w.rc()).as("writer in the guest: %s", w.output()).isZero();
        assertThat(w.output()).contains("WROTE");
        String kernel = guest.shOk("dmesg | grep -Ei 'nbd|I/O error|EXT4-fs (error|warning)' || true",
                Duration.ofSeconds(10));
        assertThat(kernel).as("kernel log").doesNotContainIgnoringCase("I/O error")
                .doesNotContainIgnoringCase("EXT4-fs error").doesNotContain("Connection timed out");
        guest.shOk("umount /mnt/x && mount -t ext4 /dev/nbd0 /mnt/x", LONG);
        String check = guest.shOk("cd /mnt/x && sha256sum -c /tmp/sums | grep -c ': OK$'", LONG).strip();
        assertThat(check).isEqualTo("48");
        guest.shOk("umount /mnt/x", LONG);
        Result fsck = guest.sh("/usr/sbin/e2fsck -fn /dev/nbd0", LONG);
        assertThat(fsck.rc()).as("e2fsck -fn: %s", fsck.output()).isZero();
        guest.shOk("/usr/sbin/nbd-client -d /dev/nbd0", Duration.ofSeconds(30));
    }

    /**
     * Under numa the non-optimized path carries I/O only while the optimized one cannot: it must
     * have carried writes, the optimized path must have failed once (the port going away) and be
     * live and optimized again at the end.
     */
    public static void assertIoMovedAndCameBack(io.nvmpath.multipath.MultipathView.Head head) {
        var optimized = head.paths().stream().filter(p -> p.anaState().equals("optimized")).toList();
        var other = head.paths().stream().filter(p -> p.anaState().equals("non-optimized")).toList();
        assertThat(optimized).as("optimized path at the end").hasSize(1);
        assertThat(other).as("non-optimized path at the end").hasSize(1);
        assertThat(optimized.get(0).controllerState()).isEqualTo("live");
        assertThat(optimized.get(0).failures()).as("the optimized path's losses").isGreaterThanOrEqualTo(1);
        assertThat(other.get(0).ops().get("write")).as("writes carried by the non-optimized path").isPositive();
        System.out.printf("writes: optimized path %d, non-optimized path %d; optimized path failures %d%n",
                optimized.get(0).ops().get("write"), other.get(0).ops().get("write"), optimized.get(0).failures());
    }
}
