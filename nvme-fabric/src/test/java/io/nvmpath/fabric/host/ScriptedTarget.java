package io.nvmpath.fabric.host;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.ReferenceCountUtil;
import io.nvmpath.fabric.nvme.Cqe;
import io.nvmpath.fabric.nvme.IdentifyController;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A loopback NVMe/TCP controller that answers what a host {@link Controller} needs to associate and
 * stay associated (ICReq, Connect, Property Get/Set of CAP, CC and CSTS, Identify Controller, Set
 * Features, Keep Alive, Flush) and that a test can make misbehave: refuse connections, drop them,
 * leave Keep Alive or I/O unanswered. It records every command it receives and every connection it
 * accepts, so a test waits on those events instead of sleeping.
 */
final class ScriptedTarget implements AutoCloseable {
    static final String NQN = "nqn.2026-12.test:scripted";
    private static final int CNTLID = 1;
    /** CAP: MQES 127 (0's based), CAP.TO 1 (500 ms), CSS NVM, MPSMIN 0. */
    private static final long CAP = 127 | (1L << 24) | (1L << 37);
    private static final long WAIT_SECONDS = 10;

    /** One command as the target saw it. */
    record Received(int qid, int opcode, int fctype, int cdw12) {
        boolean is(int op) {
            return opcode == op;
        }
    }

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;
    private final Set<Channel> connections = ConcurrentHashMap.newKeySet();
    private final LinkedBlockingQueue<Received> arrivals = new LinkedBlockingQueue<>();
    private final List<Received> received = new ArrayList<>();
    private int acceptedCount;
    private volatile boolean refuse;
    private volatile boolean answerKeepAlive = true;
    private volatile boolean answerIo = true;
    private volatile boolean trafficBasedKeepAlive;

    ScriptedTarget() throws InterruptedException {
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ConnectionParams params = new ConnectionParams();
                        ch.pipeline().addLast(new PduDecoder(PduType.Direction.H2C, params),
                                new PduEncoder(params), new Connection());
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
    }

    TransportAddress address() {
        return new TransportAddress("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort());
    }

    /** From now on, accepted connections are closed at once, before ICResp (a controller that is gone). */
    void refuse(boolean on) {
        refuse = on;
    }

    void answerKeepAlive(boolean on) {
        answerKeepAlive = on;
    }

    /** Off: I/O commands stay outstanding (a controller that stalls). */
    void answerIo(boolean on) {
        answerIo = on;
    }

    /** Reports traffic-based keep-alive (CTRATT bit 2) in Identify Controller. */
    void trafficBasedKeepAlive(boolean on) {
        trafficBasedKeepAlive = on;
    }

    /**
     * Closes every connection open now, as a controller reset or a cable pull would — not those the
     * host opens meanwhile: closing the first one starts its reconnect at once, while the loop below
     * may still be running.
     */
    void dropConnections() {
        for (Channel ch : java.util.List.copyOf(connections)) {
            ch.close().syncUninterruptibly();
        }
    }

    /** Connections accepted so far, refused ones included. */
    synchronized int connectionsAccepted() {
        return acceptedCount;
    }

    /** Waits until {@code n} connections have been accepted in all. */
    synchronized void awaitConnections(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (acceptedCount < n) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError(acceptedCount + " connections, not " + n + ", within " + WAIT_SECONDS + " s");
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }

    private synchronized void accepted() {
        acceptedCount++;
        notifyAll();
    }

    /** Waits for the next command with {@code opcode} (earlier others are passed over). */
    Received awaitCommand(int opcode) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (true) {
            Received r = arrivals.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (r == null) {
                throw new AssertionError("no command 0x" + Integer.toHexString(opcode) + " within "
                        + WAIT_SECONDS + " s; received " + received());
            }
            if (r.is(opcode)) {
                return r;
            }
        }
    }

    /** Every command received so far, in order. */
    List<Received> received() {
        synchronized (received) {
            return List.copyOf(received);
        }
    }

