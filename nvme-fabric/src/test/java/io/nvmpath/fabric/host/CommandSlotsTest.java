package io.nvmpath.fabric.host;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class CommandSlotsTest {
    @Test
    void a_reused_slot_gets_a_new_cid_and_the_old_one_is_unknown() {
        CommandSlots slots = new CommandSlots(4);
        Set<Integer> seen = new HashSet<>();
        int first = slots.add(Commands.flush(1));
        seen.add(first);
        int slot = slots.slotOf(first);
        slots.remove(slot);
        assertThat(slots.slotOf(first)).as("completed: its CID names nothing").isEqualTo(-1);
        for (int reuse = 1; reuse < 16; reuse++) {
            int cid = slots.add(Commands.flush(1));
            assertThat(slots.slotOf(cid)).as("the freed slot comes back first").isEqualTo(slot);
            assertThat(seen.add(cid)).as("CID %x is new", cid).isTrue();
            slots.remove(slot);
        }
        assertThat(slots.add(Commands.flush(1))).as("16 generations, then the first CID again").isEqualTo(first);
    }

    @Test
    void a_cid_beyond_the_depth_or_for_a_free_slot_is_unknown() {
        CommandSlots slots = new CommandSlots(2);
        assertThat(slots.slotOf(0)).isEqualTo(-1);
        int cid = slots.add(Commands.flush(1));
        assertThat(slots.slotOf(cid | 0x7)).isEqualTo(-1);
        assertThat(slots.slotOf(cid ^ (1 << 12))).as("right slot, wrong generation").isEqualTo(-1);
    }

    @Test
    void full_at_depth_and_counts_what_is_in_flight() {
        CommandSlots slots = new CommandSlots(2);
        NvmeRequest a = Commands.flush(1);
        int ca = slots.add(a);
        slots.add(Commands.flush(1));
        assertThat(slots.full()).isTrue();
        assertThat(slots.inFlight()).isEqualTo(2);
        assertThat(slots.remove(slots.slotOf(ca))).isSameAs(a);
        assertThat(slots.full()).isFalse();
        assertThat(slots.inFlight()).isEqualTo(1);
    }
}
