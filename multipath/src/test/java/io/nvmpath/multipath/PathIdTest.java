package io.nvmpath.multipath;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PathIdTest {
    @Test
    void should_name_a_path_by_portal_and_controller_and_match_it_by_portal_alone() {
        PathId id = new PathId("10.0.0.1:4420", 3);
        assertThat(id).hasToString("10.0.0.1:4420 cntlid 3");
        assertThat(id.at("10.0.0.1:4420")).isTrue();
        assertThat(id.at("10.0.0.1:44201")).isFalse();
        assertThat(new PathId("10.0.0.1:4420", -1)).hasToString("10.0.0.1:4420");
    }

    @ParameterizedTest
    @ValueSource(strings = {"10.0.0.1:4420", " 10.0.0.1:4420 ", "[fd00::1]:4420", "target.example:8009"})
    void should_accept_a_portal_address(String s) {
        assertThat(PathId.portalAddress(s)).isEqualTo(s.trim());
    }

    @ParameterizedTest
    @ValueSource(strings = {"10.0.0.1:4420 cntlid 1", "10.0.0.1", ":4420", "10.0.0.1:0", "10.0.0.1:65536",
            "fd00::1:4420", "10.0.0.1:44x0", ""})
    void should_refuse_what_is_not_a_portal_address_with_an_example(String s) {
        assertThatThrownBy(() -> PathId.portalAddress(s)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is not a portal address").hasMessageContaining("10.0.0.1:4420");
    }
}
