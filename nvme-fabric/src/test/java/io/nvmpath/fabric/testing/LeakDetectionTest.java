package io.nvmpath.fabric.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The guard every test relies on: a dropped buffer is reported, so a leaking test fails. */
class LeakDetectionTest {
    @Test
    void a_buffer_dropped_without_release_is_reported() {
        assertThat(LeakDetection.installed()).as("installed by the launcher session listener").isTrue();
        leakOne();
        assertThat(LeakDetection.drainLeaks()).anySatisfy(l -> assertThat(l).contains("LEAK"));
    }

    private static void leakOne() {
        ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(64);
        b.writeLong(42);
        // dropped on purpose
    }
}
