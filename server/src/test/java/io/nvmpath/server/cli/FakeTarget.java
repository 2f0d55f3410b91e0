package io.nvmpath.server.cli;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.ReferenceCountUtil;
import io.nvmpath.fabric.nvme.Cqe;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.fabric.tcp.ConnectionParams;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.fabric.tcp.PduDecoder;
import io.nvmpath.fabric.tcp.PduEncoder;
import io.nvmpath.fabric.tcp.PduType;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Just enough of an NVMe/TCP target for the command-line tests: one subsystem with one controller
 * (CNTLID 1), one 2 MiB namespace of 512-byte blocks in ANA group 1 (optimized), and a discovery
 * subsystem listing it. MDTS is 32 KiB so transfers split; writes go by R2T; reads come back in two
 * C2HData PDUs when they are longer than 4 KiB. Everything runs on one event loop, so the state needs
 * no locks. Scaffolding until the project's own nvme-target exists.
 */
final class FakeTarget implements AutoCloseable {
    static final String NQN = "nqn.2014-08.org.nvmpath:fake";
    static final int LBA_SIZE = 512;
    static final int BLOCKS = 4096;
    static final int CNTLID = 1;
    /** 2^3 pages of 4 KiB. */
    static final int MDTS = 3;

    final byte[] media = new byte[LBA_SIZE * BLOCKS];
    /** A status every Read and Write completes with, or 0. */
    volatile int ioStatus;
    volatile int maxIoInFlight;

    private final MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;
    private int ioInFlight;

