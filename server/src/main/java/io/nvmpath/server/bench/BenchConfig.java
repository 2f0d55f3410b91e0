package io.nvmpath.server.bench;

import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.multipath.IoPolicy;
import io.nvmpath.multipath.MultipathOptions;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * One benchmark run, as fio would describe it.
 *
 * @param portals the NVMe/TCP ports of the subsystem, one path each; {@code singlePath} uses the first
 * @param nqn subsystem NQN
 * @param nsid namespace ID
 * @param rw what to issue
 * @param blockSize bytes per I/O, a multiple of the namespace's LBA size
 * @param ioDepth I/Os kept in flight
 * @param runtime the measured phase
 * @param rampTime load before the measured phase, not counted (fio's ramp_time)
 * @param mixRead share of reads in percent for {@link RwMode#RANDRW}
 * @param verify write the pattern over the region first and check every block read
 * @param singlePath one controller on the first portal, no namespace head (the baseline)
 * @param regionBytes bytes from LBA 0 the I/O covers; 0 for the namespace capped at {@link #DEFAULT_REGION_CAP}
 * @param threads event loops of the host side
 * @param seed seed of the verify pattern
 * @param multipath path layer options, incl. the iopolicy and the controller options of every path
 */
public record BenchConfig(List<TransportAddress> portals, String nqn, int nsid, RwMode rw, int blockSize, int ioDepth,
                          Duration runtime, Duration rampTime, int mixRead, boolean verify, boolean singlePath,
                          long regionBytes, int threads, long seed, MultipathOptions multipath) {
    /** Default region: the whole namespace, but at most 1 GiB. */
    public static final long DEFAULT_REGION_CAP = 1L << 30;

    public BenchConfig {
        portals = List.copyOf(portals);
        Objects.requireNonNull(nqn, "nqn");
        Objects.requireNonNull(rw, "rw");
        Objects.requireNonNull(runtime, "runtime");
        Objects.requireNonNull(rampTime, "rampTime");
        Objects.requireNonNull(multipath, "multipath");
        if (portals.isEmpty()) {
            throw new IllegalArgumentException("at least one portal is needed");
        }
        if (blockSize <= 0 || ioDepth <= 0 || threads <= 0) {
            throw new IllegalArgumentException("block size, iodepth and threads must be positive");
        }
        if (mixRead < 0 || mixRead > 100) {
            throw new IllegalArgumentException("rwmixread must be 0..100, not " + mixRead);
        }
        if (regionBytes < 0) {
            throw new IllegalArgumentException("region size must not be negative");
        }
    }

    public IoPolicy ioPolicy() {
        return multipath.ioPolicy();
    }

    public ControllerOptions controller() {
        return multipath.controller();
    }

    public static Builder builder(String nqn, TransportAddress... portals) {
        return new Builder(nqn, List.of(portals));
    }

    public static Builder builder(String nqn, List<TransportAddress> portals) {
        return new Builder(nqn, portals);
    }

    /** Defaults: nsid 1, randread, 4 KiB, iodepth 32, 10 s, no ramp, 50% reads, numa, 2 loops. */
    public static final class Builder {
        private final String nqn;
        private final List<TransportAddress> portals;
        private int nsid = 1;
        private RwMode rw = RwMode.RANDREAD;
        private int blockSize = 4096;
        private int ioDepth = 32;
        private Duration runtime = Duration.ofSeconds(10);
        private Duration rampTime = Duration.ZERO;
        private int mixRead = 50;
        private boolean verify;
        private boolean singlePath;
        private long regionBytes;
        private int threads = Math.max(2, Runtime.getRuntime().availableProcessors());
        private long seed = System.nanoTime();
        private MultipathOptions multipath = MultipathOptions.defaults();

        private Builder(String nqn, List<TransportAddress> portals) {
            this.nqn = nqn;
            this.portals = portals;
        }

        public Builder nsid(int v) {
            nsid = v;
            return this;
        }

        public Builder rw(RwMode v) {
            rw = v;
            return this;
        }

        public Builder blockSize(int v) {
            blockSize = v;
            return this;
        }

        public Builder ioDepth(int v) {
            ioDepth = v;
            return this;
        }

        public Builder runtime(Duration v) {
            runtime = v;
            return this;
        }

        public Builder rampTime(Duration v) {
            rampTime = v;
            return this;
        }

        public Builder mixRead(int v) {
            mixRead = v;
            return this;
        }

        public Builder verify(boolean v) {
            verify = v;
            return this;
        }

        public Builder singlePath(boolean v) {
            singlePath = v;
            return this;
        }

        public Builder regionBytes(long v) {
            regionBytes = v;
            return this;
        }

        public Builder threads(int v) {
            threads = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        /** Path layer options; the iopolicy set by {@link #ioPolicy} afterwards wins. */
        public Builder multipath(MultipathOptions v) {
            multipath = v;
            return this;
        }

        public Builder ioPolicy(IoPolicy v) {
            multipath = multipath.withIoPolicy(v);
            return this;
        }

        public Builder controller(ControllerOptions v) {
            multipath = multipath.withController(v);
            return this;
        }

        public BenchConfig build() {
            return new BenchConfig(portals, nqn, nsid, rw, blockSize, ioDepth, runtime, rampTime, mixRead, verify,
                    singlePath, regionBytes, threads, seed, multipath);
        }
    }
}
