package io.nvmpath.http;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpResponseStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.BindException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The server over real sockets, on the caller's NIO event loop, driven by the JDK's HTTP client. */
class HttpApiServerTest {
    private static final Logger LOG = LoggerFactory.getLogger(HttpApiServerTest.class);

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private HttpApiServer server;

    @AfterEach
    void stop() throws InterruptedException {
        http.close();
        if (server != null) {
            server.close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private HttpApiServer serve(HttpApiServer.Config config, ApiHandler api) throws Exception {
        server = new HttpApiServer(config, group, NioServerSocketChannel.class,
                HttpApiServer.newExecutor("test-http"), api, LOG);
        server.start();
        return server;
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.localAddress().getPort()
                + path)).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void should_answer_on_the_executor_thread_and_leave_the_event_loops_running_once_closed() throws Exception {
        serve(HttpApiServer.Config.of("127.0.0.1", 0), new HttpRoutes().get("/thread", (r, p) ->
                HttpReply.text(HttpResponseStatus.OK, HttpReply.TEXT, Thread.currentThread().getName())));

        HttpResponse<String> r = get("/thread");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("test-http");
        assertThat(server.localAddress().getPort()).isPositive();
        server.close();
        assertThatThrownBy(() -> get("/thread")).isInstanceOf(ConnectException.class);
        assertThat(group.isShuttingDown()).isFalse();
    }

    @Test
    void should_end_what_the_api_awaits_when_closing_and_answer_it() throws Exception {
        CompletableFuture<HttpReply> awaited = new CompletableFuture<>();
        CountDownLatch asked = new CountDownLatch(1);
        serve(HttpApiServer.Config.of("127.0.0.1", 0).unavailable("the test server is shutting down"),
                new ApiHandler() {
                    @Override
                    public CompletableFuture<HttpReply> handle(ApiRequest request) {
                        asked.countDown();
                        return awaited;
                    }

                    @Override
                    public void stop() {
                        awaited.completeExceptionally(new RejectedExecutionException("closing"));
                    }
                });
        CompletableFuture<HttpResponse<String>> waiting = http.sendAsync(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + server.localAddress().getPort() + "/wait")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(asked.await(10, TimeUnit.SECONDS)).isTrue();

        server.close();
        HttpResponse<String> r = waiting.get(10, TimeUnit.SECONDS);

        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("{\"error\":\"the test server is shutting down\"}");
    }

    @Test
    void should_name_the_address_and_the_listener_when_the_port_is_taken() throws Exception {
        serve(HttpApiServer.Config.of("127.0.0.1", 0), new HttpRoutes());
        int taken = server.localAddress().getPort();
        HttpApiServer second = new HttpApiServer(HttpApiServer.Config.of("127.0.0.1", taken).named("http", "HTTP"),
                group, NioServerSocketChannel.class, HttpApiServer.newExecutor("test-http-2"), new HttpRoutes(), LOG);
        try {
            assertThatThrownBy(second::start).isInstanceOf(BindException.class)
                    .hasMessageStartingWith("cannot listen on 127.0.0.1:" + taken + " (HTTP): ");
        } finally {
            second.close();
        }
    }

    @Test
    void should_refuse_a_port_out_of_range() {
        assertThatThrownBy(() -> HttpApiServer.Config.of("127.0.0.1", 65536))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("HTTP port must be 0..65535, not 65536");
    }
}
