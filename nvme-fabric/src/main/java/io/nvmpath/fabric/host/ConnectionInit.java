package io.nvmpath.fabric.host;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.nvmpath.fabric.tcp.ConnectionParams;
import io.nvmpath.fabric.tcp.Pdu;
import io.nvmpath.fabric.tcp.PduDecoder;
import io.nvmpath.fabric.tcp.PduEncoder;
import io.nvmpath.fabric.tcp.PduException;
import io.nvmpath.fabric.tcp.PduType;
import io.nvmpath.fabric.tcp.TermReqStatus;
import io.nvmpath.fabric.tls.PskCredentials;
import io.nvmpath.fabric.tls.TlsPskHandler;
import io.nvmpath.transport.SocketErrors;
import io.nvmpath.transport.Transport;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Brings one queue's NVMe/TCP connection up to where it carries capsules: the TCP connect, the
 * channel pipeline, and the connection initialization, ICReq out and ICResp checked, whose digests,
 * CPDA and MAXH2CDATA then apply to the connection (Linux {@code nvme_tcp_alloc_queue} and
 * {@code nvme_tcp_init_connection}). The Fabrics Connect that follows is the {@link Association}'s.
 *
 * <p>A handler between the PDU decoder and the {@link HostQueue} until ICResp is accepted, then it
 * leaves the pipeline: the data path never passes through it. Until then it lets through what the
 * queue handles in any phase (a decoder error, a TermReq) and turns any other PDU into a PDU
 * sequence error, reported in-band as the decoder reports bad input, for the queue to terminate the
 * connection. When the queue closes first, the set-up fails with the queue's reason.
 *
 * <p>On the connection's event loop.
 */
final class ConnectionInit extends ChannelInboundHandlerAdapter {
    private final ControllerOptions options;
    private final ConnectionParams params;
    private final HostQueue queue;
    private final CompletableFuture<HostQueue> ready = new CompletableFuture<>();

    private ConnectionInit(EventLoop loop, TransportAddress address, int qid, int size, ControllerOptions options,
                           HostQueue.Owner owner) {
        this.options = options;
        this.params = new ConnectionParams().maxRxData(options.maxPduData());
        this.queue = new HostQueue(loop, qid, size, address, options, params, (q, reason) -> {
            if (!ready.isDone()) {
                ready.completeExceptionally(new TransportException(address + ": " + reason));
            }
            owner.queueFailed(q, reason);
        });
    }

    /**
     * Opens the TCP connection and exchanges ICReq/ICResp. The future completes once the queue can
     * take commands (the Fabrics Connect is the caller's first one).
     */
    static CompletableFuture<HostQueue> open(EventLoop loop, TransportAddress address, int qid, int size,
                                             ControllerOptions options, PskCredentials tls, HostQueue.Owner owner) {
        ConnectionInit init = new ConnectionInit(loop, address, qid, size, options, owner);
        Bootstrap b = Transport.configure(new Bootstrap(), loop)
                .group(loop)
                .channel(Transport.of(loop).socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) options.connectTimeout().toMillis())
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (tls != null) {
                            // below the PDU codec: the ICReq waits in it for the handshake
                            ch.pipeline().addLast("tls", TlsPskHandler.client(tls));
                        }
                        init.install(ch);
                    }
                });
        b.connect(address.traddr(), address.trsvcid()).addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                init.ready.completeExceptionally(new TransportException(
                        "cannot connect to " + address + ": " + SocketErrors.rootMessage(f.cause()), f.cause()));
            } else if (f.channel().localAddress() != null
                    && f.channel().localAddress().equals(f.channel().remoteAddress())) {
                // TCP self-connect: nothing listens on a loopback port in the ephemeral range and the
                // kernel picked that same port as our source; holding it would keep the target from
                // listening there again
                f.channel().close();
                init.ready.completeExceptionally(new TransportException("cannot connect to " + address
                        + ": connected to itself (nothing listens there)"));
            }
        });
        options.scheduler().schedule(loop, () -> {
            if (!init.ready.isDone()) {
                // one message whether or not the TCP connection was up yet (then closing the queue
                // reports nothing): the set-up did not finish within the connect timeout
                String why = "no ICResp within " + options.connectTimeout().toMillis() + " ms";
                init.queue.close(why);
                init.ready.completeExceptionally(new TransportException(address + ": " + why));
            }
        }, options.connectTimeout().toMillis(), TimeUnit.MILLISECONDS);
        return init.ready;
    }

    /**
     * Sets a queue up on an already created channel (tests use an EmbeddedChannel): call from the
     * channel's initializer, before it becomes active. The future completes as {@link #open}'s does.
     */
    static CompletableFuture<HostQueue> attach(Channel ch, int qid, int size, ControllerOptions options,
                                               HostQueue.Owner owner) {
        ConnectionInit init = new ConnectionInit(ch.eventLoop(), new TransportAddress("embedded", 1), qid, size,
                options, owner);
        init.install(ch);
        return init.ready;
    }

    private void install(Channel ch) {
        ch.pipeline().addLast("pdu-decoder", new PduDecoder(PduType.Direction.C2H, params));
        ch.pipeline().addLast("pdu-encoder", new PduEncoder(params));
        ch.pipeline().addLast("connection-init", this);
        ch.pipeline().addLast("queue", queue);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.writeAndFlush(new Pdu.ICReq(0, 0, options.headerDigest(), options.dataDigest(), 0), ctx.voidPromise());
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (ready.isDone()) {
            // the queue closed during set-up: it drops what still arrives
            ctx.fireChannelRead(msg);
            return;
        }
        switch (msg) {
            case Pdu.ICResp r -> onICResp(ctx, r);
            case Pdu.TermReq t -> ctx.fireChannelRead(t);
            case Pdu p -> {
                ReferenceCountUtil.release(p);
                ctx.fireChannelRead(new PduException(TermReqStatus.PDU_SEQUENCE_ERROR, 0, p.type() + " before ICResp"));
            }
            default -> ctx.fireChannelRead(msg);
        }
    }

    private void onICResp(ChannelHandlerContext ctx, Pdu.ICResp r) {
        PduException bad = check(r);
        if (bad != null) {
            ctx.fireChannelRead(bad);
            return;
        }
        params.digests(r.headerDigest(), r.dataDigest()).peerDataAlignment(r.cpda());
        ctx.pipeline().remove(this);
        queue.initialized(r.maxh2cdata());
        ready.complete(queue);
    }

    /** What is wrong with {@code r} for this host, or {@code null} when the connection may use it. */
    private PduException check(Pdu.ICResp r) {
        if (r.pfv() != 0) {
            return new PduException(TermReqStatus.UNSUPPORTED_PARAMETER, 8, "ICResp PFV " + r.pfv());
        }
        if ((r.headerDigest() && !options.headerDigest()) || (r.dataDigest() && !options.dataDigest())) {
            return new PduException(TermReqStatus.INVALID_HEADER_FIELD, 11,
                    "ICResp enables a digest the host did not ask for");
        }
        if (r.maxh2cdata() < 4096 || (r.maxh2cdata() & 3) != 0) {
            return new PduException(TermReqStatus.INVALID_HEADER_FIELD, 12, "ICResp MAXH2CDATA " + r.maxh2cdata());
        }
        if (r.cpda() > 31) {
            return new PduException(TermReqStatus.INVALID_HEADER_FIELD, 10, "ICResp CPDA " + r.cpda());
        }
        return null;
    }
}
