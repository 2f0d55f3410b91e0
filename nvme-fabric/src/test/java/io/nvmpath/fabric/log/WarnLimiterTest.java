package io.nvmpath.fabric.log;

import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/** Rate-limited warnings: one a second, the rest counted. */
class WarnLimiterTest {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final WarnLimiter limiter = new WarnLimiter(LoggerFactory.getLogger(WarnLimiterTest.class),
            TimeUnit.SECONDS.toNanos(1), now::get);

    @Test
    void should_log_one_warning_per_interval_and_count_the_rest() {
        assertThat(limiter.warn("first", null)).isTrue();
        for (int i = 0; i < 1000; i++) {
            now.addAndGet(TimeUnit.MICROSECONDS.toNanos(500));
            assertThat(limiter.warn("again", null)).isFalse();
        }
        assertThat(limiter.suppressed()).isEqualTo(1000);
        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(500));
        assertThat(limiter.warn("after a second", new IllegalStateException("cause"))).isTrue();
        assertThat(limiter.suppressed()).as("reported with the warning, then reset").isZero();
        assertThat(limiter.warn("right after", null)).isFalse();
    }

    @Test
    void should_let_the_first_warning_after_a_reset_through() {
        assertThat(limiter.warn("down", null)).isTrue();
        assertThat(limiter.warn("still down", null)).isFalse();
        limiter.reset();
        assertThat(limiter.suppressed()).isZero();
        assertThat(limiter.warn("down again", null)).isTrue();
    }
}
