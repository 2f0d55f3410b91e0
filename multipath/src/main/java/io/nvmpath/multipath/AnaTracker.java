package io.nvmpath.multipath;

import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.nvme.AnaLog;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.IdentifyController;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Keeps every path's ANA state from its controller's ANA log: applies a log to the paths, re-reads it
 * on an ANA change event or an ANA error status (one read at a time per controller, one more if
 * asked meanwhile), and resets a controller whose group stays in the change state longer than its
 * ANATT. On the management executor.
 */
final class AnaTracker {
    private static final Logger log = LoggerFactory.getLogger(AnaTracker.class);
    /** ANATT to assume when a controller reports none, in seconds. */
    static final int DEFAULT_ANATT_SECONDS = 10;

    private final Multipath manager;
    private final LongSupplier clock;
    private final Set<PathIo> reading = new HashSet<>();
    private final Set<PathIo> again = new HashSet<>();

    AnaTracker(Multipath manager, LongSupplier clock) {
        this.manager = manager;
        this.clock = clock;
    }

    /** Sets {@code p}'s state from {@code ana}; logs a change when {@code announce}. */
    void apply(Path p, AnaLog ana, boolean announce) {
        AnaLog.Group g = ana.group(p.anaGroup);
        AnaState st = g == null || g.state() == null ? AnaState.INACCESSIBLE : g.state();
        AnaState prev = p.anaState;
        p.anaState = st;
        p.anaPending = false;
        if (st == AnaState.CHANGE) {
            if (p.changeSinceNanos == 0) {
                p.changeSinceNanos = clock.getAsLong() | 1;
            }
        } else {
            p.changeSinceNanos = 0;
        }
        if (prev != st && announce) {
            MultipathSubsystem s = manager.owner(p.io);
            log.info("{} nsid {}: path {} ANA {} -> {}", s == null ? "?" : s.nqn(), p.nsid, p.io.name(),
                    prev.label(), st.label());
        }
    }

    /** Re-reads the ANA log of {@code io} and updates its paths and their heads. */
    void read(PathIo io) {
        if (!(io instanceof ControllerPathIo cio) || cio.controller().state() != ControllerState.LIVE) {
            return;
        }
        if (!reading.add(io)) {
            again.add(io);
            return;
        }
        cio.controller().anaLog(false).whenCompleteAsync((ana, err) -> {
            reading.remove(io);
            if (err == null) {
                MultipathSubsystem s = manager.owner(io);
                if (s != null) {
                    for (NamespaceHead h : s.heads()) {
                        for (Path p : h.paths()) {
                            if (p.io == io) {
                                apply(p, ana, true);
                            }
                        }
                        h.pathsChanged();
                    }
                }
            } else {
                log.debug("ANA log of {}: {}", io.name(), Multipath.rootMessage(err));
            }
            if (again.remove(io)) {
                read(io);
            }
        }, manager.executor());
    }

    /** Resets the controller of {@code p} when its group has been in change for longer than ANATT. */
    void checkTransition(NamespaceHead h, Path p, long now) {
        long since = p.changeSinceNanos;
        if (since == 0 || !(p.io instanceof ControllerPathIo cio)) {
            return;
        }
        IdentifyController id = cio.controller().identity();
        long anatt = TimeUnit.SECONDS.toNanos(id == null || id.anatt() == 0 ? DEFAULT_ANATT_SECONDS : id.anatt());
        if (now - since > anatt) {
            p.changeSinceNanos = now | 1;
            log.warn("{} nsid {}: ANA group {} of {} in change for more than ANATT; resetting",
                    h.subsystem().nqn(), h.nsid(), p.anaGroup, cio.name());
            cio.controller().reset("ANA transition longer than ANATT");
        }
    }
}
