package io.nvmpath.transport;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoopGroup;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringAdaptiveBufferRingAllocator;
import io.netty.channel.uring.IoUringBufferRingConfig;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringIoHandlerConfig;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Collections;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.WeakHashMap;

/**
 * The socket transport every event loop and channel of the process uses: Linux's io_uring where the
 * kernel (and a container's seccomp profile) allows it, epoll otherwise, Java NIO as the last resort.
 * The choice is made once at start ({@link #select}); channels learn it from their event loop group
 * ({@link #of}), so a group and its channels can never disagree.
 */
public enum Transport {
    /** Linux io_uring (5.9 or newer, not blocked by seccomp): fewest syscalls per I/O. */
    IO_URING("io_uring", IoUringIoHandler.class),
    /** Linux epoll: native readiness notification, edge-triggered. */
    EPOLL("epoll", EpollIoHandler.class),
    /** Java NIO selectors: any platform. */
    NIO("nio", NioIoHandler.class);

    /** The environment variable that sets the transport: {@code auto}, {@code io_uring}, {@code epoll} or {@code nio}. */
    public static final String ENV = "NVMPATH_TRANSPORT";
    /** The system property that sets the transport; it wins over {@link #ENV}. */
    public static final String PROPERTY = "nvmpath.transport";

    /**
     * {@code -Dnvmpath.iouring.receiveRing=true}: io_uring groups receive into a ring of provided
     * buffers (multishot receive, one buffer group per event loop) instead of one receive request per
     * read. An experiment, off by default, compared in the NBD benchmark's variants.
     */
    public static final String RECEIVE_RING_PROPERTY = "nvmpath.iouring.receiveRing";
    /** The buffer group of the receive ring on every event loop of a ring group. */
    static final short RECEIVE_RING_GROUP = 1;

    private static final Logger LOG = LoggerFactory.getLogger(Transport.class);
    private static volatile Transport processTransport;
    /** Groups whose event loops have the receive ring: their channels must name its buffer group. */
    private static final Set<EventLoopGroup> RING_GROUPS = Collections.synchronizedSet(
            Collections.newSetFromMap(new WeakHashMap<>()));

    private final String configName;
    private final Class<? extends IoHandler> handlerType;

    Transport(String configName, Class<? extends IoHandler> handlerType) {
        this.configName = configName;
        this.handlerType = handlerType;
    }

    /** The name used in configuration, logs and metrics. */
    public String configName() {
        return configName;
    }

    /** Whether this transport works in this process (native library loaded, kernel and seccomp allow it). */
    public boolean isAvailable() {
        return switch (this) {
            case IO_URING -> IoUring.isAvailable();
            case EPOLL -> Epoll.isAvailable();
            case NIO -> true;
        };
    }

    /** Why this transport is unavailable, when it is. */
    public Optional<Throwable> unavailabilityCause() {
        return switch (this) {
            case IO_URING -> Optional.ofNullable(IoUring.unavailabilityCause());
            case EPOLL -> Optional.ofNullable(Epoll.unavailabilityCause());
            case NIO -> Optional.empty();
        };
    }

    /** The factory of this transport's I/O handlers, one per event loop. */
    public IoHandlerFactory ioHandlerFactory() {
        return ioHandlerFactory(false);
    }

    private IoHandlerFactory ioHandlerFactory(boolean receiveRing) {
        return switch (this) {
            case IO_URING -> receiveRing ? IoUringIoHandler.newFactory(new IoUringIoHandlerConfig().setBufferRingConfig(
                    IoUringBufferRingConfig.builder().bufferGroupId(RECEIVE_RING_GROUP).bufferRingSize((short) 256)
                            .batchSize(64).allocator(new IoUringAdaptiveBufferRingAllocator()).build()))
                    : IoUringIoHandler.newFactory();
            case EPOLL -> EpollIoHandler.newFactory();
            case NIO -> NioIoHandler.newFactory();
        };
    }

    /**
     * An event loop group of this transport; its threads are named {@code poolName-N-M}. On io_uring
     * with {@link #RECEIVE_RING_PROPERTY} set, its loops receive into a buffer ring.
     */
    public MultiThreadIoEventLoopGroup newGroup(int threads, String poolName) {
        return newGroup(threads, poolName, Boolean.getBoolean(RECEIVE_RING_PROPERTY));
    }

