package io.nvmpath.server.nbd;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.testing.Await;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** An {@link NbdServer} on an ephemeral port with in-memory exports the test adds and removes. */
final class NbdFixture {
    NbdFixture() {
        this(2);
    }

    /** With {@code threads} event loops (one: every connection's timers fire in deadline order). */
    NbdFixture(int threads) {
        group = new MultiThreadIoEventLoopGroup(threads, NioIoHandler.newFactory());
    }

    final EventLoopGroup group;
    final List<NbdExport> exports = new CopyOnWriteArrayList<>();
    private final List<MemoryBlockDevice> devices = new ArrayList<>();
    final NbdExports lookup = new NbdExports() {
        @Override
        public NbdExport find(String name) {
            return exports.stream().filter(e -> e.name().equals(name)).findFirst().orElse(null);
        }

        @Override
        public List<NbdExport> list() {
            return List.copyOf(exports);
        }
    };
    NbdServer server;
    InetSocketAddress address;

    /** Adds an export over a new device of {@code size} bytes. */
    NbdExport add(String name, int size, boolean readOnly, String... allow) {
        return add(name, new MemoryBlockDevice(size), readOnly, allow);
    }

    NbdExport add(String name, MemoryBlockDevice device, boolean readOnly, String... allow) {
        devices.add(device);
        NbdExport e = new NbdExport(name, "the " + name + " export", device, readOnly,
                Arrays.stream(allow).map(ClientNetwork::parse).toList(), new ExportStats());
        exports.add(e);
        return e;
    }

    MemoryBlockDevice device(NbdExport e) {
        return (MemoryBlockDevice) e.device();
    }

    InetSocketAddress start() throws Exception {
        return start(NbdServer.Config.defaults().bind("127.0.0.1", 0));
    }

    InetSocketAddress start(NbdServer.Config config) throws Exception {
        server = new NbdServer(config, group, lookup);
        address = server.start();
        return address;
    }

    /** Polls {@code condition} until it holds, for at most 10 s. */
    static void await(String what, BooleanSupplier condition) {
        Await.until(what, condition);
    }

    void close() throws Exception {
        for (MemoryBlockDevice d : devices) {
            d.shutdown(); // lets held completions go, so their buffers are released
        }
        if (server != null) {
            server.close();
            await("every connection closed", () -> server.connections() == 0);
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