    FakeTarget() throws InterruptedException {
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ConnectionParams params = new ConnectionParams();
                        ch.pipeline().addLast(new PduDecoder(PduType.Direction.H2C, params),
                                new PduEncoder(params), new Connection(params));
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

    /** One queue's connection: admin (QID 0) or I/O. */
    private final class Connection extends ChannelInboundHandlerAdapter {
        private final ConnectionParams params;
        private final Map<Integer, long[]> writes = new HashMap<>();
        private String subnqn;
        private int qid;
        private int cc;

        Connection(ConnectionParams params) {
            this.params = params;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                switch (msg) {
                    case Pdu.ICReq r -> {
                        ctx.writeAndFlush(new Pdu.ICResp(0, 0, r.headerDigest(), r.dataDigest(), 65536));
                        params.digests(r.headerDigest(), r.dataDigest());
                    }
                    case Pdu.CapsuleCmd c -> command(ctx, c.sqe(), c.data());
                    case Pdu.H2CData d -> data(ctx, d);
                    default -> ctx.close();
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void respond(ChannelHandlerContext ctx, Sqe sqe, int status, int dw0) {
            ctx.writeAndFlush(new Pdu.CapsuleResp(new Cqe(dw0, 0, 0, qid, sqe.cid(), status)));
        }

        private void command(ChannelHandlerContext ctx, Sqe sqe, ByteBuf data) {
            if (sqe.opcode() == Opcodes.FABRICS) {
                fabrics(ctx, sqe, data);
            } else if (qid == 0) {
                admin(ctx, sqe);
            } else {
                io(ctx, sqe);
            }
        }

        private void fabrics(ChannelHandlerContext ctx, Sqe sqe, ByteBuf data) {
            switch (sqe.fctype()) {
                case Opcodes.FCTYPE_CONNECT -> {
                    qid = sqe.cdw(10) >>> 16;
                    String nqn = cString(data, data.readerIndex() + 256, 256);
                    if (!nqn.equals(NQN) && !nqn.equals(Opcodes.DISCOVERY_NQN)) {
                        respond(ctx, sqe, Status.CONNECT_INVALID_PARAM | Status.DNR, 0);
                        return;
                    }
                    subnqn = nqn;
                    respond(ctx, sqe, 0, CNTLID);
                }
                case Opcodes.FCTYPE_PROPERTY_GET -> {
                    int value = switch (sqe.cdw(11)) {
                        case Opcodes.PROP_CAP -> 127 | (1 << 24);
                        case Opcodes.PROP_VS -> 0x20000;
                        case Opcodes.PROP_CC -> cc;
                        case Opcodes.PROP_CSTS -> (cc & 1) | ((cc >>> 14 & 3) != 0 ? 0x8 : 0);
                        default -> 0;
                    };
                    respond(ctx, sqe, 0, value);
                }
                case Opcodes.FCTYPE_PROPERTY_SET -> {
                    if (sqe.cdw(11) == Opcodes.PROP_CC) {
                        cc = sqe.cdw(12);
                    }
                    respond(ctx, sqe, 0, 0);
                }
                default -> respond(ctx, sqe, Status.INVALID_OPCODE | Status.DNR, 0);
            }
        }

        private void admin(ChannelHandlerContext ctx, Sqe sqe) {
            switch (sqe.opcode()) {
                case Opcodes.ADMIN_IDENTIFY -> {
                    ByteBuf page = Unpooled.buffer(4096).writeZero(4096);
                    switch (sqe.cdw(10) & 0xFF) {
                        case Opcodes.CNS_CONTROLLER -> identifyController(page);
                        case Opcodes.CNS_NAMESPACE -> identifyNamespace(page, sqe.nsid());
                        case Opcodes.CNS_NS_DESCRIPTORS -> {
                            page.setByte(0, 2);
                            page.setByte(1, 16);
                            page.setBytes(4, nguid());
                        }
                        default -> {
                            page.release();
                            respond(ctx, sqe, Status.INVALID_FIELD | Status.DNR, 0);
                            return;
                        }
                    }
                    sendData(ctx, sqe, page);
                }
                case Opcodes.ADMIN_GET_LOG_PAGE -> {
                    int lid = sqe.cdw(10) & 0xFF;
                    int length = ((sqe.cdw(10) >>> 16) + 1) * 4;
                    long offset = (sqe.cdw(12) & 0xFFFFFFFFL) | ((long) sqe.cdw(13) << 32);
                    byte[] log = lid == Opcodes.LOG_ANA ? anaLog() : lid == Opcodes.LOG_DISCOVERY ? discoveryLog() : null;
                    if (log == null) {
                        respond(ctx, sqe, Status.INVALID_LOG_PAGE | Status.DNR, 0);
                        return;
                    }
                    ByteBuf page = Unpooled.buffer(length).writeZero(length);
                    page.setBytes(0, log, (int) Math.min(offset, log.length),
                            (int) Math.max(0, Math.min(length, log.length - offset)));
                    sendData(ctx, sqe, page);
                }
                case Opcodes.ADMIN_SET_FEATURES -> respond(ctx, sqe, 0, sqe.cdw(11));
                case Opcodes.ADMIN_KEEP_ALIVE -> respond(ctx, sqe, 0, 0);
                case Opcodes.ADMIN_ASYNC_EVENT -> {
                    // held: no event ever comes
                }
                default -> respond(ctx, sqe, Status.INVALID_OPCODE | Status.DNR, 0);
            }
        }

        private void io(ChannelHandlerContext ctx, Sqe sqe) {
            int length = sqe.nlb() * LBA_SIZE;
            long offset = sqe.slba() * LBA_SIZE;
            switch (sqe.opcode()) {
                case Opcodes.NVM_FLUSH -> respond(ctx, sqe, 0, 0);
                case Opcodes.NVM_READ -> {
                    if (ioStatus != 0 || offset + length > media.length) {
                        respond(ctx, sqe, ioStatus != 0 ? ioStatus : Status.LBA_RANGE | Status.DNR, 0);
                        return;
                    }
                    sendData(ctx, sqe, Unpooled.copiedBuffer(media, (int) offset, length));
                }
                case Opcodes.NVM_WRITE -> {
                    if (ioStatus != 0 || offset + length > media.length) {
                        respond(ctx, sqe, ioStatus != 0 ? ioStatus : Status.LBA_RANGE | Status.DNR, 0);
                        return;
                    }
                    maxIoInFlight = Math.max(maxIoInFlight, ++ioInFlight);
                    writes.put(sqe.cid(), new long[] {offset, length, 0});
                    ctx.writeAndFlush(new Pdu.R2T(sqe.cid(), sqe.cid(), 0, length));
                }
                default -> respond(ctx, sqe, Status.INVALID_OPCODE | Status.DNR, 0);
            }
        }

        private void data(ChannelHandlerContext ctx, Pdu.H2CData d) {
            long[] w = writes.get(d.cccid());
            ByteBuf b = d.data();
            b.getBytes(b.readerIndex(), media, (int) (w[0] + d.datao()), b.readableBytes());
            w[2] += b.readableBytes();
            if (w[2] == w[1]) {
                writes.remove(d.cccid());
                ioInFlight--;
                ctx.writeAndFlush(new Pdu.CapsuleResp(new Cqe(0, 0, 0, qid, d.cccid(), 0)));
            }
        }

        /** Returns {@code data} in C2HData PDUs (two when longer than 4 KiB), the last with SUCCESS. */
        private void sendData(ChannelHandlerContext ctx, Sqe sqe, ByteBuf data) {
            int length = data.readableBytes();
            if (length > 4096) {
                int half = length / 2;
                ctx.write(new Pdu.C2HData(sqe.cid(), 0, data.retainedSlice(0, half), false, false));
                ctx.writeAndFlush(new Pdu.C2HData(sqe.cid(), half, data.retainedSlice(half, length - half), true, true));
                data.release();
            } else {
                ctx.writeAndFlush(new Pdu.C2HData(sqe.cid(), 0, data, true, true));
            }
        }

        private void identifyController(ByteBuf b) {
            b.setShortLE(0, 0x1b36);
            b.setBytes(4, pad("FAKE0001", 20));
            b.setBytes(24, pad("nvmpath fake target", 40));
            b.setBytes(64, pad("0.1", 8));
            b.setByte(76, 0x0a);
            b.setByte(77, MDTS);
            b.setShortLE(78, CNTLID);
            b.setIntLE(80, 0x20000);
            b.setByte(342, 10);
            b.setByte(343, 0x47);
            b.setIntLE(344, 1);
            b.setIntLE(348, 1);
            b.setByte(512, 0x66);
            b.setByte(513, 0x44);
            b.setShortLE(514, 128);
            b.setIntLE(516, 1);
            b.setBytes(768, subnqn.getBytes(StandardCharsets.US_ASCII));
            b.setIntLE(1792, 4);
            b.setIntLE(1796, 1);
            b.setByte(1803, 1);
        }

        private void identifyNamespace(ByteBuf b, int nsid) {
            if (nsid != 1) {
                return;
            }
            b.setLongLE(0, BLOCKS);
            b.setLongLE(8, BLOCKS);
            b.setLongLE(16, BLOCKS);
            b.setByte(30, 1);
            b.setIntLE(92, 1);
            b.setBytes(104, nguid());
            b.setByte(128 + 2, 9);
        }

        private byte[] anaLog() {
            ByteBuf b = Unpooled.buffer(64).writeZero(64);
            try {
                b.setLongLE(0, 1);
                b.setShortLE(8, 1);
                b.setIntLE(16, 1);
                b.setIntLE(20, 1);
                b.setLongLE(24, 1);
                b.setByte(32, 0x01);
                b.setIntLE(48, 1);
                return bytes(b);
            } finally {
                b.release();
            }
        }

        private byte[] discoveryLog() {
            ByteBuf b = Unpooled.buffer(2048).writeZero(2048);
            try {
                b.setLongLE(0, 4);
                b.setLongLE(8, 1);
                b.setByte(1024, 3);
                b.setByte(1025, 1);
                b.setByte(1026, 2);
                b.setShortLE(1028, 1);
                b.setShortLE(1030, 0xffff);
                b.setShortLE(1032, 128);
                b.setBytes(1024 + 32, String.valueOf(port()).getBytes(StandardCharsets.US_ASCII));
                b.setBytes(1024 + 256, NQN.getBytes(StandardCharsets.US_ASCII));
                b.setBytes(1024 + 512, "127.0.0.1".getBytes(StandardCharsets.US_ASCII));
                return bytes(b);
            } finally {
                b.release();
            }
        }
    }

    static byte[] nguid() {
        byte[] g = new byte[16];
        for (int i = 0; i < g.length; i++) {
            g[i] = (byte) (0xa0 + i);
        }
        return g;
    }

    private static byte[] pad(String s, int length) {
        byte[] out = new byte[length];
        java.util.Arrays.fill(out, (byte) ' ');
        byte[] v = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(v, 0, out, 0, v.length);
        return out;
    }

    private static byte[] bytes(ByteBuf b) {
        byte[] out = new byte[b.readableBytes()];
        b.getBytes(b.readerIndex(), out);
        return out;
    }

    private static String cString(ByteBuf b, int index, int max) {
        int end = index;
        while (end < index + max && b.getByte(end) != 0) {
            end++;
        }
        return b.toString(index, end - index, StandardCharsets.US_ASCII);
    }
}
