package io.nvmpath.server.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class CommandLineParsingTest {

    @Test
    void should_exit_2_naming_the_option_when_traddr_is_missing() {
        CliRun r = CliRun.of("id-ctrl", "-n", "nqn.2014-08.org.example:sub");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).startsWith("nvmpath id-ctrl: ").contains("--traddr");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void should_reject_a_block_count_of_zero_before_connecting() {
        CliRun r = CliRun.of("read", "-a", "127.0.0.1", "-n", "nqn.x", "--block-count", "0");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--block-count must be at least 1").doesNotContain("cannot connect");
    }

    @Test
    void should_reject_an_unknown_output_format() {
        CliRun r = CliRun.of("ana-log", "-a", "127.0.0.1", "-n", "nqn.x", "-o", "xml");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--output-format").contains("xml").contains("normal, json");
    }

    @Test
    void should_accept_the_output_format_in_any_case() {
        // it parses: the failure is the unreachable port, not the option
        CliRun r = CliRun.of("id-ctrl", "-a", "127.0.0.1", "-s", "1", "-n", "nqn.x", "-o", "JSON");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("cannot connect");
    }

    @Test
    void should_reject_a_port_out_of_range() {
        CliRun r = CliRun.of("flush", "-a", "127.0.0.1", "-s", "70000", "-n", "nqn.x");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--trsvcid must be 1..65535");
    }

    @Test
    void should_reject_nsid_zero() {
        CliRun r = CliRun.of("id-ns", "-a", "127.0.0.1", "-n", "nqn.x", "--nsid", "0");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--nsid must be 1..");
    }

    @Test
    void should_reject_a_host_id_that_is_not_a_uuid() {
        CliRun r = CliRun.of("id-ctrl", "-a", "127.0.0.1", "-n", "nqn.x", "--hostid", "abc");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("'abc' is not a UUID");
    }

    @Test
    void should_refuse_json_when_read_data_would_go_to_stdout() {
        CliRun r = CliRun.of("read", "-a", "127.0.0.1", "-n", "nqn.x", "-o", "json");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("-o json needs --data");
    }

    @Test
    void should_require_a_readable_data_file_for_write(@TempDir Path dir) {
        CliRun missing = CliRun.of("write", "-a", "127.0.0.1", "-n", "nqn.x");
        CliRun absent = CliRun.of("write", "-a", "127.0.0.1", "-n", "nqn.x", "--data", dir.resolve("nope").toString());

        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).contains("--data");
        assertThat(absent.exitCode()).isEqualTo(2);
        assertThat(absent.err()).contains("is not a readable file");
    }

    @Test
    void should_exit_2_without_a_subcommand() {
        CliRun r = CliRun.of();

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("Missing required subcommand");
    }

    @Test
    void should_suggest_a_subcommand_for_a_typo() {
        CliRun r = CliRun.of("id-ctr");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("id-ctrl");
    }

    @Test
    void should_list_every_subcommand_in_the_help() {
        CliRun r = CliRun.of("--help");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("discover", "id-ctrl", "id-ns", "ana-log", "read", "write", "flush");
    }

    @Test
    void should_say_in_the_help_that_block_count_counts_from_1() {
        CliRun r = CliRun.of("read", "--help");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("--block-count").contains("counted from 1");
    }

    @Test
    void should_print_the_version() {
        CliRun r = CliRun.of("--version");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).startsWith("nvmpath ");
    }

    @Test
    void should_accept_verbose_on_the_top_command_and_on_a_subcommand(@TempDir Path dir) {
        String level = System.getProperty(Main.LOG_LEVEL_PROPERTY);
        try {
            CliRun top = CliRun.of("-v", "write", "-a", "127.0.0.1", "-n", "nqn.x", "--data", dir.toString());
            CliRun sub = CliRun.of("write", "-a", "127.0.0.1", "-n", "nqn.x", "--data", dir.toString(), "--verbose");

            assertThat(top.exitCode()).isEqualTo(2);
            assertThat(sub.exitCode()).isEqualTo(2);
            assertThat(top.err()).contains("is not a readable file").contains("\tat ");
            assertThat(sub.err()).contains("is not a readable file").contains("\tat ");
            assertThat(System.getProperty(Main.LOG_LEVEL_PROPERTY)).isEqualTo("debug");
        } finally {
            if (level == null) {
                System.clearProperty(Main.LOG_LEVEL_PROPERTY);
            } else {
                System.setProperty(Main.LOG_LEVEL_PROPERTY, level);
            }
        }
    }
}
