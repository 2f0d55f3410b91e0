package io.nvmpath.fabric.tls;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.util.ReferenceCountUtil;
import org.bouncycastle.tls.TlsClientProtocol;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.TlsFatalAlertReceived;
import org.bouncycastle.tls.TlsProtocol;
import org.bouncycastle.tls.TlsServerProtocol;
import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.crypto.TlsCrypto;
import org.bouncycastle.tls.crypto.impl.jcajce.JcaTlsCryptoProvider;

import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * TLS 1.3 with a pre-shared key between the socket and the PDU codec: bytes read are offered to Bouncy
 * Castle's protocol in its non-blocking mode and the application data it yields goes up the pipeline;
 * buffers written down the pipeline are encrypted into records. Writes made before the handshake
 * completes (the host's ICReq) wait for it, in order.
 *
 * <p>A failed handshake closes the connection after firing a {@link TlsHandshakeException} that names
 * the alert; a peer's close_notify closes it too. All on the channel's event loop.
 */
public final class TlsPskHandler extends ChannelDuplexHandler {
    private static final SecureRandom RANDOM = new SecureRandom();
    /**
     * The JDK's own providers for the record layer and key exchange (SunJCE's AES-GCM runs on the CPU's
     * AES instructions, Bouncy Castle's lightweight one does not: 128 KiB reads over TLS ran at 65-70
     * MiB/s with it and 670-890 MiB/s with these, in one run), and Bouncy Castle only for the protocol.
     */
    private static final TlsCrypto CRYPTO = new JcaTlsCryptoProvider().create(RANDOM);

    private record Pending(ByteBuf data, ChannelPromise promise) {
    }

    private final TlsProtocol protocol;
    private final PskTlsClient client;
    private final PskTlsServer server;
    private final CompletableFuture<PskCredentials> handshake = new CompletableFuture<>();
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private PskCredentials established;
    private boolean started;
    private boolean failed;

    private TlsPskHandler(PskCredentials clientCredentials, Function<String, PskCredentials> serverKeys,
                          int[] clientSuites) {
        if (clientCredentials != null) {
            protocol = new TlsClientProtocol();
            client = new PskTlsClient(CRYPTO, clientCredentials, () -> established = clientCredentials, clientSuites);
            server = null;
        } else {
            protocol = new TlsServerProtocol();
            client = null;
            server = new PskTlsServer(CRYPTO, serverKeys, c -> established = c);
        }
    }

    /** The host's side: offers {@code credentials}. */
    public static TlsPskHandler client(PskCredentials credentials) {
        return new TlsPskHandler(java.util.Objects.requireNonNull(credentials, "credentials"), null, null);
    }

    /** A host side that offers {@code suites} in that order, as another TLS stack may (tests). */
    static TlsPskHandler client(PskCredentials credentials, int... suites) {
        return new TlsPskHandler(java.util.Objects.requireNonNull(credentials, "credentials"), null, suites);
    }

    /** The target's side: {@code keys} gives the credentials of an offered identity, or null for none. */
    public static TlsPskHandler server(Function<String, PskCredentials> keys) {
        return new TlsPskHandler(null, java.util.Objects.requireNonNull(keys, "keys"), null);
    }

    /** The cipher suite the handshake agreed on (e.g. {@code TLS_AES_256_GCM_SHA384}); null before it completes. */
    public String cipherSuite() {
        if (!handshake.isDone() || handshake.isCompletedExceptionally()) {
            return null;
        }
        return PskSuites.name(client != null ? client.negotiatedSuite() : server.negotiatedSuite());
    }

    /** Completes with the credentials the handshake used; fails with a {@link TlsHandshakeException}. */
    public CompletableFuture<PskCredentials> handshake() {
        return handshake;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        if (ctx.channel().isActive()) {
            start(ctx);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        start(ctx);
        ctx.fireChannelActive();
    }

    /** Once: a server's child channel is active when the handler is added, and tells so again. */
    private void start(ChannelHandlerContext ctx) {
        if (started) {
            return;
        }
        started = true;
        try {
            if (client != null) {
                ((TlsClientProtocol) protocol).connect(client);
            } else {
                ((TlsServerProtocol) protocol).accept(server);
            }
            sendRecords(ctx);
            ctx.flush();
        } catch (IOException e) {
            fail(ctx, e);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ctx.fireChannelRead(msg);
            return;
        }
        try {
            if (failed) {
                return;
            }
            byte[] bytes = new byte[in.readableBytes()];
            in.readBytes(bytes);
            protocol.offerInput(bytes);
        } catch (IOException e) {
            fail(ctx, e);
            return;
        } finally {
            in.release();
        }
        sendRecords(ctx);
        if (established != null && !handshake.isDone()) {
            handshake.complete(established);
            writePending(ctx);
        }
        ctx.flush();
        int n = protocol.getAvailableInputBytes();
        if (n > 0) {
            ByteBuf plain = ctx.alloc().heapBuffer(n);
            protocol.readInput(plain.array(), plain.arrayOffset() + plain.writerIndex(), n);
            plain.writerIndex(plain.writerIndex() + n);
            ctx.fireChannelRead(plain);
        }
        if (protocol.isClosed() && !failed) {
            ctx.close(); // the peer's close_notify
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!(msg instanceof ByteBuf data)) {
            ctx.write(msg, promise);
            return;
        }
        if (failed) {
            data.release();
            promise.tryFailure(new TlsHandshakeException("TLS: the connection failed", null));
            return;
        }
        if (!handshake.isDone()) {
            pending.add(new Pending(data, promise));
            return;
        }
        encrypt(ctx, data, promise);
    }

    private void encrypt(ChannelHandlerContext ctx, ByteBuf data, ChannelPromise promise) {
        try {
            byte[] bytes = new byte[data.readableBytes()];
            data.readBytes(bytes);
            protocol.writeApplicationData(bytes, 0, bytes.length);
        } catch (IOException e) {
            promise.tryFailure(e);
            fail(ctx, e);
            return;
        } finally {
            data.release();
        }
        int n = protocol.getAvailableOutputBytes();
        ByteBuf out = ctx.alloc().heapBuffer(n);
        protocol.readOutput(out.array(), out.arrayOffset() + out.writerIndex(), n);
        out.writerIndex(out.writerIndex() + n);
        ctx.write(out, promise);
    }

    private void writePending(ChannelHandlerContext ctx) {
        Pending p;
        while ((p = pending.poll()) != null) {
            encrypt(ctx, p.data, p.promise);
        }
    }

    /** Handshake records (and alerts) the protocol has to send. */
    private void sendRecords(ChannelHandlerContext ctx) {
        int n = protocol.getAvailableOutputBytes();
        if (n > 0) {
            ByteBuf out = ctx.alloc().heapBuffer(n);
            protocol.readOutput(out.array(), out.arrayOffset() + out.writerIndex(), n);
            out.writerIndex(out.writerIndex() + n);
            ctx.write(out); // a failure (the peer closed first) surfaces as the connection's close, not here
        }
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) throws Exception {
        if (!failed && handshake.isDone() && !protocol.isClosed()) {
            try {
                protocol.close(); // close_notify
                sendRecords(ctx);
                ctx.flush();
            } catch (IOException e) {
                // closing anyway
            }
        }
        ctx.close(promise);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        failPending(new TlsHandshakeException("TLS: the connection closed before the handshake completed", null));
        if (!handshake.isDone()) {
            handshake.completeExceptionally(new TlsHandshakeException(
                    "TLS handshake failed: the connection closed before it completed", null));
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        failPending(new TlsHandshakeException("TLS: the handler was removed", null));
    }

    private void failPending(Throwable why) {
        Pending p;
        while ((p = pending.poll()) != null) {
            ReferenceCountUtil.release(p.data);
            p.promise.tryFailure(why);
        }
    }

    private void fail(ChannelHandlerContext ctx, IOException e) {
        if (failed) {
            return;
        }
        failed = true;
        // no cause: callers report the root cause's message, and this one already names the alert
        TlsHandshakeException why = new TlsHandshakeException(describe(e), null);
        sendRecords(ctx); // the alert, if the protocol queued one
        ctx.flush();
        failPending(why);
        handshake.completeExceptionally(why);
        ctx.fireExceptionCaught(why);
        ctx.close();
    }

    /** One line: the step and the alert. */
    private String describe(IOException e) {
        String step = handshake.isDone() ? "TLS" : "TLS handshake failed";
        if (e instanceof TlsFatalAlertReceived r) {
            return step + ": the peer sent alert " + AlertDescription.getText(r.getAlertDescription());
        }
        if (e instanceof TlsFatalAlert a) {
            return step + ": " + AlertDescription.getText(a.getAlertDescription())
                    + (client != null && a.getAlertDescription() == AlertDescription.handshake_failure
                    ? " (does the peer hold this PSK identity?)" : "");
        }
        return step + ": " + e.getMessage();
    }
}
