package io.nvmpath.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The framing of one connection, on an {@link EmbeddedChannel} with the executor running tasks at
 * once: what a client reads back for each request, in which order, and whether the connection stays.
 */
class HttpApiHandlerTest {
    private static final Logger LOG = LoggerFactory.getLogger(HttpApiHandlerTest.class);
    private static final int MAX_BODY = 64;

    private final List<ApiRequest> seen = new ArrayList<>();
    private EmbeddedChannel channel;

    private EmbeddedChannel connection(ApiHandler api, Executor executor) {
        channel = new EmbeddedChannel(new HttpServerCodec(), new BoundedAggregator(MAX_BODY, "test", LOG),
                new HttpApiHandler(r -> {
                    seen.add(r);
                    return api.handle(r);
                }, executor, "test", "the test server is shutting down", LOG));
        return channel;
    }

    private EmbeddedChannel connection(ApiHandler api) {
        return connection(api, Runnable::run);
    }

    @AfterEach
    void release() {
        if (channel != null) {
            channel.finishAndReleaseAll();
        }
    }

    private static void send(EmbeddedChannel ch, String request) {
        ch.writeInbound(Unpooled.copiedBuffer(request, StandardCharsets.US_ASCII));
    }

    /** Everything the server wrote so far, as text. */
    private static String written(EmbeddedChannel ch) {
        StringBuilder out = new StringBuilder();
        for (Object o; (o = ch.readOutbound()) != null; ) {
            ByteBuf b = (ByteBuf) o;
            try {
                out.append(b.toString(StandardCharsets.UTF_8));
            } finally {
                b.release();
            }
        }
        return out.toString();
    }

    private static CompletableFuture<HttpReply> ok(String body) {
        return CompletableFuture.completedFuture(HttpReply.text(HttpResponseStatus.OK, HttpReply.TEXT, body));
    }

    @Test
    void should_answer_with_status_type_length_and_the_replys_headers_and_keep_the_connection() {
        EmbeddedChannel ch = connection(r -> CompletableFuture.completedFuture(
                HttpReply.json(HttpResponseStatus.CREATED, Map.of("state", "connected"), new com.fasterxml.jackson.databind.ObjectMapper())
                        .withHeader("location", "/api/v1/portals?traddr=x")));

        send(ch, "POST /api/v1/portals?x=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\nContent-Length: 2\r\n\r\n{}");

        assertThat(written(ch)).isEqualTo("HTTP/1.1 201 Created\r\ncontent-type: application/json; charset=utf-8\r\n"
                + "content-length: 21\r\nlocation: /api/v1/portals?traddr=x\r\n\r\n{\"state\":\"connected\"}");
        assertThat(ch.isOpen()).isTrue();
        ApiRequest r = seen.get(0);
        assertThat(r.method()).isEqualTo(HttpMethod.POST);
        assertThat(r.rawPath()).isEqualTo("/api/v1/portals");
        assertThat(r.parameters()).containsEntry("x", List.of("1"));
        assertThat(r.body()).isEqualTo("{}");
        assertThat(r.header("authorization")).isEqualTo("Bearer t");
        assertThat(r.clientCertificate()).isFalse();
    }

