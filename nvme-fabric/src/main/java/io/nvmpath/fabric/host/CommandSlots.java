package io.nvmpath.fabric.host;

/**
 * The in-flight table of one queue: a slot per outstanding command, and the command identifier
 * (CID) that names it on the wire. A CID carries a 4-bit generation above its 12-bit slot and the
 * generation moves on every reuse, so a late or bogus completion for a reused slot is caught
 * instead of completing the wrong command. Free slots are a stack: the most recently freed is
 * reused first.
 *
 * <p>Owned by the queue's event loop; only {@link #inFlight()} may be read from other threads.
 */
final class CommandSlots {
    private static final int TAG_BITS = 12;
    private static final int TAG_MASK = (1 << TAG_BITS) - 1;
    private static final int GEN_MASK = 0xF;
    /** The most slots a CID can tell apart. */
    static final int MAX_DEPTH = TAG_MASK + 1;

    private final NvmeRequest[] slots;
    private final byte[] generation;
    private final int[] free;
    private int freeTop;
    private volatile int inFlight;

    CommandSlots(int depth) {
        if (depth < 0 || depth > MAX_DEPTH) {
            throw new IllegalArgumentException("depth must be 0.." + MAX_DEPTH + ", not " + depth);
        }
        slots = new NvmeRequest[depth];
        generation = new byte[depth];
        free = new int[depth];
        for (int i = depth - 1; i >= 0; i--) {
            free[freeTop++] = i;
        }
    }

    int depth() {
        return slots.length;
    }

    boolean full() {
        return freeTop == 0;
    }

    /** Commands outstanding; any thread. */
    int inFlight() {
        return inFlight;
    }

    /** Takes a free slot for {@code r} and returns the CID that names it; not when {@link #full()}. */
    int add(NvmeRequest r) {
        int slot = free[--freeTop];
        slots[slot] = r;
        inFlight++;
        return ((generation[slot] & GEN_MASK) << TAG_BITS) | slot;
    }

    /** The slot of the command {@code cid} names, or -1 when no outstanding command has that CID. */
    int slotOf(int cid) {
        int slot = cid & TAG_MASK;
        if (slot >= slots.length || slots[slot] == null || (generation[slot] & GEN_MASK) != (cid >>> TAG_BITS)) {
            return -1;
        }
        return slot;
    }

    /** The command in {@code slot}, or null when the slot is free. */
    NvmeRequest get(int slot) {
        return slots[slot];
    }

    /** Frees {@code slot} and returns its command; the slot's next CID differs from this one. */
    NvmeRequest remove(int slot) {
        NvmeRequest r = slots[slot];
        slots[slot] = null;
        generation[slot]++;
        free[freeTop++] = slot;
        inFlight--;
        return r;
    }
}
