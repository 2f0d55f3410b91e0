package io.nvmpath.multipath;

import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerInstance;
import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.nvme.CrossControllerReset;
import io.nvmpath.fabric.nvme.CrossControllerResetLog;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.Opcodes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The write fences of one subsystem. A write that was outstanding on a controller instance when its
 * association was lost may still be executed by that controller; with {@link WriteFailover#SAFE} it
 * waits in its head's requeue, fenced, until the instance can no longer execute it, then fails over.
 * One {@link WriteFence} per lost instance holds every such write of every head of the subsystem.
 *
 * <p>The time rule (NVMe TP4129, KATO corrections): a controller notices the loss of its host within
 * 2 × KATO of the last command it received (3 × KATO with traffic-based keep-alive, whose timer only
 * looks at traffic once per period), then quiesces what it holds within its Command Quiesce Time.
 * The host counts from the last PDU it sent on the lost association, which no command of that
 * association can postdate. A controller that reports CQT 0 has not said: it is given
 * {@link MultipathOptions#unreportedQuiesceTime()}. A controller connected without KATO never notices
 * a loss: no time releases its writes, which then wait for the no-path timeout.
 *
 * <p>On the management executor.
 */
final class WriteFences {
    private static final Logger log = LoggerFactory.getLogger(WriteFences.class);

    private final MultipathSubsystem subsystem;
    private final MultipathOptions options;
    private final ScheduledExecutorService exec;
    private final LongSupplier clock;
    private final Map<ControllerInstance, WriteFence> open = new HashMap<>();

    WriteFences(MultipathSubsystem subsystem, MultipathOptions options, ScheduledExecutorService exec, LongSupplier clock) {
        this.subsystem = subsystem;
        this.options = options;
        this.exec = exec;
        this.clock = clock;
    }

    /** Whether a command changes the media: everything but the commands known to leave it as it is. */
    static boolean hasSideEffects(NvmeRequest r) {
        return switch (r.sqe().opcode()) {
            case Opcodes.NVM_READ, Opcodes.NVM_FLUSH, NVM_COMPARE, NVM_VERIFY -> false;
            default -> true;
        };
    }

    static final int NVM_COMPARE = 0x05;
    static final int NVM_VERIFY = 0x0C;

    /**
     * How long after the host last sent to {@code lost} it may still execute commands: (2 or 3) × KATO
     * plus CQT; -1 when it never notices a loss (no KATO).
     */
    long holdNanos(ControllerInstance lost) {
        long kato = lost.katoMillis();
        if (kato <= 0) {
            return -1;
        }
        IdentifyController id = lost.identity();
        boolean tbkas = id != null && id.trafficBasedKeepAlive();
        long cqt = cqtMillis(id);
        long quiesce = cqt > 0 ? TimeUnit.MILLISECONDS.toNanos(cqt) : options.unreportedQuiesceTime().toNanos();
        return TimeUnit.MILLISECONDS.toNanos((tbkas ? 3 : 2) * kato) + quiesce;
    }

    /** CQT as the controller reported it, in milliseconds (0: not reported). */
    static long cqtMillis(IdentifyController id) {
        return id == null ? 0 : id.cqt();
    }

    /** Fences {@code r}, lost on {@code lost}: it waits in its head's requeue until the fence is released. */
    void fence(HeadRequest r, ControllerInstance lost) {
        WriteFence f = open.get(lost);
        if (f == null) {
            f = open(lost);
        }
        r.fence = f;
        f.add(r.head);
        subsystem.failoverLog().fenced(r, f);
        r.head.hold(r);
        if (f.released()) {
            r.head.kick(); // a write lost late on an instance already reset, or whose time has passed
        }
    }

    private WriteFence open(ControllerInstance lost) {
        long hold = holdNanos(lost);
        long now = clock.getAsLong();
        // released fences are kept a while: a write of their instance failing late needs no new wait
        open.values().removeIf(old -> old.released() && now - old.releasedNanos() > KEEP_RELEASED_NANOS);
        long wait = hold < 0 ? -1 : Math.max(0, hold - lost.nanosSinceLastSent());
        WriteFence f = new WriteFence(lost, now, wait < 0 ? 0 : now + wait);
        open.put(lost, f);
        if (wait < 0) {
            log.warn("{}: writes lost on {} are fenced with no time limit: it was connected without KATO, so it never"
                    + " notices the loss; they wait for a Cross-Controller Reset or the no-path timeout", subsystem.nqn(), lost);
        } else {
            log.info("{}: writes outstanding on lost {} fenced for {} ms (KATO {} ms, {})", subsystem.nqn(), lost,
                    TimeUnit.NANOSECONDS.toMillis(wait), lost.katoMillis(), quiesceText(lost));
            exec.schedule(() -> release(f, WriteFence.Method.TIME), wait, TimeUnit.NANOSECONDS);
        }
        crossControllerReset(f);
        return f;
    }

    // ---- Cross-Controller Reset -------------------------------------------------------------------

    /**
     * Asks another LIVE controller of the subsystem that supports it (CCRL not 0) to reset the lost
     * instance, named by its CNTLID and the CIU and CIRN it reported: on success nothing it held
     * can run any more and the fence is released at once. An instance whose identity lacks CIU, or a
     * subsystem with no such controller, leaves the time rule alone to release it.
     */
    private void crossControllerReset(WriteFence f) {
        IdentifyController lostId = f.lost.identity();
        if (lostId == null || lostId.ciu() == 0 || f.lost.cntlid() < 0) {
            return;
        }
        Controller via = null;
        for (PathIo io : subsystem.controllers()) {
            if (io instanceof ControllerPathIo cio) {
                Controller c = cio.controller();
                IdentifyController id = c.identity();
                if (c.state() == ControllerState.LIVE && id != null && id.crossControllerReset()
                        && c.cntlid() != f.lost.cntlid()) {
                    via = c;
                    break;
                }
            }
        }
        if (via == null) {
            log.info("{}: no other live controller takes a Cross-Controller Reset of {}; the time rule releases its writes",
                    subsystem.nqn(), f.lost);
            return;
        }
        Controller c = via;
        CrossControllerReset ccr = new CrossControllerReset(f.lost.cntlid(), lostId.ciu(), lostId.cirn());
        f.ccr(c, ccr);
        c.crossControllerReset(ccr).whenCompleteAsync((result, err) -> {
            if (err != null) {
                log.warn("{}: Cross-Controller Reset of {} through {} failed: {}; the time rule releases its writes",
                        subsystem.nqn(), f.lost, f.ccrVia(), Multipath.rootMessage(err));
            } else if (result.immediate()) {
                release(f, WriteFence.Method.CCR);
            } else {
                pollResetLog(f, c, ccr);
            }
        }, exec);
    }

    /** A reset in progress: reads the issuing controller's log until its entry says how it ended. */
    private void pollResetLog(WriteFence f, Controller c, CrossControllerReset ccr) {
        if (f.released()) {
            return;
        }
        c.crossControllerResetLog(false).whenCompleteAsync((page, err) -> {
            CrossControllerResetLog.Entry e = err == null ? page.entry(ccr.icid()) : null;
            if (e != null && e.ciu() == ccr.ciu() && e.status() == CrossControllerResetLog.ResetStatus.SUCCESS) {
                release(f, WriteFence.Method.CCR);
            } else if (e != null && e.status() == CrossControllerResetLog.ResetStatus.FAILED) {
                log.warn("{}: Cross-Controller Reset of {} through {} failed; the time rule releases its writes",
                        subsystem.nqn(), f.lost, f.ccrVia());
            } else if (!f.released() && c.state() == ControllerState.LIVE) {
                exec.schedule(() -> pollResetLog(f, c, ccr), RESET_LOG_POLL_MILLIS, TimeUnit.MILLISECONDS);
            }
        }, exec);
    }

    /**
     * The Cross-Controller Reset Completed notice came from {@code c}: the resets in progress through
     * it are looked up in its log now, not at the next poll.
     */
    void resetCompleted(Controller c) {
        for (WriteFence f : List.copyOf(open.values())) {
            if (!f.released() && f.ccrController() == c) {
                c.crossControllerResetLog(false).whenCompleteAsync((page, err) -> {
                    CrossControllerResetLog.Entry e = err == null ? page.entry(f.ccr().icid()) : null;
                    if (e != null && e.ciu() == f.ccr().ciu() && e.status() == CrossControllerResetLog.ResetStatus.SUCCESS) {
                        release(f, WriteFence.Method.CCR);
                    }
                }, exec);
            }
        }
    }

    /** How often the log of a reset in progress is read (besides the completion notice, which may be off). */
    static final long RESET_LOG_POLL_MILLIS = 20;

    private String quiesceText(ControllerInstance lost) {
        long cqt = cqtMillis(lost.identity());
        return cqt > 0 ? "CQT " + cqt + " ms" : "no CQT reported, " + options.unreportedQuiesceTime().toMillis() + " ms assumed";
    }

    /** The fence's instance can no longer execute its writes: they go on to other paths. */
    void release(WriteFence f, WriteFence.Method how) {
        if (f.released()) {
            return;
        }
        f.release(how, clock.getAsLong());
        log.info("{}: fence on {} released by {} after {} ms", subsystem.nqn(), f.lost, how.label(),
                Duration.ofNanos(f.waitedNanos()).toMillis());
        for (NamespaceHead h : f.heads()) {
            h.kick();
        }
    }

    /** Fences not yet released (tests, views). */
    int openCount() {
        return (int) open.values().stream().filter(f -> !f.released()).count();
    }

    /** How long a released fence is remembered for writes of its instance that fail late. */
    static final long KEEP_RELEASED_NANOS = TimeUnit.MINUTES.toNanos(1);
}
