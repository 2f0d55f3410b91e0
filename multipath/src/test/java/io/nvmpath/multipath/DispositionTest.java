package io.nvmpath.multipath;

import io.nvmpath.fabric.nvme.Status;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

import static io.nvmpath.multipath.Disposition.COMPLETE;
import static io.nvmpath.multipath.Disposition.FAILOVER;
import static io.nvmpath.multipath.Disposition.RETRY;
import static org.assertj.core.api.Assertions.assertThat;

/** The one place a failed command's fate is decided, status by status. */
class DispositionTest {
    private static final int MAX_RETRIES = 5;
    private static final int MAX_FAILOVERS = 16;

    private static Disposition first(int status) {
        return Disposition.decide(status, 0, 0, MAX_RETRIES, MAX_FAILOVERS);
    }

    /** Status, what it is, disposition of its first failure. */
    private static final Object[][] TABLE = {
            {0x000, "success", COMPLETE},
            {0x300, "internal path error", FAILOVER},
            {0x301, "ANA persistent loss", FAILOVER},
            {0x302, "ANA inaccessible", FAILOVER},
            {0x303, "ANA transition", FAILOVER},
            {0x360, "controller pathing error", FAILOVER},
            {0x370, "host pathing error", FAILOVER},
            {0x371, "command aborted by host", FAILOVER},
            {0x1302, "ANA inaccessible with CRD 2", FAILOVER},
            {0x4302, "ANA inaccessible with DNR", COMPLETE},
            {0x4370, "host pathing error with DNR (set by this host: still a path error)", FAILOVER},
            {0x4371, "host abort with DNR (set by this host: still a path error)", FAILOVER},
            {0x4006, "internal error with DNR", COMPLETE},
            {0x4004, "data transfer error with DNR", COMPLETE},
            {0x280, "media: write fault", COMPLETE},
            {0x281, "media: unrecovered read error", COMPLETE},
            {0x286, "media: access denied", COMPLETE},
            {0x002, "invalid field", COMPLETE},
            {0x001, "invalid opcode", COMPLETE},
            {0x00B, "invalid namespace", COMPLETE},
            {0x080, "LBA out of range", COMPLETE},
            {0x081, "capacity exceeded", COMPLETE},
            {0x006, "internal error", RETRY},
            {0x806, "internal error with CRD 1", RETRY},
            {0x004, "data transfer error", RETRY},
            {0x007, "command abort requested", RETRY},
            {0x082, "namespace not ready", RETRY},
    };

    @Test
    void should_decide_each_status_in_one_place() {
        SoftAssertions soft = new SoftAssertions();
        for (Object[] row : TABLE) {
            int status = (Integer) row[0];
            soft.assertThat(first(status)).as("0x%03x %s (%s)", status, row[1], Status.describe(status))
                    .isEqualTo(row[2]);
        }
        soft.assertAll();
    }

    @Test
    void should_retry_an_internal_error_until_max_retries_then_complete() {
        for (int retries = 0; retries < MAX_RETRIES; retries++) {
            assertThat(Disposition.decide(Status.INTERNAL, retries, 0, MAX_RETRIES, MAX_FAILOVERS))
                    .as("after %d retries", retries).isEqualTo(RETRY);
        }
        assertThat(Disposition.decide(Status.INTERNAL, MAX_RETRIES, 0, MAX_RETRIES, MAX_FAILOVERS)).isEqualTo(COMPLETE);
    }

    @Test
    void should_fail_over_until_max_failovers_then_give_the_path_error_to_the_caller() {
        for (int failovers = 0; failovers < MAX_FAILOVERS; failovers++) {
            assertThat(Disposition.decide(Status.ANA_INACCESSIBLE, 0, failovers, MAX_RETRIES, MAX_FAILOVERS))
                    .as("after %d failovers", failovers).isEqualTo(FAILOVER);
        }
        assertThat(Disposition.decide(Status.ANA_INACCESSIBLE, 0, MAX_FAILOVERS, MAX_RETRIES, MAX_FAILOVERS))
                .isEqualTo(COMPLETE);
        assertThat(Disposition.decide(Status.HOST_ABORTED_CMD, 0, MAX_FAILOVERS + 3, MAX_RETRIES, MAX_FAILOVERS))
                .isEqualTo(COMPLETE);
    }

    @Test
    void should_not_count_retries_against_path_errors_nor_failovers_against_retries() {
        assertThat(Disposition.decide(Status.HOST_PATH_ERROR, MAX_RETRIES, 0, MAX_RETRIES, MAX_FAILOVERS))
                .isEqualTo(FAILOVER);
        assertThat(Disposition.decide(Status.INTERNAL, 0, MAX_FAILOVERS, MAX_RETRIES, MAX_FAILOVERS)).isEqualTo(RETRY);
    }

    @Test
    void should_complete_a_success_whatever_the_counts() {
        assertThat(Disposition.decide(Status.SUCCESS, MAX_RETRIES, MAX_FAILOVERS, MAX_RETRIES, MAX_FAILOVERS))
                .isEqualTo(COMPLETE);
    }
}
