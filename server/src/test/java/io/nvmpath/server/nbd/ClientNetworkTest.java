package io.nvmpath.server.nbd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetAddress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ClientNetworkTest {

    @Test
    void should_match_addresses_inside_the_prefix_only() throws Exception {
        ClientNetwork n = ClientNetwork.parse("10.1.0.0/16");
        assertThat(n.contains(InetAddress.getByName("10.1.200.3"))).isTrue();
        assertThat(n.contains(InetAddress.getByName("10.2.0.1"))).isFalse();
        assertThat(n.contains(InetAddress.getByName("::ffff:10.1.0.9"))).isTrue();
        assertThat(ClientNetwork.parse("127.0.0.1").contains(InetAddress.getByName("127.0.0.2"))).isFalse();
        assertThat(ClientNetwork.parse("fd00::/8").contains(InetAddress.getByName("fd12::1"))).isTrue();
        assertThat(ClientNetwork.parse("10.0.0.0/8")).isEqualTo(ClientNetwork.parse("10.0.0.0/8"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"cafe", "1.2.3", "1.2.3.256", "localhost", "10.0.0.0/33", "::1/129", "10.0.0.0/x", ""})
    void should_refuse_what_is_not_an_ip_network_without_a_lookup(String text) {
        assertThatThrownBy(() -> ClientNetwork.parse(text)).isInstanceOf(IllegalArgumentException.class);
    }
}
