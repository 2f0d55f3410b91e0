package io.nvmpath.multipath;

import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.nvme.AnaState;

import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * One namespace as seen through one controller.
 *
 * <p>Whether I/O may use it is one predicate, {@link #tier()}: not at all (-1), or at a tier where
 * lower is better. The state it reads is written by the management executor (ANA, failback,
 * marginal holds) or by a completing event loop (an ANA error, a transport abort) and read by the
 * I/O path: the fields the I/O path reads are volatile; the failure history behind the marginal
 * state is guarded by this object's lock and read only by the management executor and the views.
 */
public final class Path {
    final PathIo io;
    final int nsid;
    final int anaGroup;
    private final LongSupplier clock;

    volatile AnaState anaState = AnaState.OPTIMIZED;
    /** An ANA error was seen; unusable until the ANA log has been read again. */
    volatile boolean anaPending;
    /** When the group entered CHANGE ({@link #clock} time), 0 when not in CHANGE. */
    volatile long changeSinceNanos;
    /** Failback: before this time the path only serves as a last resort. */
    volatile long eligibleAtNanos;
    /** Marginal: held back until this time. */
    volatile long marginalUntilNanos;
    volatile boolean removed;
    /**
     * The transport just aborted commands here (host pathing / host abort) but the controller has
     * not left LIVE yet: held back until it does, or until this time.
     */
    volatile long suspectUntilNanos;
    private boolean wasUsable;
    private final long[] failureTimes;
    private int failureCursor;
    /** Times the path stopped being usable. */
    long failures;
    /** Requests failed over away from this path. */
    final LongAdder failoversFrom = new LongAdder();
    long marginalHolds;

    Path(PathIo io, int nsid, int anaGroup, int marginalFailures, LongSupplier clock) {
        this.io = io;
        this.nsid = nsid;
        this.anaGroup = anaGroup;
        this.clock = clock;
        this.failureTimes = new long[Math.max(1, marginalFailures)];
        long now = clock.getAsLong();
        this.eligibleAtNanos = now;
        this.marginalUntilNanos = now;
        this.suspectUntilNanos = now;
    }

    public PathIo io() {
        return io;
    }

    public AnaState anaState() {
        return anaState;
    }

    public PathId id() {
        return io.id();
    }

    /** No tier: the path takes no I/O. */
    static final int NONE = -1;
    /** Tiers: optimized, then non-optimized; each {@code HELD} worse while the path is held back. */
    static final int OPTIMIZED = 0;
    static final int NON_OPTIMIZED = 1;
    static final int HELD = 2;

    /**
     * The eligibility predicate, the only one: {@link #NONE} unless the controller is LIVE, the ANA
     * state allows I/O and no ANA update is pending; else optimized (0) or non-optimized (1), plus
     * {@link #HELD} while marginal, waiting for failback or suspected after a transport abort. A
     * head sends I/O only to paths of its best tier.
     */
    int tier() {
        if (!live()) {
            return NONE;
        }
        return (anaState == AnaState.OPTIMIZED ? OPTIMIZED : NON_OPTIMIZED) + (heldBack() ? HELD : 0);
    }

    /**
     * The part of {@link #tier()} that a completion can change between two re-evaluations of the
     * head: a head re-checks it on the path it picked from its cached choice.
     */
    boolean live() {
        return !removed && io.state() == ControllerState.LIVE && anaState.usable() && !anaPending;
    }

    /** For the views: whether the path may take I/O at all ({@link #tier()} is not {@link #NONE}). */
    public boolean usable() {
        return tier() != NONE;
    }

    /** For the views and {@link #tier()}: marginal, waiting for failback, or suspected. */
    public boolean heldBack() {
        if (!holdSet) {
            return false; // the I/O path's common case: no clock read
        }
        long now = clock.getAsLong();
        return now - marginalUntilNanos < 0 || now - eligibleAtNanos < 0 || now - suspectUntilNanos < 0;
    }

    /**
     * Set whenever a hold time is put in the future; cleared by the management tick
     * ({@link #refreshHold}) once every hold has passed.
     */
    private volatile boolean holdSet;

    /**
     * Clears the hold flag when no hold is in force any more (management executor); true when it did,
     * so that the head re-evaluates its choice.
     */
    synchronized boolean refreshHold() {
        if (holdSet) {
            long now = clock.getAsLong();
            if (now - marginalUntilNanos >= 0 && now - eligibleAtNanos >= 0 && now - suspectUntilNanos >= 0) {
                holdSet = false;
                return true;
            }
        }
        return false;
    }

    /** The transport failed commands here: hold the path back until its controller's state moves. */
    synchronized void suspect(long forNanos) {
        suspectUntilNanos = clock.getAsLong() + forNanos;
        holdSet = true;
    }

    public boolean marginal() {
        return clock.getAsLong() - marginalUntilNanos < 0;
    }

    /**
     * Counts one path failure; returns true when it makes the path marginal (enough failures within
     * the window).
     */
    synchronized boolean recordFailure(long windowNanos, long holdNanos) {
        long now = clock.getAsLong();
        failures++;
        failureTimes[failureCursor] = now;
        failureCursor = (failureCursor + 1) % failureTimes.length;
        long oldest = failureTimes[failureCursor];
        boolean full = oldest != 0 || failureTimes.length == 1;
        if (full && now - oldest <= windowNanos && !marginal()) {
            marginalUntilNanos = now + holdNanos;
            holdSet = true;
            marginalHolds++;
            Arrays.fill(failureTimes, 0);
            return true;
        }
        return false;
    }

    /** What {@link #noteUsability} saw. */
    enum Transition { NONE, LOST, LOST_AND_MARGINAL, BACK }

    /**
     * Tracks usable/unusable transitions: a path that stops being usable counts one failure (for
     * marginal damping); one that becomes usable again gets its failback time.
     */
    synchronized Transition noteUsability(FailbackMode mode, long delayNanos, long windowNanos, long holdNanos) {
        boolean now = live();
        boolean live = io.state() == ControllerState.LIVE;
        if (!live) {
            suspectUntilNanos = clock.getAsLong(); // the controller left LIVE: the suspicion has served
        }
        Transition t = Transition.NONE;
        if (wasSeen && wasUsable && !now) {
            // only a lost controller counts towards marginal damping, not an ANA change
            t = !live && recordFailure(windowNanos, holdNanos) ? Transition.LOST_AND_MARGINAL : Transition.LOST;
        } else if (wasSeen && !wasUsable && now) {
            eligibleAtNanos = switch (mode) {
                case IMMEDIATE -> clock.getAsLong();
                case DELAYED -> clock.getAsLong() + delayNanos;
                case MANUAL -> clock.getAsLong() + Long.MAX_VALUE / 4;
            };
            if (mode != FailbackMode.IMMEDIATE) {
                holdSet = true;
            }
            t = Transition.BACK;
        }
        wasSeen = true;
        wasUsable = now;
        return t;
    }

    private boolean wasSeen;

    /** Operator's failback: eligible at once. */
    synchronized void failbackNow() {
        eligibleAtNanos = clock.getAsLong();
    }

    @Override
    public String toString() {
        return io.name() + " nsid " + nsid + " " + anaState.label() + (anaPending ? " (ANA pending)" : "")
                + " " + io.state().name().toLowerCase();
    }
}
