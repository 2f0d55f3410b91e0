package io.nvmpath.server.http;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.handler.codec.http.HttpMethod;
import io.nvmpath.http.ApiRequest;
import io.nvmpath.http.HttpError;
import io.nvmpath.http.HttpReply;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The gateway's HTTP API fed any method, path, query and JSON body (against the test gateway of
 * {@link GatewayFixture}, whose controls refuse what the real ones refuse): every request is answered
 * — a success, or a 4xx naming what is wrong — and never a 500, an exception that escapes, or no
 * answer. ({@code /health} and {@code /ready} answer 503 by design when not serving.) A refusal is an
 * {@link HttpError}, or an {@link IllegalArgumentException}, which {@code HttpApiHandler} answers 400
 * (a path with a broken percent-escape, kept under {@code HttpApiFuzzTestInputs/request}).
 */
class HttpApiFuzzTest {
    /** One for the run: each holds JVM meters (GC listeners) until closed. /metrics scrapes its own fixture. */
    private static final GatewayMetrics METRICS = new GatewayMetrics(new GatewayFixture());
    private static final List<HttpMethod> METHODS = List.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT,
            HttpMethod.DELETE, HttpMethod.PATCH, HttpMethod.HEAD, HttpMethod.OPTIONS);
    private static final List<String> PATHS = List.of("/api/v1/subsystems/" + GatewayFixture.NQN + "/iopolicy",
            "/api/v1/subsystems/" + GatewayFixture.NQN + "/preferred-path",
            "/api/v1/subsystems/" + GatewayFixture.NQN + "/write-failover", "/api/v1/portals", "/api/v1/reload",
            "/api/v1/subsystems/", "/api/v1/exports", "/api/v1/failovers", "/metrics", "/health", "/ready");

    @FuzzTest(maxDuration = "60s")
    void request(FuzzedDataProvider in) throws Exception {
        GatewayFixture gateway = new GatewayFixture(); // anew: what one input adds is not the next one's
        HttpApi api = new HttpApi(gateway, gateway, METRICS, Runnable::run, Duration.ofMillis(50));
        HttpMethod method = in.pickValue(METHODS);
        String uri = switch (in.consumeInt(0, 2)) {
            case 0 -> in.pickValue(PATHS);
            case 1 -> in.pickValue(PATHS) + in.consumeString(64);
            default -> "/" + in.consumeString(128);
        };
        String body = in.consumeRemainingAsString();
        CompletableFuture<HttpReply> f;
        try {
            f = api.handle(ApiRequest.of(method, uri, body));
        } catch (HttpError | IllegalArgumentException refused) {
            assertRefusal(refused);
            return;
        }
        try {
            HttpReply r = f.get(10, TimeUnit.SECONDS);
            int code = r.status().code();
            assertThat(code < 500 || code == 503).as("%s %s -> %s %s", method, uri, code, r.body()).isTrue();
        } catch (ExecutionException e) {
            assertThat(e.getCause()).as("%s %s with %s", method, uri, body)
                    .isInstanceOfAny(HttpError.class, IllegalArgumentException.class);
            assertRefusal((RuntimeException) e.getCause());
        }
    }

    private static void assertRefusal(RuntimeException e) {
        if (e instanceof HttpError refusal) {
            assertThat(refusal.status().code()).as(e.getMessage()).isBetween(400, 499);
        }
        assertThat(e.getMessage()).as("the reason a client is given").isNotBlank();
    }
}
