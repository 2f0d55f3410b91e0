package io.nvmpath.target;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The throttle's token bucket on a manual clock: the completion times it gives, never a wall
 * clock. {@code due(k)} below is what a bucket of rate R and burst B allows for the k-th I/O of a
 * backlog that arrived at once: {@code max(now, start + (k + 1) × cost − B)}.
 */
class IoThrottleTest {
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long US = TimeUnit.MICROSECONDS.toNanos(1);

    /** A clock that moves only when told; starts far from zero, as {@link System#nanoTime} does. */
    private static final class ManualClock implements java.util.function.LongSupplier {
        long now = 123_456_789_000L;

        @Override
        public long getAsLong() {
            return now;
        }
    }

    private final ManualClock clock = new ManualClock();

    @Test
    void should_let_a_burst_through_at_once_then_space_completions_at_the_cap() {
        IoThrottle t = new IoThrottle(Fault.Throttle.iops(2000), clock);
        long start = clock.now;

        long[] due = new long[1000];
        for (int k = 0; k < due.length; k++) {
            due[k] = t.reserve(4096);
        }

        assertThat(t.costNanos(4096)).isEqualTo(500 * US);
        assertThat(t.burstNanos()).isEqualTo(10 * MS);
        for (int k = 0; k < 20; k++) {
            assertThat(due[k]).as("I/O %d of the 10 ms burst", k).isEqualTo(start);
        }
        for (int k = 20; k < due.length; k++) {
            assertThat(due[k] - start).as("I/O %d", k).isEqualTo((k + 1) * 500 * US - 10 * MS);
        }
        // 1000 I/Os at 2000 iops: the last goes half a second in, less the burst
        assertThat(due[999] - start).isEqualTo(490 * MS);
        assertThat(t.commands()).isEqualTo(1000);
    }

    @Test
    void should_charge_the_data_an_io_carries_against_a_byte_cap() {
        IoThrottle t = new IoThrottle(Fault.Throttle.mibPerSecond(50), clock);
        long start = clock.now;

        long[] due = new long[8];
        for (int k = 0; k < due.length; k++) {
            due[k] = t.reserve(128 << 10);
        }
        long flush = t.reserve(0);
        long small = t.reserve(4096);

        // 128 KiB at 50 MiB/s is 2.5 ms; the burst is 10 ms: four of them pass at once
        assertThat(t.costNanos(128 << 10)).isEqualTo(2500 * US);
        assertThat(Arrays.stream(due).map(d -> d - start).toArray())
                .containsExactly(0, 0, 0, 0, 2500 * US, 5000 * US, 7500 * US, 10_000 * US);
        assertThat(flush - start).as("a flush carries no data but waits its turn").isEqualTo(10_000 * US);
        assertThat(small - start).as("4 KiB at 50 MiB/s is 78.125 us").isEqualTo(10_000 * US + 78_125);
        assertThat(t.bytes()).isEqualTo(8 * (128 << 10) + 4096);
        assertThat(t.commands()).isEqualTo(10);
    }

    @Test
    void should_let_one_io_through_at_once_even_when_it_costs_more_than_the_burst() {
        IoThrottle slow = new IoThrottle(Fault.Throttle.iops(1), clock);
        long start = clock.now;

        assertThat(slow.reserve(0)).isEqualTo(start);
        assertThat(slow.reserve(0) - start).isEqualTo(1000 * MS);
        assertThat(slow.reserve(0) - start).isEqualTo(2000 * MS);
    }

    @Test
    void should_save_up_no_more_than_the_burst_while_idle() {
        IoThrottle t = new IoThrottle(Fault.Throttle.iops(1000), clock);
        for (int k = 0; k < 100; k++) {
            t.reserve(0);
        }
        clock.now += TimeUnit.SECONDS.toNanos(10);
        long later = clock.now;

        long[] due = new long[20];
        for (int k = 0; k < due.length; k++) {
            due[k] = t.reserve(0);
        }

        for (int k = 0; k < 10; k++) {
            assertThat(due[k]).as("I/O %d after 10 s idle", k).isEqualTo(later);
        }
        assertThat(due[10] - later).isEqualTo(MS);
        assertThat(due[19] - later).isEqualTo(10 * MS);
    }

    /**
     * A host keeping 32 I/Os outstanding, each completion sent late by up to 300 us of timer lag
     * and answered by the next I/O at once: the port still completes at the cap, because due times
     * are computed from the bucket, not from when the timers fired.
     */
    @Test
    void should_complete_at_the_cap_under_a_closed_loop_whatever_the_timer_lag() {
        IoThrottle t = new IoThrottle(Fault.Throttle.iops(3000), clock);
        Random lag = new Random(42);
        PriorityQueue<Long> outstanding = new PriorityQueue<>();
        for (int i = 0; i < 32; i++) {
            outstanding.add(t.reserve(4096));
        }
        long first = -1;
        long last = 0;
        int completions = 30_000;
        for (int n = 0; n < completions; n++) {
            long due = outstanding.poll();
            clock.now = Math.max(clock.now, due + lag.nextInt(300) * US); // the timer fires late
            if (n == 1000) {
                first = clock.now; // past the start-up burst
            }
            last = clock.now;
            outstanding.add(t.reserve(4096)); // the host's next I/O
        }

        double iops = (completions - 1 - 1000) / ((last - first) / 1e9);
        assertThat(iops).isBetween(3000 * 0.999, 3000 * 1.001);
    }

    @Test
    void should_never_let_queues_that_ask_at_once_exceed_the_cap() throws Exception {
        IoThrottle t = new IoThrottle(Fault.Throttle.iops(10_000), clock);
        long start = clock.now;
        int threads = 4;
        int each = 2500;
        List<long[]> dues = new ArrayList<>();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            long[] mine = new long[each];
            dues.add(mine);
            Thread th = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                for (int k = 0; k < each; k++) {
                    mine[k] = t.reserve(0);
                }
            });
            th.start();
            ts.add(th);
        }
        go.countDown();
        for (Thread th : ts) {
            th.join();
        }

        for (long[] mine : dues) {
            for (int k = 1; k < each; k++) {
                assertThat(mine[k]).as("due times of one queue never go down").isGreaterThanOrEqualTo(mine[k - 1]);
            }
        }
        long[] all = dues.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        for (int k = 0; k < all.length; k++) {
            // exactly the schedule of one backlog of 10000: no reservation lost or doubled by the race
            assertThat(all[k] - start).as("I/O %d", k).isEqualTo(Math.max(0, (k + 1) * 100 * US - 10 * MS));
        }
    }
}
