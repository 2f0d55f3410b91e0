package io.nvmpath.http;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Which answer a request reaches, and the 404 and 405 of the requests that reach none. */
class HttpRoutesTest {
    private final HttpRoutes routes = new HttpRoutes()
            .get("/health", (r, p) -> HttpReply.text(HttpResponseStatus.OK, HttpReply.TEXT, "ok"))
            .get("/api/v1/subsystems/{nqn}", (r, p) -> echo("show", p))
            .post("/api/v1/subsystems/{nqn}/iopolicy", (r, p) -> echo("iopolicy", p))
            .get("/api/v1/portals", (r, p) -> echo("list", p))
            .post("/api/v1/portals", (r, p) -> echo("add", p))
            .delete("/api/v1/portals", (r, p) -> echo("remove", p));

    private static HttpReply echo(String what, Map<String, String> params) {
        return HttpReply.text(HttpResponseStatus.OK, HttpReply.TEXT, what + " " + params);
    }

    private String answer(HttpMethod method, String uri) {
        return routes.handle(ApiRequest.of(method, uri, "")).join().body();
    }

    @Test
    void should_reach_the_answer_of_the_method_and_path() {
        assertThat(answer(HttpMethod.GET, "/health")).isEqualTo("ok");
        assertThat(answer(HttpMethod.GET, "/api/v1/portals")).isEqualTo("list {}");
        assertThat(answer(HttpMethod.POST, "/api/v1/portals")).isEqualTo("add {}");
        assertThat(answer(HttpMethod.DELETE, "/api/v1/portals?traddr=127.0.0.1")).isEqualTo("remove {}");
    }

    @Test
    void should_give_path_variables_percent_decoded_with_a_plus_left_as_it_is() {
        assertThat(answer(HttpMethod.GET, "/api/v1/subsystems/nqn.2026-11.io.nvmpath%3Ademo"))
                .isEqualTo("show {nqn=nqn.2026-11.io.nvmpath:demo}");
        assertThat(answer(HttpMethod.GET, "/api/v1/subsystems/nqn.2026-11.io.nvmpath:demo"))
                .isEqualTo("show {nqn=nqn.2026-11.io.nvmpath:demo}");
        assertThat(answer(HttpMethod.POST, "/api/v1/subsystems/a+b%2Bc/iopolicy")).isEqualTo("iopolicy {nqn=a+b+c}");
    }

    @ParameterizedTest
    @ValueSource(strings = {"/health/", "//health", "/api//v1/portals/"})
    void should_ignore_empty_segments(String uri) {
        assertThat(routes.handle(ApiRequest.of(HttpMethod.GET, uri, "")).join().status())
                .isEqualTo(HttpResponseStatus.OK);
    }

    @ParameterizedTest
    @ValueSource(strings = {"/", "/api", "/api/v1", "/api/v1/nothing", "/health/x", "/api/v1/subsystems/x/paths"})
    void should_answer_404_naming_the_path_for_a_path_no_route_has(String uri) {
        assertThatThrownBy(() -> routes.handle(ApiRequest.of(HttpMethod.GET, uri + "?a=b", "")))
                .isInstanceOfSatisfying(HttpError.class, e -> {
                    assertThat(e.status()).isEqualTo(HttpResponseStatus.NOT_FOUND);
                    assertThat(e.getMessage()).isEqualTo("no resource " + uri);
                    assertThat(e.allow()).isNull();
                });
    }

    @Test
    void should_answer_405_with_the_methods_the_path_takes_in_the_order_they_were_added() {
        assertThatThrownBy(() -> routes.handle(ApiRequest.of(HttpMethod.PUT, "/api/v1/portals", "")))
                .isInstanceOfSatisfying(HttpError.class, e -> {
                    assertThat(e.status()).isEqualTo(HttpResponseStatus.METHOD_NOT_ALLOWED);
                    assertThat(e.allow()).isEqualTo("GET, POST, DELETE");
                    assertThat(e.getMessage()).isEqualTo("PUT is not allowed on /api/v1/portals (use GET, POST, DELETE)");
                });
        assertThatThrownBy(() -> routes.handle(ApiRequest.of(HttpMethod.GET, "/api/v1/subsystems/x/iopolicy", "")))
                .isInstanceOfSatisfying(HttpError.class, e -> assertThat(e.allow()).isEqualTo("POST"));
        assertThatThrownBy(() -> routes.handle(ApiRequest.of(HttpMethod.HEAD, "/health", "")))
                .isInstanceOfSatisfying(HttpError.class, e -> assertThat(e.allow()).isEqualTo("GET"));
    }

    @Test
    void should_hand_back_an_answer_that_completes_later() {
        CompletableFuture<HttpReply> later = new CompletableFuture<>();
        HttpRoutes r = new HttpRoutes().addAsync(HttpMethod.POST, "/wait", (req, p) -> later);

        CompletableFuture<HttpReply> answer = r.handle(ApiRequest.of(HttpMethod.POST, "/wait", ""));
        assertThat(answer).isNotDone();

        later.complete(HttpReply.noContent());
        assertThat(answer.join().status()).isEqualTo(HttpResponseStatus.NO_CONTENT);
    }

    @Test
    void should_write_an_error_as_json_with_its_allow_header() {
        HttpReply r = HttpError.methodNotAllowed(HttpMethod.GET, "/x", "POST").reply();

        assertThat(r.status()).isEqualTo(HttpResponseStatus.METHOD_NOT_ALLOWED);
        assertThat(r.contentType()).isEqualTo(HttpReply.JSON);
        assertThat(r.body()).isEqualTo("{\"error\":\"GET is not allowed on /x (use POST)\"}");
        assertThat(r.headers()).containsExactly(Map.entry("allow", "POST"));
    }
}
