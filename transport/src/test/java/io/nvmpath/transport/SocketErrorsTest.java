package io.nvmpath.transport;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ConnectException;

import static org.assertj.core.api.Assertions.assertThat;

class SocketErrorsTest {
    @Test
    void should_say_connection_refused_alike_on_every_transport() {
        assertThat(SocketErrors.rootMessage(new ConnectException("io_uring connect(..) failed with error(-111): Connection refused")))
                .isEqualTo("Connection refused");
        assertThat(SocketErrors.rootMessage(new ConnectException("connect(..) failed: Connection refused")))
                .isEqualTo("Connection refused");
        assertThat(SocketErrors.rootMessage(new ConnectException("Connection refused"))).isEqualTo("Connection refused");
    }

    @Test
    void should_take_the_root_cause_and_name_a_cause_without_message() {
        assertThat(SocketErrors.rootMessage(new IOException("outer", new IOException("recvAddress(..) failed: Connection reset by peer"))))
                .isEqualTo("Connection reset by peer");
        assertThat(SocketErrors.rootMessage(new IllegalStateException())).isEqualTo("IllegalStateException");
    }
}
