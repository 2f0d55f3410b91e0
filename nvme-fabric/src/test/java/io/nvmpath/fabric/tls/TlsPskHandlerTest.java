package io.nvmpath.fabric.tls;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.TlsPsk;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The TLS 1.3 PSK handler between two channels of this JVM: the host side writes before the
 * handshake is done, the target side echoes; a PSK the target does not hold, or holds with other
 * bytes, fails the handshake on both sides with one line naming the alert.
 */
class TlsPskHandlerTest {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String HOST = "nqn.2014-08.org.nvmexpress:uuid:1a2b3c4d-0000-4000-8000-000000000001";
    private static final String SUB = "nqn.2026-12.io.nvmpath:tls";
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, LocalIoHandler.newFactory());
    private Channel server;

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close().sync();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private static PskCredentials credentials(AuthHash hash) {
        byte[] key = new byte[hash.length()];
        RANDOM.nextBytes(key);
        return PskCredentials.of(TlsPsk.of(key, hash), HOST, SUB);
    }

    /** A server that echoes; its handlers' handshakes go to {@code serverHandshake}. */
    private LocalAddress echoServer(Map<String, PskCredentials> keys, CompletableFuture<TlsPskHandler> serverHandler)
            throws Exception {
        LocalAddress addr = new LocalAddress("tls-" + RANDOM.nextInt(1 << 30));
        server = new ServerBootstrap().group(group).channel(LocalServerChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        TlsPskHandler tls = TlsPskHandler.server(keys::get);
                        serverHandler.complete(tls);
                        ch.pipeline().addLast(tls, new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ctx.writeAndFlush(msg);
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                // the handler closes the connection itself
                            }
                        });
                    }
                }).bind(addr).sync().channel();
        return addr;
    }

    /** Connects with {@code c}, writes {@code text} at once (before the handshake), collects what comes back. */
    private static final class EchoClient extends ChannelInboundHandlerAdapter {
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        final CompletableFuture<Throwable> error = new CompletableFuture<>();
        final CompletableFuture<Void> closed = new CompletableFuture<>();
        int want;
        final CompletableFuture<String> all = new CompletableFuture<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            byte[] bytes = new byte[b.readableBytes()];
            b.readBytes(bytes);
            b.release();
            received.writeBytes(bytes);
            if (received.size() >= want) {
                all.complete(received.toString(StandardCharsets.UTF_8));
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            error.complete(cause);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            closed.complete(null);
        }
    }

    private TlsPskHandler connect(LocalAddress addr, PskCredentials c, EchoClient client, String... writes)
            throws Exception {
        return connect(addr, TlsPskHandler.client(c), client, writes);
    }

    private TlsPskHandler connect(LocalAddress addr, TlsPskHandler tls, EchoClient client, String... writes)
            throws Exception {
        Channel ch = new Bootstrap().group(group).channel(LocalChannel.class).handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(tls, client);
            }
        }).connect(addr).sync().channel();
        for (String w : writes) {
            client.want += w.length();
            ch.writeAndFlush(Unpooled.copiedBuffer(w, StandardCharsets.UTF_8));
        }
        return tls;
    }

    @ParameterizedTest
    @EnumSource(value = AuthHash.class, names = {"SHA256", "SHA384"})
    void should_carry_data_written_before_and_after_the_handshake_in_order(AuthHash hash) throws Exception {
        PskCredentials c = credentials(hash);
        CompletableFuture<TlsPskHandler> serverSide = new CompletableFuture<>();
        LocalAddress addr = echoServer(Map.of(c.identity(), c), serverSide);
        EchoClient client = new EchoClient();
        // a 100 KiB write spans several TLS records
        String big = "x".repeat(100 * 1024);
        TlsPskHandler tls = connect(addr, c, client, "ICReq first, ", "then more, ", big);

        assertThat(client.all.get(10, TimeUnit.SECONDS)).isEqualTo("ICReq first, then more, " + big);
        assertThat(tls.handshake().get(5, TimeUnit.SECONDS)).isEqualTo(c);
        assertThat(serverSide.get().handshake().get(5, TimeUnit.SECONDS).identity())
                .isEqualTo("NVMe0R0" + hash.id() + " " + HOST + " " + SUB);
    }

    @Test
    void should_fail_both_sides_when_the_target_has_no_key_for_the_identity() throws Exception {
        CompletableFuture<TlsPskHandler> serverSide = new CompletableFuture<>();
        LocalAddress addr = echoServer(Map.of(), serverSide);
        EchoClient client = new EchoClient();
        TlsPskHandler tls = connect(addr, credentials(AuthHash.SHA256), client, "ICReq");

        assertThatThrownBy(() -> tls.handshake().get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(TlsHandshakeException.class).hasMessageStartingWith("TLS handshake failed: ");
        assertThat(client.error.get(5, TimeUnit.SECONDS)).isInstanceOf(TlsHandshakeException.class);
        client.closed.get(5, TimeUnit.SECONDS);
        assertThatThrownBy(() -> serverSide.get().handshake().get(10, TimeUnit.SECONDS))
                .cause().isInstanceOf(TlsHandshakeException.class);
        assertThat(client.received.size()).isZero();
    }

    @Test
    void should_fail_when_the_target_holds_other_bytes_under_the_identity() throws Exception {
        PskCredentials mine = credentials(AuthHash.SHA384);
        PskCredentials theirs = new PskCredentials(mine.identity(), credentials(AuthHash.SHA384).key(), AuthHash.SHA384);
        CompletableFuture<TlsPskHandler> serverSide = new CompletableFuture<>();
        LocalAddress addr = echoServer(Map.of(theirs.identity(), theirs), serverSide);
        EchoClient client = new EchoClient();
        TlsPskHandler tls = connect(addr, mine, client, "ICReq");

        Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> tls.handshake().get(10, TimeUnit.SECONDS));
        assertThat(t).isInstanceOf(ExecutionException.class).cause().isInstanceOf(TlsHandshakeException.class);
        System.out.println("host side: " + t.getCause().getMessage());
        assertThat(t.getCause().getMessage()).doesNotContain(java.util.HexFormat.of().formatHex(mine.key()));
        client.closed.get(5, TimeUnit.SECONDS);
    }

    /** GnuTLS (tlshd) offers both suites, SHA-256 first: a SHA-384 PSK must still get the SHA-384 suite. */
    @ParameterizedTest
    @EnumSource(value = AuthHash.class, names = {"SHA256", "SHA384"})
    void should_pick_the_suite_of_the_psk_when_the_host_offers_both(AuthHash hash) throws Exception {
        PskCredentials c = credentials(hash);
        CompletableFuture<TlsPskHandler> serverSide = new CompletableFuture<>();
        LocalAddress addr = echoServer(Map.of(c.identity(), c), serverSide);
        EchoClient client = new EchoClient();
        TlsPskHandler tls = TlsPskHandler.client(c, org.bouncycastle.tls.CipherSuite.TLS_AES_128_GCM_SHA256,
                org.bouncycastle.tls.CipherSuite.TLS_AES_256_GCM_SHA384);
        connect(addr, tls, client, "ICReq");
        assertThat(client.all.get(10, TimeUnit.SECONDS)).isEqualTo("ICReq");
        assertThat(tls.handshake().get(5, TimeUnit.SECONDS)).isEqualTo(c);
    }

    /**
     * The handshake's hash by configuration: linux (the default) runs SHA-256 for every PSK; spec runs the
     * PSK's own hash, so a 48-byte PSK gets TLS_AES_256_GCM_SHA384 — the other suite the specification
     * requires; and the two do not meet on a 48-byte PSK (the binder is made with another hash).
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"SHA256, linux, TLS_AES_128_GCM_SHA256",
            "SHA256, spec, TLS_AES_128_GCM_SHA256", "SHA384, linux, TLS_AES_128_GCM_SHA256",
            "SHA384, spec, TLS_AES_256_GCM_SHA384"})
    void should_run_the_suite_the_configured_handshake_pairs_with_the_psk(AuthHash hash, String handshake,
                                                                       String suite) throws Exception {
        byte[] key = new byte[hash.length()];
        RANDOM.nextBytes(key);
        TlsPsk psk = TlsPsk.of(key, hash).withHandshake(io.nvmpath.fabric.auth.TlsHandshake.fromLabel(handshake));
        PskCredentials c = PskCredentials.of(psk, HOST, SUB);
        CompletableFuture<TlsPskHandler> serverSide = new CompletableFuture<>();
        LocalAddress addr = echoServer(Map.of(c.identity(), c), serverSide);
        EchoClient client = new EchoClient();
        TlsPskHandler tls = connect(addr, c, client, "ICReq");
        assertThat(client.all.get(10, TimeUnit.SECONDS)).isEqualTo("ICReq");
        assertThat(tls.cipherSuite()).isEqualTo(suite);
        serverSide.get().handshake().get(5, TimeUnit.SECONDS);
        assertThat(serverSide.get().cipherSuite()).isEqualTo(suite);
    }

    @Test
    void should_not_meet_a_linux_handshake_with_a_spec_one_on_a_48_byte_psk() throws Exception {
        byte[] key = new byte[48];
        RANDOM.nextBytes(key);
        TlsPsk linux = TlsPsk.of(key, AuthHash.SHA384);
        PskCredentials target = PskCredentials.of(linux, HOST, SUB);
        PskCredentials host = PskCredentials.of(linux.withHandshake(io.nvmpath.fabric.auth.TlsHandshake.SPECIFICATION),
                HOST, SUB);
        CompletableFuture<TlsPskHandler> serverSide = new CompletableFuture<>();
        LocalAddress addr = echoServer(Map.of(target.identity(), target), serverSide);
        EchoClient client = new EchoClient();
        TlsPskHandler tls = connect(addr, host, client, "ICReq");
        assertThatThrownBy(() -> tls.handshake().get(10, TimeUnit.SECONDS)).cause()
                .isInstanceOf(TlsHandshakeException.class).hasMessageStartingWith("TLS handshake failed: ");
        client.closed.get(5, TimeUnit.SECONDS);
    }
}
