package io.nvmpath.server.block;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.util.ReferenceCountUtil;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.fabric.tcp.PduType;

import java.net.InetSocketAddress;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A TCP proxy in front of one port of the project's target that rewrites Identify data on its way to
 * the host: how a test gets a controller or namespace the target cannot be configured to present
 * (no Write Zeroes in ONCS, OPTPERF with NOWS). Frames PDUs by their common header only; tracks the
 * command ID of each Identify capsule per connection and patches the C2HData that answers it.
 * Digests must be off. Both sides of a proxied connection share one event loop, so no locks.
 */
final class IdentifyPatchingProxy implements AutoCloseable {

    /** Rewrites the 4 KiB Identify data of CNS {@code cns} in place (indexes relative to {@code data}'s reader index). */
    @FunctionalInterface
    interface Patch {
        void apply(int cns, ByteBuf data);
    }

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;

    IdentifyPatchingProxy(int targetPort, Patch patch) throws InterruptedException {
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel host) {
                        Map<Integer, Integer> identifyCns = new HashMap<>();
                        Channel target = new Bootstrap().group(host.eventLoop()).channel(NioSocketChannel.class)
                                .handler(new ChannelInitializer<SocketChannel>() {
                                    @Override
                                    protected void initChannel(SocketChannel ch) {
                                        ch.pipeline().addLast(frames(), new Relay(host, identifyCns, patch, false));
                                    }
                                })
                                .connect("127.0.0.1", targetPort)
                                .addListener((ChannelFutureListener) f -> {
                                    if (f.isSuccess()) {
                                        host.config().setAutoRead(true);
                                    } else {
                                        host.close();
                                    }
                                }).channel();
                        host.pipeline().addLast(frames(), new Relay(target, identifyCns, patch, true));
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
    }

    int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    @Override
    public void close() {
        server.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    /** Whole PDUs: PLEN is the 4 bytes at offset 4 of the common header, little-endian, counting the header. */
    private static LengthFieldBasedFrameDecoder frames() {
        return new LengthFieldBasedFrameDecoder(ByteOrder.LITTLE_ENDIAN, 64 << 20, 4, 4, -8, 0, true);
    }

    /** Forwards whole PDUs to {@code peer}; notes Identify capsules (host side) or patches their data (target side). */
    private static final class Relay extends ChannelInboundHandlerAdapter {
        private final Channel peer;
        private final Map<Integer, Integer> identifyCns;
        private final Patch patch;
        private final boolean fromHost;

        Relay(Channel peer, Map<Integer, Integer> identifyCns, Patch patch, boolean fromHost) {
            this.peer = peer;
            this.identifyCns = identifyCns;
            this.patch = patch;
            this.fromHost = fromHost;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf pdu = (ByteBuf) msg;
            int r = pdu.readerIndex();
            int type = pdu.getUnsignedByte(r);
            int flags = pdu.getUnsignedByte(r + 1);
            if ((flags & (Pdu.FLAG_HDGST | Pdu.FLAG_DDGST)) != 0) {
                ReferenceCountUtil.release(pdu);
                ctx.close();
                throw new IllegalStateException("the proxy cannot patch PDUs with digests");
            }
            if (fromHost && type == PduType.CAPSULE_CMD.code()
                    && pdu.getUnsignedByte(r + 8) == Opcodes.ADMIN_IDENTIFY) {
                int cid = pdu.getUnsignedShortLE(r + 10);
                int cdw10 = pdu.getIntLE(r + 8 + 40);
                identifyCns.put(cid, cdw10 & 0xFF);
            } else if (!fromHost && type == PduType.C2H_DATA.code()) {
                Integer cns = identifyCns.remove(pdu.getUnsignedShortLE(r + 8));
                if (cns != null && pdu.getIntLE(r + 12) == 0) {
                    int pdo = pdu.getUnsignedByte(r + 3);
                    patch.apply(cns, pdu.slice(r + pdo, pdu.getIntLE(r + 4) - pdo));
                }
            }
            peer.writeAndFlush(pdu);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            peer.close();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
