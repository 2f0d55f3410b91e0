package io.nvmpath.server.log;

import org.junit.jupiter.api.Test;

import java.util.logging.Level;
import java.util.logging.LogRecord;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The log line format, and the level changing while the process runs. */
class LogLevelTest {

    @Test
    void should_write_one_line_with_utc_time_level_short_logger_name_and_message() {
        // SLF4J hands the record its message formatted already, with no parameters
        LogRecord r = new LogRecord(Level.INFO, "export nqn.x/1: 1024 MiB");
        r.setLoggerName("io.nvmpath.server.gateway.Gateway");
        r.setInstant(java.time.Instant.parse("2026-12-01T21:02:52.249Z"));

        assertThat(new LogLevel.LineFormat().format(r))
                .isEqualTo("2026-12-01T21:02:52.249Z INFO Gateway - export nqn.x/1: 1024 MiB" + System.lineSeparator());
        r.setLevel(Level.FINE);
        r.setThrown(new IllegalStateException("boom"));
        assertThat(new LogLevel.LineFormat().format(r)).startsWith("2026-12-01T21:02:52.249Z DEBUG Gateway - ")
                .contains("java.lang.IllegalStateException: boom");
    }

    @Test
    void should_change_the_level_of_every_logger_at_run_time() {
        String before = LogLevel.current();
        try {
            org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger("io.nvmpath.test.LogLevelTest");
            LogLevel.set("info");
            assertThat(log.isDebugEnabled()).isFalse();
            assertThat(log.isInfoEnabled()).isTrue();
            LogLevel.set("debug");
            assertThat(log.isDebugEnabled()).as("the same logger, after the change").isTrue();
            LogLevel.set("error");
            assertThat(log.isWarnEnabled()).isFalse();
            assertThat(LogLevel.current()).isEqualTo("error");
            assertThatThrownBy(() -> LogLevel.set("verbose")).hasMessage(
                    "\"verbose\" is not a log level (one of [error, warn, info, debug, trace])");
        } finally {
            LogLevel.set(before == null ? "warn" : before);
        }
    }
}
