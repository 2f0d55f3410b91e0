package io.nvmpath.server.block;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Who may write which blocks when, by {@link RangeLock}'s rules, one step at a time. */
class RangeLockTest {
    private final RangeLock lock = new RangeLock();
    private final List<String> granted = new ArrayList<>();

    private RangeLock.Hold hold(String name, long first, long end, boolean exclusive) {
        return new RangeLock.Hold(first, end, exclusive, () -> granted.add(name));
    }

    private RangeLock.Hold acquire(String name, long first, long end, boolean exclusive) {
        RangeLock.Hold h = hold(name, first, end, exclusive);
        lock.acquire(h);
        return h;
    }

    @Test
    void should_grant_shared_holders_of_the_same_blocks_at_once() {
        acquire("a", 0, 8, false);
        acquire("b", 4, 12, false);

        assertThat(granted).containsExactly("a", "b");
    }

    @Test
    void should_make_an_exclusive_holder_wait_for_an_earlier_overlapping_one_and_grant_it_on_release() {
        RangeLock.Hold a = acquire("a", 0, 8, false);
        RangeLock.Hold b = acquire("b", 7, 9, true);
        assertThat(granted).containsExactly("a");

        lock.release(a);

        assertThat(granted).containsExactly("a", "b");
        lock.release(b);
        assertThat(lock.registered()).isZero();
    }

    @Test
    void should_serialize_two_read_modify_writes_of_one_block() {
        RangeLock.Hold a = acquire("a", 3, 4, true);
        acquire("b", 3, 4, true);
        assertThat(granted).containsExactly("a");

        lock.release(a);

        assertThat(granted).containsExactly("a", "b");
    }

    @Test
    void should_grant_an_exclusive_holder_of_other_blocks_at_once() {
        acquire("a", 0, 8, true);
        acquire("b", 8, 16, true);
        acquire("c", 16, 17, false);

        assertThat(granted).containsExactly("a", "b", "c");
    }

    @Test
    void should_queue_a_later_shared_holder_behind_a_waiting_exclusive_one() {
        RangeLock.Hold a = acquire("a", 0, 8, false);
        RangeLock.Hold b = acquire("b", 4, 5, true);
        RangeLock.Hold c = acquire("c", 4, 6, false);
        acquire("d", 6, 8, false);
        assertThat(granted).as("d overlaps only a, which is shared").containsExactly("a", "d");

        lock.release(a);
        assertThat(granted).containsExactly("a", "d", "b");

        lock.release(b);
        assertThat(granted).containsExactly("a", "d", "b", "c");
        lock.release(c);
    }

    @Test
    void should_close_the_fast_path_while_an_exclusive_holder_exists() {
        assertThat(lock.tryEnterShared()).isTrue();
        lock.leaveShared();
        RangeLock.Hold x = acquire("x", 100, 101, true);

        assertThat(lock.tryEnterShared()).as("an unrelated whole-block write must register now").isFalse();
        assertThat(lock.unregistered()).isZero();

        lock.release(x);
        assertThat(lock.tryEnterShared()).isTrue();
        lock.leaveShared();
    }

    @Test
    void should_hold_back_an_exclusive_holder_until_unregistered_writes_have_finished() {
        assertThat(lock.tryEnterShared()).isTrue();
        assertThat(lock.tryEnterShared()).isTrue();

        RangeLock.Hold x = acquire("x", 0, 1, true);
        assertThat(granted).as("the fast-path writes' blocks are unknown").isEmpty();
        lock.leaveShared();
        assertThat(granted).isEmpty();
        lock.leaveShared();

        assertThat(granted).containsExactly("x");
        lock.release(x);
    }

    @Test
    void should_refuse_to_release_a_hold_that_was_not_granted() {
        RangeLock.Hold a = acquire("a", 0, 1, true);
        RangeLock.Hold b = acquire("b", 0, 1, true);

        assertThatThrownBy(() -> lock.release(b)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> lock.release(hold("never", 0, 1, false))).isInstanceOf(IllegalStateException.class);
        lock.release(a);
        lock.release(b);
        assertThat(lock.registered()).isZero();
    }
}
