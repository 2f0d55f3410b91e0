package io.nvmpath.server.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.ssl.SslContext;
import io.nvmpath.http.HttpReply;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.function.Supplier;

/**
 * Who may do what over the gateway's HTTP side. Reading ({@code GET}: {@code /metrics}, {@code
 * /health}, {@code /ready}, the API's views) is open to whoever reaches the listener. Changing state
 * ({@code POST}, {@code DELETE}) needs the bearer token of {@code tokenFile} or a client certificate
 * verified against the configured client CAs; with neither configured it is allowed on a loopback
 * listener only, so that a gateway listening beyond loopback (as it must in a container) never
 * changes paths for an unauthenticated caller by accident.
 *
 * <p>The token file is read at each state-changing request (they are rare), so a rotated token is
 * in force at once; the token never reaches a log or an answer.
 *
 * @param tls the HTTPS context (asked at each connection), or null for plain HTTP
 * @param tokenFile the bearer token's file, or null
 * @param clientCertificates a verified client certificate may change state (client CAs configured)
 */
public record HttpAccess(Supplier<SslContext> tls, Path tokenFile, boolean clientCertificates) {
    /** Plain HTTP, no token, no client certificates: state changes on a loopback listener only. */
    public static final HttpAccess PLAIN = new HttpAccess(null, null, false);

    /** What a 401 names as the way to authenticate. */
    static final String CHALLENGE = "Bearer realm=\"nvmpath\"";

    /**
     * Null when the request may go on, else the answer refusing it: 401 (with what to send, and the
     * WWW-Authenticate challenge) or 403.
     *
     * @param authorization the request's Authorization header, or null
     * @param verifiedClient the connection's TLS client certificate chains to the client CAs
     * @param loopback the listener is on a loopback address
     */
    HttpReply refusal(HttpMethod method, String authorization, boolean verifiedClient, boolean loopback) {
        if (method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD)) {
            return null;
        }
        if (clientCertificates && verifiedClient) {
            return null;
        }
        if (tokenFile != null) {
            if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)
                    && tokenMatches(authorization.substring(7).trim())) {
                return null;
            }
            return unauthorized(method + " needs the API token: send"
                    + " \"Authorization: Bearer <token>\"" + (clientCertificates ? " or a client certificate" : ""));
        }
        if (clientCertificates) {
            return unauthorized(method + " needs a client certificate");
        }
        if (loopback) {
            return null;
        }
        return HttpReply.error(HttpResponseStatus.FORBIDDEN, method + " is refused: the HTTP side listens beyond"
                + " loopback with neither http.token nor http.tls.clientCa configured");
    }

    private static HttpReply unauthorized(String message) {
        return HttpReply.error(HttpResponseStatus.UNAUTHORIZED, message)
                .withHeader(HttpHeaderNames.WWW_AUTHENTICATE.toString(), CHALLENGE);
    }

    /** Whether {@code address} (a literal or a name) is a loopback address: state changes need no credential there. */
    public static boolean isLoopback(String address) {
        try {
            return java.net.InetAddress.getByName(address).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    private boolean tokenMatches(String given) {
        String token;
        try {
            token = Files.readString(tokenFile, StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            return false;
        }
        return !token.isEmpty() && MessageDigest.isEqual(token.getBytes(StandardCharsets.UTF_8),
                given.getBytes(StandardCharsets.UTF_8));
    }
}
