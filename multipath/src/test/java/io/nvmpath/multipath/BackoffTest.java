package io.nvmpath.multipath;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class BackoffTest {
    @Test
    void should_double_the_wait_after_each_failure_up_to_eight_times_the_reconnect_delay() {
        Backoff b = new Backoff(Duration.ofSeconds(10));
        assertThat(new long[] {b.nextMillis(), b.nextMillis(), b.nextMillis(), b.nextMillis(), b.nextMillis()})
                .containsExactly(10_000, 20_000, 40_000, 80_000, 80_000);
    }

    @Test
    void should_wait_the_reconnect_delay_again_once_the_portal_answered() {
        Backoff b = new Backoff(Duration.ofMillis(200));
        b.nextMillis();
        b.nextMillis();
        b.reset();
        assertThat(b.nextMillis()).isEqualTo(200);
    }

    @Test
    void should_never_retry_faster_than_the_floor() {
        assertThat(new Backoff(Duration.ZERO).nextMillis()).isEqualTo(Backoff.FLOOR_MILLIS);
    }
}
