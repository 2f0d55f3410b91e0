package io.nvmpath.server.block;

import java.util.ArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Orders the writes of one device that share a block with a read-modify-write, so that two merges
 * of the same block cannot lose each other's update and a stale write-back cannot clobber a
 * whole-block write that landed between an RMW's read and its write.
 *
 * <p>Two kinds of holder, over a range of blocks: <em>shared</em> (whole-block writes: Write, Write
 * Zeroes, Deallocate), which never conflict with one another, and <em>exclusive</em> (a
 * read-modify-write), which conflicts with every holder whose blocks overlap its own. A holder is
 * granted once no holder that arrived before it conflicts with it: arrival order among conflicting
 * holders, so none starves. Reads take no part: a read concurrent with a write has no ordering to
 * keep, and every block an RMW writes back is whole.
 *
 * <p>While no exclusive holder exists, shared holders take {@link #tryEnterShared}: one counter
 * increment and a volatile read, no monitor, no list. Their blocks are then unknown, so the first
 * exclusive holder also waits for every such unregistered write to finish (one I/O latency at the
 * first RMW after a stretch of aligned traffic); while an exclusive holder exists, shared holders
 * register their blocks like everyone else.
 *
 * <p>Never blocks: a holder that must wait is granted later, its {@link Hold#onGrant} run on the
 * thread that released the last holder in its way (outside the monitor).
 */
final class RangeLock {

    /** One registered holder of the blocks {@code [first, end)}. */
    static final class Hold {
        final long first;
        final long end;
        final boolean exclusive;
        /** Runs once, when the holder may proceed (possibly inside {@link #acquire}). */
        final Runnable onGrant;
        /** Guarded by the lock's monitor. */
        boolean granted;

        Hold(long first, long end, boolean exclusive, Runnable onGrant) {
            if (end <= first) {
                throw new IllegalArgumentException("empty block range " + first + ".." + end);
            }
            this.first = first;
            this.end = end;
            this.exclusive = exclusive;
            this.onGrant = onGrant;
        }

        boolean conflicts(Hold other) {
            return (exclusive || other.exclusive) && first < other.end && other.first < end;
        }

        @Override
        public String toString() {
            return (exclusive ? "exclusive " : "shared ") + first + ".." + end + (granted ? " granted" : " waiting");
        }
    }

    /** Shared writes in flight on the fast path, blocks unknown. */
    private final AtomicInteger unregistered = new AtomicInteger();
    /** Exclusive holders registered, granted or waiting; non-zero closes the fast path. */
    private final AtomicInteger exclusives = new AtomicInteger();
    /** Registered holders in arrival order. Guarded by this. */
    private final ArrayList<Hold> holds = new ArrayList<>();
    /** Registered holders not yet granted. Guarded by this. */
    private int waiting;

    /**
     * The fast path of a shared holder: true when no exclusive holder exists, and the caller may write
     * at once without registering; it must then call {@link #leaveShared} once, when its write is done.
     * False: the caller must {@link #acquire} a shared {@link Hold} instead.
     */
    boolean tryEnterShared() {
        if (exclusives.get() != 0) {
            return false;
        }
        unregistered.incrementAndGet();
        // Dekker with acquire(): either this read sees the exclusive holder, or its grant check sees us
        if (exclusives.get() == 0) {
            return true;
        }
        leaveShared();
        return false;
    }

    /** Ends a write that {@link #tryEnterShared} let through. */
    void leaveShared() {
        if (unregistered.decrementAndGet() == 0 && exclusives.get() != 0) {
            grantWaiting();
        }
    }

    /** Registers {@code h}; its {@code onGrant} runs once nothing earlier conflicts (maybe before this returns). */
    void acquire(Hold h) {
        boolean now;
        synchronized (this) {
            holds.add(h);
            if (h.exclusive) {
                exclusives.incrementAndGet();
            }
            now = grantable(holds.size() - 1);
            if (now) {
                h.granted = true;
            } else {
                waiting++;
            }
        }
        if (now) {
            h.onGrant.run();
        }
    }

    /** Ends a registered holder (granted); grants whoever waited for it. */
    void release(Hold h) {
        synchronized (this) {
            if (!h.granted || !holds.remove(h)) {
                throw new IllegalStateException("release of a hold not granted: " + h);
            }
            if (h.exclusive) {
                exclusives.decrementAndGet();
            }
            if (waiting == 0) {
                return;
            }
        }
        grantWaiting();
    }

    private void grantWaiting() {
        Hold[] ready = null;
        int n = 0;
        synchronized (this) {
            if (waiting == 0) {
                return;
            }
            for (int i = 0; i < holds.size(); i++) {
                Hold h = holds.get(i);
                if (!h.granted && grantable(i)) {
                    h.granted = true;
                    waiting--;
                    if (ready == null) {
                        ready = new Hold[holds.size()];
                    }
                    ready[n++] = h;
                }
            }
        }
        for (int i = 0; i < n; i++) {
            ready[i].onGrant.run();
        }
    }

    /** Whether the holder at {@code index} may proceed. Guarded by this. */
    private boolean grantable(int index) {
        Hold h = holds.get(index);
        if (h.exclusive && unregistered.get() != 0) {
            return false;
        }
        for (int i = 0; i < index; i++) {
            if (h.conflicts(holds.get(i))) {
                return false;
            }
        }
        return true;
    }

    /** Registered holders, granted or waiting (tests, diagnostics). */
    synchronized int registered() {
        return holds.size();
    }

    /** Fast-path writes in flight (tests, diagnostics). */
    int unregistered() {
        return unregistered.get();
    }
}
