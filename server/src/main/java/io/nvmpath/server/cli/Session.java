package io.nvmpath.server.cli;

import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.transport.Transport;

import java.util.concurrent.TimeUnit;

/**
 * One command's association with one controller: its own event loops, a connected {@link Controller},
 * and on close a controller shutdown (CC.SHN) and the loops stopped.
 */
final class Session implements AutoCloseable {
    /** Connect: TCP, ICReq, Connect, enable, Identify, I/O queues (each step bounded by the controller). */
    static final long CONNECT_SECONDS = 30;
    /** Admin commands; the controller resets a command outstanding past its admin timeout (60 s). */
    static final long ADMIN_SECONDS = 75;
    private static final long SHUTDOWN_SECONDS = 10;

    private final MultiThreadIoEventLoopGroup group;
    private final Controller controller;

    private Session(MultiThreadIoEventLoopGroup group, Controller controller) {
        this.group = group;
        this.controller = controller;
    }

    /**
     * Connects to {@code nqn} at {@code address}.
     *
     * @param threads event loops: 1 for admin work, 2 to keep the I/O queue off the admin queue's loop
     */
    static Session connect(TransportAddress address, String nqn, ControllerOptions options, int threads) {
        MultiThreadIoEventLoopGroup group = Transport.process().newGroup(threads, "nvmpath-io");
        try {
            Controller c = Failures.await(Controller.connect(address, nqn, options, group), CONNECT_SECONDS,
                    "the connection to " + nqn + " at " + address);
            return new Session(group, c);
        } catch (RuntimeException | Error e) {
            stop(group);
            throw e;
        }
    }

    Controller controller() {
        return controller;
    }

    @Override
    public void close() {
        try {
            controller.shutdown().get(SHUTDOWN_SECONDS, TimeUnit.SECONDS);
        } catch (Exception e) {
            // the association is going away either way; what the command did already stands
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
        } finally {
            stop(group);
        }
    }

    private static void stop(MultiThreadIoEventLoopGroup group) {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