    /** As {@link #newGroup(int, String)}, with or without the receive ring (io_uring only). */
    MultiThreadIoEventLoopGroup newGroup(int threads, String poolName, boolean receiveRing) {
        boolean ring = receiveRing && this == IO_URING;
        MultiThreadIoEventLoopGroup g = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(poolName, true),
                ioHandlerFactory(ring));
        if (ring) {
            RING_GROUPS.add(g);
        }
        return g;
    }

    /** Sets what a client channel on {@code group} (or one of its loops) needs from its transport. */
    public static Bootstrap configure(Bootstrap b, EventLoopGroup group) {
        if (hasReceiveRing(group)) {
            b.option(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, RECEIVE_RING_GROUP);
        }
        return b;
    }

    /** Sets what the accepted channels of a listener on {@code group} need from its transport. */
    public static ServerBootstrap configureChildren(ServerBootstrap b, EventLoopGroup group) {
        if (hasReceiveRing(group)) {
            b.childOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, RECEIVE_RING_GROUP);
        }
        return b;
    }

    private static boolean hasReceiveRing(EventLoopGroup group) {
        return RING_GROUPS.contains(group) || group instanceof EventLoop loop && RING_GROUPS.contains(loop.parent());
    }

    /** The client socket channel class of this transport. */
    public Class<? extends SocketChannel> socketChannel() {
        return switch (this) {
            case IO_URING -> IoUringSocketChannel.class;
            case EPOLL -> EpollSocketChannel.class;
            case NIO -> NioSocketChannel.class;
        };
    }

    /** The listening socket channel class of this transport. */
    public Class<? extends ServerSocketChannel> serverSocketChannel() {
        return switch (this) {
            case IO_URING -> IoUringServerSocketChannel.class;
            case EPOLL -> EpollServerSocketChannel.class;
            case NIO -> NioServerSocketChannel.class;
        };
    }

    /**
     * The transport of an event loop group made by {@link #newGroup} (or by hand with one of the three
     * handler factories).
     *
     * @throws IllegalArgumentException for a group of another kind (an embedded or local one)
     */
    public static Transport of(EventLoopGroup group) {
        if (group instanceof IoEventLoopGroup io) {
            for (Transport t : values()) {
                if (io.isIoType(t.handlerType)) {
                    return t;
                }
            }
        }
        throw new IllegalArgumentException("not an io_uring, epoll or NIO event loop group: " + group);
    }

    /**
     * The transport named by a setting: {@code auto} (or null or blank) takes the first available of
     * io_uring, epoll, NIO; a named one must be available.
     *
     * @throws IllegalArgumentException for an unknown name, or a named transport this process cannot use
     */
    public static Transport select(String setting) {
        String name = setting == null ? "" : setting.strip().toLowerCase(Locale.ROOT);
        if (name.isEmpty() || name.equals("auto")) {
            for (Transport t : values()) {
                if (t.isAvailable()) {
                    return t;
                }
            }
            return NIO;
        }
        for (Transport t : values()) {
            if (t.configName.equals(name) || t.name().toLowerCase(Locale.ROOT).equals(name)) {
                if (!t.isAvailable()) {
                    throw new IllegalArgumentException("transport " + t.configName + " is not available here: "
                            + t.unavailabilityCause().map(Throwable::getMessage).orElse("unknown reason"));
                }
                return t;
            }
        }
        throw new IllegalArgumentException("unknown transport '" + setting + "' (expected auto, io_uring, epoll or nio)");
    }

    /**
     * The transport this process was told to use: {@link #PROPERTY}, else {@link #ENV}, else {@code auto}.
     *
     * @throws IllegalArgumentException as {@link #select} does
     */
    public static Transport fromEnvironment() {
        String setting = System.getProperty(PROPERTY);
        if (setting == null) {
            setting = System.getenv(ENV);
        }
        return select(setting);
    }

    /**
     * What {@link #fromEnvironment} chooses, decided once per process; the first call logs the choice
     * and why the transports before it were passed over.
     *
     * @throws IllegalArgumentException as {@link #select} does (and again on every call until fixed)
     */
    public static Transport process() {
        Transport t = processTransport;
        if (t == null) {
            synchronized (Transport.class) {
                t = processTransport;
                if (t == null) {
                    t = fromEnvironment();
                    StringBuilder why = new StringBuilder();
                    for (Transport before : values()) {
                        if (before == t) {
                            break;
                        }
                        before.unavailabilityCause().ifPresent(c -> why.append("; ").append(before.configName)
                                .append(" unavailable: ").append(c.getMessage()));
                    }
                    LOG.info("socket transport: {}{}", t.configName, why);
                    processTransport = t;
                }
            }
        }
        return t;
    }
}
