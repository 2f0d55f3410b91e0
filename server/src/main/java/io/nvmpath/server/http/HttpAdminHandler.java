package io.nvmpath.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Function;

/**
 * HTTP framing of the gateway's API on one connection. The aggregated request is read on the event
 * loop (its body copied out, the request released when this returns), answered by {@link HttpApi}
 * on the HTTP executor, and the response written from whichever thread completes it. Responses
 * leave in request order: each waits for the one before it ({@link #previous}, touched only on the
 * event loop), so a portal still connecting holds back only its own connection.
 */
final class HttpAdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger log = LoggerFactory.getLogger(HttpAdminHandler.class);

    private final HttpApi api;
    private final Executor executor;
    /** Completes once the response to the last request read has been handed to the channel. */
    private CompletableFuture<Void> previous = CompletableFuture.completedFuture(null);

    private final HttpAccess access;
    private final boolean loopback;

    HttpAdminHandler(HttpApi api, Executor executor) {
        this(api, executor, HttpAccess.PLAIN, true);
    }

    HttpAdminHandler(HttpApi api, Executor executor, HttpAccess access, boolean loopback) {
        this.api = api;
        this.executor = executor;
        this.access = access;
        this.loopback = loopback;
    }

    /** Whether this connection's TLS client presented a certificate that the trust manager verified. */
    private static boolean verifiedClient(ChannelHandlerContext ctx) {
        io.netty.handler.ssl.SslHandler ssl = ctx.pipeline().get(io.netty.handler.ssl.SslHandler.class);
        if (ssl == null) {
            return false;
        }
        try {
            return ssl.engine().getSession().getPeerCertificates().length > 0;
        } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
            return false;
        }
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        assert ctx.executor().inEventLoop();
        HttpMethod method = request.method();
        String uri = request.uri();
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        CompletableFuture<HttpReply> reply;
        if (request.decoderResult().isFailure()) {
            keepAlive = false;
            reply = CompletableFuture.completedFuture(HttpReply.error(HttpResponseStatus.BAD_REQUEST,
                    "malformed HTTP request: " + request.decoderResult().cause().getMessage(), null));
        } else {
            String body = request.content().toString(StandardCharsets.UTF_8);
            // what the access check needs is read here; the check itself (it may read the token file) and
            // its log line run on the HTTP executor, never on the event loop
            String authorization = request.headers().get(HttpHeaderNames.AUTHORIZATION);
            boolean certificate = verifiedClient(ctx);
            java.net.SocketAddress remote = ctx.channel().remoteAddress();
            try {
                reply = CompletableFuture.supplyAsync(() -> {
                    HttpReply refusal = access.refusal(method, authorization, certificate, loopback);
                    if (refusal != null) {
                        log.info("http: {} {} from {} refused: {}", method, new QueryStringDecoder(uri).rawPath(),
                                remote, refusal.status());
                        return CompletableFuture.completedFuture(refusal);
                    }
                    return api.handle(method, uri, body);
                }, executor).thenCompose(Function.identity());
            } catch (RejectedExecutionException e) {
                keepAlive = false;
                reply = CompletableFuture.completedFuture(HttpApi.failure(method, uri, e));
            }
        }
        boolean keep = keepAlive;
        CompletableFuture<HttpReply> answered = reply;
        previous = previous.thenCompose(v -> answered).handle((r, t) -> {
            HttpReply answer = r != null ? r : HttpApi.failure(method, uri, t);
            log.debug("http: {} {} from {} -> {}", method, uri, ctx.channel().remoteAddress(), answer.status());
            write(ctx, answer, keep);
            return null;
        });
    }

    /** Writes {@code r} (from any thread); closes the connection after it unless kept alive. */
    private static void write(ChannelHandlerContext ctx, HttpReply r, boolean keepAlive) {
        FullHttpResponse response = response(ctx.alloc(), r, keepAlive);
        if (keepAlive) {
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        } else {
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        }
    }

    static FullHttpResponse response(ByteBufAllocator alloc, HttpReply r, boolean keepAlive) {
        byte[] bytes = r.body().getBytes(StandardCharsets.UTF_8);
        ByteBuf content = alloc.buffer(bytes.length).writeBytes(bytes);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, r.status(), content);
        if (r.contentType() != null) {
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType());
        }
        response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
        if (r.allow() != null) {
            response.headers().set(HttpHeaderNames.ALLOW, r.allow());
        }
        if (r.location() != null) {
            response.headers().set(HttpHeaderNames.LOCATION, r.location());
        }
        if (r.status().equals(HttpResponseStatus.UNAUTHORIZED)) {
            response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"nvmpath\"");
        }
        HttpUtil.setKeepAlive(response, keepAlive);
        return response;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("http: connection from {} failed", ctx.channel().remoteAddress(), cause);
        ctx.close();
    }

    /**
     * The request aggregator, bounded; a request over the bound is answered {@code 413 {"error": ...}}
     * where Netty's own answer has no body. The connection is kept when the rest of the body can be
     * skipped (as Netty decides it: keep-alive, or a client waiting for 100-continue), closed otherwise.
     */
    static final class Aggregator extends HttpObjectAggregator {
        private final int maxContentLength;

        Aggregator(int maxContentLength) {
            super(maxContentLength);
            this.maxContentLength = maxContentLength;
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) throws Exception {
            if (!(oversized instanceof HttpRequest request)) {
                super.handleOversizedMessage(ctx, oversized);
                return;
            }
            boolean close = oversized instanceof FullHttpMessage || !ctx.channel().config().isAutoRead()
                    || !HttpUtil.is100ContinueExpected(oversized) && !HttpUtil.isKeepAlive(oversized);
            String path = new QueryStringDecoder(request.uri()).rawPath();
            HttpReply r = HttpReply.error(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "the body of " + request.method()
                    + " " + path + " is over " + maxContentLength + " bytes", null);
            log.debug("http: {} {} from {} -> 413", request.method(), path, ctx.channel().remoteAddress());
            ctx.writeAndFlush(response(ctx.alloc(), r, !close))
                    .addListener(close ? ChannelFutureListener.CLOSE : ChannelFutureListener.CLOSE_ON_FAILURE);
        }
    }
}
