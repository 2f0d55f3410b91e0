package io.nvmpath.server.block;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.PathStats;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.testing.Await;
import io.nvmpath.multipath.ControllerPathIo;
import io.nvmpath.multipath.Multipath;
import io.nvmpath.multipath.MultipathOptions;
import io.nvmpath.multipath.NamespaceHead;
import io.nvmpath.multipath.Path;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The project's demo target in-process (1 GiB memory namespace, 512-byte blocks, two ports) with a
 * Multipath over both ports, optionally through {@link IdentifyPatchingProxy}s: the namespace head a
 * {@link HeadBlockDevice} is tested over.
 */
final class DemoNamespace implements AutoCloseable {
    final NvmeTarget target;
    final EventLoopGroup loops;
    final Multipath mp;
    private final List<IdentifyPatchingProxy> proxies = new ArrayList<>();

    /**
     * @param mdts the target's MDTS (2^mdts pages of 4 KiB), small so that requests split
     * @param patch rewrites Identify data on the way to the host, or {@code null} to connect directly
     */
    DemoNamespace(int mdts, IdentifyPatchingProxy.Patch patch) throws Exception {
        TargetConfig demo = TargetConfig.demo(0, 0, 0, 0);
        TargetConfig.Limits d = demo.limits();
        TargetConfig.Limits limits = new TargetConfig.Limits(mdts, d.inCapsuleDataSize(), d.maxH2CData(),
                d.ioQueueSize(), d.maxIoQueues(), d.headerDigest(), d.dataDigest());
        target = NvmeTarget.start(new TargetConfig(demo.subsystems(), demo.ports(), demo.discovery(), limits,
                demo.admin(), demo.anatt()).validate());
        loops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        ControllerOptions co = new ControllerOptions().keepAliveTimeout(Duration.ofSeconds(1))
                .reconnectDelay(Duration.ofMillis(200)).connectTimeout(Duration.ofSeconds(2));
        mp = new Multipath(MultipathOptions.defaults().withController(co), loops);
        for (int ref = 1; ref <= 2; ref++) {
            int port = target.port(ref);
            if (patch != null) {
                IdentifyPatchingProxy proxy = new IdentifyPatchingProxy(port, patch);
                proxies.add(proxy);
                port = proxy.port();
            }
            mp.addPortal(new TransportAddress("127.0.0.1", port), TargetConfig.DEMO_NQN).get(10, TimeUnit.SECONDS);
        }
        Await.until("the demo namespace has a head with two paths", () -> head() != null && head().paths().size() == 2);
    }

    NamespaceHead head() {
        return mp.head(TargetConfig.DEMO_NQN, 1);
    }

    /** Commands of {@code kind} completed through every path of the head so far. */
    long ops(PathStats.Kind kind) {
        long n = 0;
        for (Path p : head().paths()) {
            n += ((ControllerPathIo) p.io()).controller().stats().ops(kind);
        }
        return n;
    }

    /** Commands that failed with {@code status} (SCT and SC) through every path so far. */
    long errors(int status) {
        long n = 0;
        for (Path p : head().paths()) {
            n += ((ControllerPathIo) p.io()).controller().stats().errors().getOrDefault(status & 0x7FF, 0L);
        }
        return n;
    }

    /**
     * Once no command is outstanding on any path, drains the event loops: every completion that was
     * on its way to a caller has reached it.
     */
    void quiesce() {
        Await.until("no command outstanding on the paths", () -> inFlight() == 0);
        Await.drain(loops);
    }

    /** Commands outstanding on every path (none once the head is gone). */
    int inFlight() {
        NamespaceHead head = head();
        if (head == null) {
            return 0;
        }
        int n = 0;
        for (Path p : head.paths()) {
            n += p.io().inFlight();
        }
        return n;
    }

    @Override
    public void close() {
        mp.close();
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        for (IdentifyPatchingProxy p : proxies) {
            p.close();
        }
        target.close();
    }
}
