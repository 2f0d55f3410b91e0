package io.nvmpath.http;

import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;

import java.net.SocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One request as an API sees it. Read on the event loop and answered on the server's executor, so it
 * holds no Netty buffer: the body is already text, the headers a copy.
 */
public final class ApiRequest {
    private final HttpMethod method;
    private final String uri;
    private final String body;
    private final HttpHeaders headers;
    private final boolean clientCertificate;
    private final SocketAddress remote;
    private final QueryStringDecoder query;

    /**
     * @param uri the request target as sent (path and query, still percent-encoded)
     * @param body the body as UTF-8 text ("" for none)
     * @param headers the request's headers (not copied: give a copy when they come from a request
     *                that will be released)
     * @param clientCertificate the connection's TLS client presented a certificate its trust manager verified
     * @param remote the client's address, for log lines; may be null
     */
    public ApiRequest(HttpMethod method, String uri, String body, HttpHeaders headers, boolean clientCertificate,
                      SocketAddress remote) {
        this.method = Objects.requireNonNull(method, "method");
        this.uri = Objects.requireNonNull(uri, "uri");
        this.body = body == null ? "" : body;
        this.headers = headers == null ? EmptyHttpHeaders.INSTANCE : headers;
        this.clientCertificate = clientCertificate;
        this.remote = remote;
        this.query = new QueryStringDecoder(uri);
    }

    /** A request with no headers, from nowhere in particular (tests, internal calls). */
    public static ApiRequest of(HttpMethod method, String uri, String body) {
        return new ApiRequest(method, uri, body, EmptyHttpHeaders.INSTANCE, false, null);
    }

    public HttpMethod method() {
        return method;
    }

    /** The request target as sent. */
    public String uri() {
        return uri;
    }

    /** The path, still percent-encoded ({@code /api/v1/subsystems/nqn.2026-11.io.nvmpath%3Ademo}). */
    public String rawPath() {
        return query.rawPath();
    }

    /** The query's parameters, decoded, each with every value given. */
    public Map<String, List<String>> parameters() {
        return query.parameters();
    }

    public String body() {
        return body;
    }

    /** The header's first value, or null. */
    public String header(CharSequence name) {
        return headers.get(name);
    }

    /** Whether the connection's TLS client presented a certificate that its trust manager verified. */
    public boolean clientCertificate() {
        return clientCertificate;
    }

    /** Where the request came from; null when unknown. */
    public SocketAddress remote() {
        return remote;
    }

    @Override
    public String toString() {
        return method + " " + uri;
    }
}
