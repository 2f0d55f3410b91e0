package io.nvmpath.multipath;

import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Completions;
import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.NamespaceIds;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.testing.ManualScheduler;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.util.concurrent.TimeUnit;

/**
 * What the namespace head adds to one I/O: {@code head.submit} (path selection, the failure
 * interceptor set on the request) against handing the same request to the path's transport
 * directly. The transport is a null one that completes at once, so only the head's own work is
 * measured — no target, no sockets, no other process on the CPUs.
 *
 * <p>Run on demand: {@code ./mvnw -q -pl multipath test-compile exec:exec -Dexec.executable=java
 * -Dexec.classpathScope=test -Dexec.args="-cp %classpath org.openjdk.jmh.Main HeadOverheadBenchmark"}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = "-Dio.netty.leakDetection.level=disabled")
public class HeadOverheadBenchmark {

    /** A transport that completes every command successfully at once. */
    static final class NullPath implements PathIo {
        private final PathId id;

        NullPath(PathId id) {
            this.id = id;
        }

        @Override
        public PathId id() {
            return id;
        }

        @Override
        public ControllerState state() {
            return ControllerState.LIVE;
        }

        @Override
        public void submit(NvmeRequest r) {
            Completions.sent(r);
            Completions.complete(r, Status.SUCCESS);
        }

        @Override
        public int inFlight() {
            return 0;
        }

        @Override
        public double recentLatencyNanos() {
            return 0;
        }

        @Override
        public long retryDelayMillis(int crd) {
            return 0;
        }
    }

    /** numa: one optimized path (as "pinned"), or an optimized and a non-optimized path. */
    @Param({"numa-1-path", "numa-2-paths", "round-robin-2-paths"})
    public String shape;

    private NamespaceHead head;
    private PathIo direct;
    private NvmeRequest request;
    private long completions;

    @Setup
    public void setUp() {
        boolean rr = shape.startsWith("round-robin");
        MultipathOptions o = MultipathOptions.defaults().withIoPolicy(rr ? IoPolicy.ROUND_ROBIN : IoPolicy.NUMA);
        ManualScheduler sched = new ManualScheduler();
        MultipathSubsystem s = new MultipathSubsystem("nqn.2026-11.bench:head", o, null, sched, sched.clock(), new FailoverLog(sched.clock()));
        head = new NamespaceHead(s, 1, new NamespaceIds(null, new byte[16], null, 0), 1L << 21, 512, o, sched,
                sched.clock());
        direct = new NullPath(new PathId("127.0.0.1:4420", 1));
        head.addPath(path(direct, AnaState.OPTIMIZED, o, sched));
        if (!shape.endsWith("1-path")) {
            head.addPath(path(new NullPath(new PathId("127.0.0.1:4421", 2)),
                    rr ? AnaState.OPTIMIZED : AnaState.NON_OPTIMIZED, o, sched));
        }
        request = Commands.flush(1).callback(r -> completions++);
    }

    private static Path path(PathIo io, AnaState ana, MultipathOptions o, ManualScheduler sched) {
        Path p = new Path(io, 1, 1, o.marginalFailures(), sched.clock());
        p.anaState = ana;
        return p;
    }

    /** The baseline: the request straight to one path's transport. */
    @Benchmark
    public void direct(Blackhole bh) {
        direct.submit(request);
        bh.consume(completions);
    }

    /** The same request through the head. */
    @Benchmark
    public void head(Blackhole bh) {
        head.submit(request);
        bh.consume(completions);
    }
}
