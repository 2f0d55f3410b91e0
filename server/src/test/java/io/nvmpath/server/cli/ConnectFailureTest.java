package io.nvmpath.server.cli;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

import static org.assertj.core.api.Assertions.assertThat;

class ConnectFailureTest {

    /** A local port nobody listens on: bound, noted, closed. */
    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }

    @Test
    void should_exit_1_with_one_line_and_no_stack_trace_when_the_port_is_closed() throws IOException {
        int port = closedPort();

        CliRun r = CliRun.of("id-ctrl", "-a", "127.0.0.1", "-s", String.valueOf(port), "-n", "nqn.x");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("nvmpath id-ctrl: cannot connect to 127.0.0.1:" + port
                + ": Connection refused" + System.lineSeparator());
        assertThat(r.out()).isEmpty();
    }

    @Test
    void should_say_cannot_connect_for_discover_too() throws IOException {
        int port = closedPort();

        CliRun r = CliRun.of("discover", "-a", "127.0.0.1", "-s", String.valueOf(port), "-o", "json");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).startsWith("nvmpath discover: cannot connect to 127.0.0.1:" + port)
                .doesNotContain("\tat ");
        assertThat(r.out()).isEmpty();
    }
}
