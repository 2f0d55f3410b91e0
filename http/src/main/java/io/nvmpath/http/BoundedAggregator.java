package io.nvmpath.http;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import org.slf4j.Logger;

/**
 * The request aggregator, bounded; a request over the bound is answered {@code 413 {"error": ...}}
 * where Netty's own answer has no body. The connection is kept when the rest of the body can be
 * skipped (as Netty decides it: keep-alive, or a client waiting for 100-continue), closed otherwise.
 */
final class BoundedAggregator extends HttpObjectAggregator {
    private final int maxContentLength;
    private final String logPrefix;
    private final Logger log;

    BoundedAggregator(int maxContentLength, String logPrefix, Logger log) {
        super(maxContentLength);
        this.maxContentLength = maxContentLength;
        this.logPrefix = logPrefix;
        this.log = log;
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
                + " " + path + " is over " + maxContentLength + " bytes");
        log.debug("{}: {} {} from {} -> 413", logPrefix, request.method(), path, ctx.channel().remoteAddress());
        ctx.writeAndFlush(HttpApiHandler.response(ctx.alloc(), r, !close))
                .addListener(close ? ChannelFutureListener.CLOSE : ChannelFutureListener.CLOSE_ON_FAILURE);
    }
}