    long count(int opcode) {
        return received().stream().filter(r -> r.is(opcode)).count();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        dropConnections();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** One connection's side of the protocol; its state lives on the target's event loop. */
    private final class Connection extends ChannelInboundHandlerAdapter {
        private int qid = -1;
        private long cc;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (refuse) {
                ctx.close();
            } else {
                connections.add(ctx.channel());
            }
            accepted();
            ctx.fireChannelActive();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            connections.remove(ctx.channel());
            ctx.fireChannelInactive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                switch (msg) {
                    case Pdu.ICReq r -> ctx.writeAndFlush(new Pdu.ICResp(0, 0, false, false, 8192));
                    case Pdu.CapsuleCmd cmd -> command(ctx, cmd.sqe());
                    default -> ctx.close();
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }

        private void command(ChannelHandlerContext ctx, Sqe sqe) {
            int op = sqe.opcode();
            if (op == Opcodes.FABRICS && sqe.fctype() == Opcodes.FCTYPE_CONNECT) {
                qid = sqe.cdw(10) >>> 16;
            }
            Received r = new Received(qid, op, op == Opcodes.FABRICS ? sqe.fctype() : -1, sqe.cdw(12));
            synchronized (received) {
                received.add(r);
            }
            arrivals.add(r);
            if (op == Opcodes.FABRICS) {
                fabrics(ctx, sqe);
            } else if (qid == 0) {
                admin(ctx, sqe);
            } else if (answerIo) {
                respond(ctx, sqe, Status.SUCCESS, 0, 0);
            }
        }

        private void fabrics(ChannelHandlerContext ctx, Sqe sqe) {
            switch (sqe.fctype()) {
                case Opcodes.FCTYPE_CONNECT -> respond(ctx, sqe, Status.SUCCESS, qid == 0 ? CNTLID : 0, 0);
                case Opcodes.FCTYPE_PROPERTY_SET -> {
                    if (sqe.cdw(11) == Opcodes.PROP_CC) {
                        cc = sqe.cdw(12) & 0xFFFFFFFFL;
                    }
                    respond(ctx, sqe, Status.SUCCESS, 0, 0);
                }
                case Opcodes.FCTYPE_PROPERTY_GET -> {
                    long v = switch (sqe.cdw(11)) {
                        case Opcodes.PROP_CAP -> CAP;
                        case Opcodes.PROP_CC -> cc;
                        case Opcodes.PROP_CSTS -> (cc & 1) | (((cc >>> 14) & 0x3) != 0 ? 0x8 : 0);
                        default -> 0;
                    };
                    respond(ctx, sqe, Status.SUCCESS, (int) v, (int) (v >>> 32));
                }
                default -> respond(ctx, sqe, Status.INVALID_OPCODE | Status.DNR, 0, 0);
            }
        }

        private void admin(ChannelHandlerContext ctx, Sqe sqe) {
            switch (sqe.opcode()) {
                case Opcodes.ADMIN_IDENTIFY -> {
                    if ((sqe.cdw(10) & 0xFF) != Opcodes.CNS_CONTROLLER) {
                        respond(ctx, sqe, Status.INVALID_FIELD | Status.DNR, 0, 0);
                        return;
                    }
                    ctx.write(new Pdu.C2HData(sqe.cid(), 0, identifyController(ctx), true, false));
                    respond(ctx, sqe, Status.SUCCESS, 0, 0);
                }
                case Opcodes.ADMIN_SET_FEATURES -> respond(ctx, sqe, Status.SUCCESS,
                        (sqe.cdw(10) & 0xFF) == Opcodes.FEAT_NUM_QUEUES ? sqe.cdw(11) : 0, 0);
                case Opcodes.ADMIN_ASYNC_EVENT -> {
                    // outstanding until the connection goes: this target has no events
                }
                case Opcodes.ADMIN_KEEP_ALIVE -> {
                    if (answerKeepAlive) {
                        respond(ctx, sqe, Status.SUCCESS, 0, 0);
                    }
                }
                default -> respond(ctx, sqe, Status.INVALID_OPCODE | Status.DNR, 0, 0);
            }
        }

        private ByteBuf identifyController(ChannelHandlerContext ctx) {
            ByteBuf b = ctx.alloc().buffer(IdentifyController.SIZE).writeZero(IdentifyController.SIZE);
            b.setShortLE(78, CNTLID);
            b.setIntLE(96, trafficBasedKeepAlive ? 0x4 : 0); // CTRATT
            b.setIntLE(516, 1); // NN
            b.setBytes(768, NQN.getBytes(StandardCharsets.US_ASCII));
            b.setIntLE(1792, 4); // IOCCSZ: the 64-byte SQE alone
            return b;
        }

        private void respond(ChannelHandlerContext ctx, Sqe sqe, int status, int dw0, int dw1) {
            ctx.writeAndFlush(new Pdu.CapsuleResp(new Cqe(dw0, dw1, 0, Math.max(qid, 0), sqe.cid(), status)));
        }
    }
}
