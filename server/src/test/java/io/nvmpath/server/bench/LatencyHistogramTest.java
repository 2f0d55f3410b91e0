package io.nvmpath.server.bench;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class LatencyHistogramTest {
    @Test
    void buckets_are_contiguous_and_at_most_about_three_percent_wide() {
        for (int i = 0; i < LatencyHistogram.BUCKETS - 1; i++) {
            assertThat(LatencyHistogram.lowerEdge(i + 1)).as("bucket %d", i).isEqualTo(LatencyHistogram.upperEdge(i) + 1);
            assertThat(LatencyHistogram.index(LatencyHistogram.lowerEdge(i))).isEqualTo(i);
            assertThat(LatencyHistogram.index(LatencyHistogram.upperEdge(i))).isEqualTo(i);
            long lo = LatencyHistogram.lowerEdge(i);
            if (lo >= 32) {
                assertThat((double) (LatencyHistogram.upperEdge(i) - lo + 1) / lo).isLessThanOrEqualTo(1.0 / 32);
            }
        }
        assertThat(LatencyHistogram.index(Long.MAX_VALUE)).isEqualTo(LatencyHistogram.BUCKETS - 1);
    }

    @Test
    void quantiles_of_a_known_distribution_are_within_the_bucket_width() {
        LatencyHistogram h = new LatencyHistogram();
        for (long v = 1; v <= 100_000; v++) {
            h.record(v * 1000);
        }
        assertThat(h.total()).isEqualTo(100_000);
        assertThat(h.quantile(0.5)).isBetween(50_000_000L, 51_600_000L);
        assertThat(h.quantile(0.99)).isBetween(99_000_000L, 100_000_000L);
        assertThat(h.quantile(0.999)).isBetween(99_900_000L, 100_000_000L);
        assertThat(h.max()).isEqualTo(100_000_000L);
        assertThat(h.mean()).isEqualTo(50_000_500.0);
    }

    @Test
    void merged_histograms_count_both() {
        LatencyHistogram a = new LatencyHistogram();
        LatencyHistogram b = new LatencyHistogram();
        a.record(10);
        b.record(1_000_000);
        a.add(b);
        assertThat(a.total()).isEqualTo(2);
        assertThat(a.quantile(0.5)).isEqualTo(10);
        assertThat(a.quantile(1.0)).isEqualTo(1_000_000);
    }
}