    @Test
    void should_answer_pipelined_requests_in_order_even_when_the_first_waits() {
        CompletableFuture<HttpReply> first = new CompletableFuture<>();
        EmbeddedChannel ch = connection(r -> r.rawPath().equals("/slow") ? first : ok("fast"));

        send(ch, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\nGET /fast HTTP/1.1\r\nHost: h\r\n\r\n");

        assertThat(seen).hasSize(2);
        assertThat(written(ch)).as("the second waits for the first").isEmpty();

        first.complete(HttpReply.text(HttpResponseStatus.OK, HttpReply.TEXT, "slow"));
        String out = written(ch);

        assertThat(out).endsWith("fast");
        assertThat(out.indexOf("slow")).isLessThan(out.indexOf("fast"));
    }

    @Test
    void should_answer_each_failure_with_its_status_and_an_error_body() {
        EmbeddedChannel ch = connection(r -> switch (r.rawPath()) {
            case "/refused" -> throw HttpError.methodNotAllowed(r.method(), r.rawPath(), "POST");
            case "/bad" -> throw new IllegalArgumentException("no subsystem x");
            case "/later" -> CompletableFuture.failedFuture(new IllegalArgumentException("portal x is there already"));
            case "/gone" -> CompletableFuture.failedFuture(new RejectedExecutionException("closing"));
            default -> throw new IllegalStateException("broken");
        });

        send(ch, "GET /refused HTTP/1.1\r\n\r\n");
        assertThat(written(ch)).startsWith("HTTP/1.1 405 Method Not Allowed\r\n").contains("\r\nallow: POST\r\n")
                .endsWith("{\"error\":\"GET is not allowed on /refused (use POST)\"}");
        send(ch, "GET /bad HTTP/1.1\r\n\r\n");
        assertThat(written(ch)).startsWith("HTTP/1.1 400 Bad Request\r\n").endsWith("{\"error\":\"no subsystem x\"}");
        send(ch, "GET /later HTTP/1.1\r\n\r\n");
        assertThat(written(ch)).startsWith("HTTP/1.1 400 Bad Request\r\n")
                .endsWith("{\"error\":\"portal x is there already\"}");
        send(ch, "GET /gone HTTP/1.1\r\n\r\n");
        assertThat(written(ch)).startsWith("HTTP/1.1 503 Service Unavailable\r\n")
                .endsWith("{\"error\":\"the test server is shutting down\"}");
        send(ch, "GET /other HTTP/1.1\r\n\r\n");
        assertThat(written(ch)).startsWith("HTTP/1.1 500 Internal Server Error\r\n").endsWith("{\"error\":\"broken\"}");
        assertThat(ch.isOpen()).as("an answered failure keeps the connection").isTrue();
    }

    @Test
    void should_answer_503_and_close_when_the_executor_refuses_the_request() {
        EmbeddedChannel ch = connection(r -> ok("never"), task -> {
            throw new RejectedExecutionException("shut down");
        });

        send(ch, "GET /health HTTP/1.1\r\nHost: h\r\n\r\n");

        assertThat(written(ch)).startsWith("HTTP/1.1 503 Service Unavailable\r\n").contains("connection: close")
                .endsWith("{\"error\":\"the test server is shutting down\"}");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void should_answer_400_to_a_malformed_request_and_close_without_asking_the_api() {
        EmbeddedChannel ch = connection(r -> ok("never"));

        send(ch, "GET /health HTTP/1.1\r\nHost: h\r\nContent-Length: nope\r\n\r\n");

        assertThat(written(ch)).startsWith("HTTP/1.1 400 Bad Request\r\n").contains("malformed HTTP request");
        assertThat(seen).isEmpty();
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void should_close_an_http_1_0_connection_after_the_answer() {
        EmbeddedChannel ch = connection(r -> ok("ok"));

        send(ch, "GET /health HTTP/1.0\r\n\r\n");

        assertThat(written(ch)).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\nok");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void should_answer_413_with_an_error_body_for_a_body_over_the_bound_and_keep_a_kept_alive_connection() {
        EmbeddedChannel ch = connection(r -> ok("ok"));

        send(ch, "POST /api/v1/x?y=1 HTTP/1.1\r\nHost: h\r\nContent-Length: " + (MAX_BODY + 1) + "\r\n\r\n"
                + "x".repeat(MAX_BODY + 1) + "GET /health HTTP/1.1\r\nHost: h\r\n\r\n");

        String out = written(ch);
        assertThat(out).startsWith("HTTP/1.1 413 Request Entity Too Large\r\n")
                .contains("{\"error\":\"the body of POST /api/v1/x is over " + MAX_BODY + " bytes\"}")
                .endsWith("\r\n\r\nok");
        assertThat(seen).extracting(ApiRequest::rawPath).containsExactly("/health");
    }

    @Test
    void should_close_after_413_when_the_client_does_not_keep_the_connection() {
        EmbeddedChannel ch = connection(r -> ok("ok"));

        send(ch, "POST /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: " + (MAX_BODY + 1) + "\r\n\r\n");

        assertThat(written(ch)).startsWith("HTTP/1.1 413 Request Entity Too Large\r\n");
        assertThat(ch.isOpen()).isFalse();
        assertThat(seen).isEmpty();
    }
}
