package io.nvmpath.transport;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TransportTest {

    @Test
    void should_take_the_first_available_transport_for_auto() {
        Transport auto = Transport.select("auto");
        assertThat(auto.isAvailable()).isTrue();
        for (Transport t : Transport.values()) {
            if (t == auto) {
                break;
            }
            assertThat(t.isAvailable()).as(t + " comes before " + auto + " but is available").isFalse();
        }
        assertThat(Transport.select(null)).isEqualTo(auto);
        assertThat(Transport.select(" ")).isEqualTo(auto);
    }

    @Test
    void should_prefer_io_uring_on_a_linux_kernel_that_allows_it() {
        assumeTrue(System.getProperty("os.name").startsWith("Linux"), "not Linux");
        assumeTrue(Transport.IO_URING.isAvailable(), () -> "io_uring unavailable here: "
                + Transport.IO_URING.unavailabilityCause().map(Throwable::toString).orElse("?"));
        assertThat(Transport.select("auto")).isEqualTo(Transport.IO_URING);
    }

    @Test
    void should_refuse_an_unknown_name_with_the_names_it_knows() {
        assertThatThrownBy(() -> Transport.select("dpdk"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dpdk").hasMessageContaining("io_uring, epoll or nio");
    }

    @Test
    void should_refuse_a_group_of_no_socket_transport() {
        EmbeddedChannel ch = new EmbeddedChannel();
        assertThatThrownBy(() -> Transport.of(ch.eventLoop())).isInstanceOf(IllegalArgumentException.class);
        ch.finishAndReleaseAll();
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void should_carry_bytes_over_loopback_on_each_available_transport(Transport transport) throws Exception {
        assumeTrue(transport.isAvailable(), () -> transport + " unavailable here: "
                + transport.unavailabilityCause().map(Throwable::toString).orElse("?"));
        echo(transport.newGroup(1, "transport-test"), transport, 4);
    }

    @Test
    void should_carry_bytes_over_loopback_with_io_uring_receiving_into_a_buffer_ring() throws Exception {
        assumeTrue(Transport.IO_URING.isAvailable(), () -> "io_uring unavailable here: "
                + Transport.IO_URING.unavailabilityCause().map(Throwable::toString).orElse("?"));
        // more than one ring buffer's worth, so that a message arrives in several of them
        echo(Transport.IO_URING.newGroup(1, "transport-ring-test", true), Transport.IO_URING, 1 << 20);
    }

    private static void echo(MultiThreadIoEventLoopGroup group, Transport transport, int bytes) throws Exception {
        try {
            assertThat(Transport.of(group)).isEqualTo(transport);
            CompletableFuture<String> echoed = new CompletableFuture<>();
            StringBuilder got = new StringBuilder();
            String sent = "ping".repeat(bytes / 4);
            Channel server = Transport.configureChildren(new ServerBootstrap(), group).group(group)
                    .channel(Transport.of(group).serverSocketChannel())
                    .childHandler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            ctx.writeAndFlush(msg);
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            Channel client = Transport.configure(new Bootstrap(), group).group(group)
                    .channel(Transport.of(group).socketChannel())
                    .handler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            ByteBuf b = (ByteBuf) msg;
                            got.append(b.toString(StandardCharsets.US_ASCII));
                            b.release();
                            if (got.length() >= sent.length()) {
                                echoed.complete(got.toString());
                            }
                        }
                    })
                    .connect(server.localAddress()).sync().channel();
            client.writeAndFlush(Unpooled.copiedBuffer(sent, StandardCharsets.US_ASCII)).sync();
            assertThat(echoed.get(10, TimeUnit.SECONDS)).isEqualTo(sent);
            client.close().sync();
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void should_report_a_port_in_use_alike_on_each_available_transport(Transport transport) throws Exception {
        assumeTrue(transport.isAvailable(), () -> transport + " unavailable here");
        MultiThreadIoEventLoopGroup group = transport.newGroup(1, "transport-test");
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            io.netty.channel.ChannelFuture f = new ServerBootstrap().group(group).channel(transport.serverSocketChannel())
                    .childHandler(new ChannelInboundHandlerAdapter())
                    .bind(new InetSocketAddress("127.0.0.1", taken.getLocalPort())).await();
            assertThat(f.isSuccess()).isFalse();
            // NIO throws BindException, io_uring and epoll "bind(..) failed with error(-98): ..."
            assertThat(SocketErrors.isAddressInUse(f.cause())).as("%s", f.cause()).isTrue();
            assertThat(SocketErrors.rootMessage(f.cause())).isEqualTo("Address already in use");
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}
