package io.nvmpath.multipath;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A head's choice of paths, worked out when path state changes ({@link #update}) rather than per
 * I/O: the preferred path when it is eligible and not held back; else, by iopolicy, the first path of
 * the best tier (numa, first) or all paths of that tier (round-robin, queue-depth, service-time).
 * {@link #pick} then only re-checks the fast-changing part of eligibility ({@link Path#live()}) on
 * the few paths of the choice.
 */
final class PathSelector {
    private static final Path[] NONE = new Path[0];

    private volatile Path[] choice = NONE;
    private volatile IoPolicy policy = IoPolicy.NUMA;
    private final AtomicInteger cursor = new AtomicInteger();

    /** Re-evaluates the choice among {@code paths}; {@code preferred} is an address or null. */
    synchronized void update(Path[] paths, IoPolicy policy, String preferred) {
        int best = Path.NONE;
        for (Path p : paths) {
            int t = p.tier();
            if (t != Path.NONE && (best == Path.NONE || t < best)) {
                best = t;
            }
        }
        Path[] c = NONE;
        if (best != Path.NONE) {
            Path pref = preferred == null ? null : preferredAmong(paths, preferred);
            if (pref != null) {
                c = new Path[] {pref};
            } else if (policy == IoPolicy.NUMA || policy == IoPolicy.FIRST) {
                c = new Path[] {firstOfTier(paths, best)};
            } else {
                List<Path> l = new ArrayList<>();
                for (Path p : paths) {
                    if (p.tier() == best) {
                        l.add(p);
                    }
                }
                c = l.toArray(Path[]::new);
            }
        }
        this.policy = policy;
        this.choice = c;
    }

    /** The first path at the preferred address that is eligible and not held back. */
    private static Path preferredAmong(Path[] paths, String address) {
        for (Path p : paths) {
            int t = p.tier();
            if (p.id().at(address) && t != Path.NONE && t < Path.HELD) {
                return p;
            }
        }
        return null;
    }

    private static Path firstOfTier(Path[] paths, int tier) {
        for (Path p : paths) {
            if (p.tier() == tier) {
                return p;
            }
        }
        throw new IllegalStateException("no path of tier " + tier);
    }

    /** The path for the next I/O from the current choice, or null when none of it is live now. */
    Path pick() {
        Path[] c = choice;
        int n = c.length;
        if (n == 1) {
            Path p = c[0];
            return p.live() ? p : null;
        }
        if (n == 0) {
            return null;
        }
        return switch (policy) {
            case NUMA, FIRST, ROUND_ROBIN -> nextLive(c);
            case QUEUE_DEPTH -> fewestInFlight(c);
            case SERVICE_TIME -> leastServiceTime(c);
        };
    }

    /** The paths the next I/O may go to now (tests and the views). */
    List<Path> choice() {
        return List.of(choice);
    }

    private Path nextLive(Path[] c) {
        int start = cursor.getAndIncrement() & Integer.MAX_VALUE;
        for (int k = 0; k < c.length; k++) {
            Path p = c[(start + k) % c.length];
            if (p.live()) {
                return p;
            }
        }
        return null;
    }

    private static Path fewestInFlight(Path[] c) {
        Path best = null;
        int depth = Integer.MAX_VALUE;
        for (Path p : c) {
            if (p.live()) {
                int d = p.io.inFlight();
                if (d < depth) {
                    depth = d;
                    best = p;
                }
            }
        }
        return best;
    }

    private static Path leastServiceTime(Path[] c) {
        Path best = null;
        double cost = Double.MAX_VALUE;
        for (Path p : c) {
            if (p.live()) {
                double lat = p.io.recentLatencyNanos();
                double cst = (p.io.inFlight() + 1) * (lat <= 0 ? 1 : lat);
                if (cst < cost) {
                    cost = cst;
                    best = p;
                }
            }
        }
        return best;
    }
}
