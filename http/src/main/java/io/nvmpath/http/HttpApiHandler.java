package io.nvmpath.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.ssl.SslHandler;
import org.slf4j.Logger;

import javax.net.ssl.SSLPeerUnverifiedException;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Function;

/**
 * HTTP framing of an API on one connection. The aggregated request is read on the event loop (its
 * body copied out, the request released when this returns), answered by the {@link ApiHandler} on
 * the executor, and the response written from whichever thread completes it. Responses leave in
 * request order: each waits for the one before it ({@link #previous}, touched only on the event
 * loop), so an answer that waits holds back only its own connection.
 */
final class HttpApiHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final ApiHandler api;
    private final Executor executor;
    private final String logPrefix;
    private final String unavailable;
    private final Logger log;
    /** Completes once the response to the last request read has been handed to the channel. */
    private CompletableFuture<Void> previous = CompletableFuture.completedFuture(null);

    /**
     * @param logPrefix what the log lines start with ("http", "admin")
     * @param unavailable the message of a 503 while the server shuts down
     */
    HttpApiHandler(ApiHandler api, Executor executor, String logPrefix, String unavailable, Logger log) {
        this.api = api;
        this.executor = executor;
        this.logPrefix = logPrefix;
        this.unavailable = unavailable;
        this.log = log;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        assert ctx.executor().inEventLoop();
        HttpMethod method = request.method();
        String uri = request.uri();
        String path = new QueryStringDecoder(uri).rawPath();
        SocketAddress remote = ctx.channel().remoteAddress();
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        CompletableFuture<HttpReply> reply;
        if (request.decoderResult().isFailure()) {
            keepAlive = false;
            reply = CompletableFuture.completedFuture(HttpReply.error(HttpResponseStatus.BAD_REQUEST,
                    "malformed HTTP request: " + request.decoderResult().cause().getMessage()));
        } else {
            ApiRequest r = new ApiRequest(method, uri, request.content().toString(StandardCharsets.UTF_8),
                    request.headers().copy(), verifiedClient(ctx), remote);
            try {
                reply = CompletableFuture.supplyAsync(() -> api.handle(r), executor).thenCompose(Function.identity());
            } catch (RejectedExecutionException e) {
                keepAlive = false;
                reply = CompletableFuture.completedFuture(failure(method, path, e));
            }
        }
        boolean keep = keepAlive;
        CompletableFuture<HttpReply> answered = reply;
        previous = previous.thenCompose(v -> answered).handle((r, t) -> {
            HttpReply answer = r != null ? r : failure(method, path, t);
            log.debug("{}: {} {} from {} -> {}", logPrefix, method, uri, remote, answer.status());
            write(ctx, answer, keep);
            return null;
        });
    }

    /**
     * Maps every failure to its reply, in this one place: refusals keep their status, bad arguments
     * ({@link IllegalArgumentException}) are 400, a rejected task is 503 (shutting down), anything
     * else is a 500 whose cause is logged.
     */
    HttpReply failure(HttpMethod method, String path, Throwable t) {
        Throwable e = unwrap(t);
        if (e instanceof HttpError refusal) {
            return refusal.reply();
        }
        if (e instanceof IllegalArgumentException) {
            return HttpReply.error(HttpResponseStatus.BAD_REQUEST, message(e));
        }
        if (e instanceof RejectedExecutionException) {
            return HttpReply.error(HttpResponseStatus.SERVICE_UNAVAILABLE, unavailable);
        }
        log.warn("{}: {} {} failed", logPrefix, method, path, e);
        return HttpReply.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, message(e));
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    private static String message(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }

    /** Whether this connection's TLS client presented a certificate that the trust manager verified. */
    private static boolean verifiedClient(ChannelHandlerContext ctx) {
        SslHandler ssl = ctx.pipeline().get(SslHandler.class);
        if (ssl == null) {
            return false;
        }
        try {
            return ssl.engine().getSession().getPeerCertificates().length > 0;
        } catch (SSLPeerUnverifiedException e) {
            return false;
        }
    }

    /** Writes {@code r} (from any thread); closes the connection after it unless kept alive. */
    private static void write(ChannelHandlerContext ctx, HttpReply r, boolean keepAlive) {
        ctx.writeAndFlush(response(ctx.alloc(), r, keepAlive))
                .addListener(keepAlive ? ChannelFutureListener.CLOSE_ON_FAILURE : ChannelFutureListener.CLOSE);
    }

    static FullHttpResponse response(ByteBufAllocator alloc, HttpReply r, boolean keepAlive) {
        byte[] bytes = r.body().getBytes(StandardCharsets.UTF_8);
        ByteBuf content = alloc.buffer(bytes.length).writeBytes(bytes);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, r.status(), content);
        if (r.contentType() != null) {
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType());
        }
        response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
        r.headers().forEach(response.headers()::set);
        HttpUtil.setKeepAlive(response, keepAlive);
        return response;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("{}: connection from {} failed", logPrefix, ctx.channel().remoteAddress(), cause);
        ctx.close();
    }
}
