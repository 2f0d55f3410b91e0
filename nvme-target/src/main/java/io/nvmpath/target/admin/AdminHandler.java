package io.nvmpath.target.admin;

import io.netty.buffer.ByteBuf;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * HTTP framing of the admin API on one connection. The aggregated request is read on the event
 * loop (its body copied out, the request released when this returns), answered by {@link AdminApi}
 * on the admin executor, and the response written back from there. One executor thread keeps the
 * responses of a connection in request order.
 */
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger log = LoggerFactory.getLogger(AdminHandler.class);

    private final AdminApi api;
    private final Executor admin;

    AdminHandler(AdminApi api, Executor admin) {
        this.api = api;
        this.admin = admin;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        if (request.decoderResult().isFailure()) {
            write(ctx, AdminResponse.error(HttpResponseStatus.BAD_REQUEST,
                    "malformed HTTP request: " + request.decoderResult().cause().getMessage(), null), false);
            return;
        }
        HttpMethod method = request.method();
        String path = new QueryStringDecoder(request.uri()).path();
        String body = request.content().toString(StandardCharsets.UTF_8);
        try {
            admin.execute(() -> {
                AdminResponse r = api.handle(method, path, body);
                log.debug("admin: {} {} from {} -> {}", method, path, ctx.channel().remoteAddress(), r.status());
                write(ctx, r, keepAlive);
            });
        } catch (RejectedExecutionException e) {
            write(ctx, AdminResponse.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "the target is shutting down",
                    null), false);
        }
    }

    /** Writes {@code r} (from any thread); closes the connection after it unless kept alive. */
    private static void write(ChannelHandlerContext ctx, AdminResponse r, boolean keepAlive) {
        byte[] bytes = r.body().getBytes(StandardCharsets.UTF_8);
        ByteBuf content = ctx.alloc().buffer(bytes.length).writeBytes(bytes);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, r.status(), content);
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType());
        response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
        if (r.allow() != null) {
            response.headers().set(HttpHeaderNames.ALLOW, r.allow().name());
        }
        HttpUtil.setKeepAlive(response, keepAlive);
        if (keepAlive) {
            ctx.writeAndFlush(response, ctx.voidPromise());
        } else {
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("admin: connection from {} failed", ctx.channel().remoteAddress(), cause);
        ctx.close();
    }
}
