package io.nvmpath.multipath;

import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.NamespaceIds;
import io.nvmpath.fabric.testing.ManualScheduler;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One namespace head over scripted paths, with a clock and management executor the test drives. The
 * subsystem has no manager (an ANA error then only marks the path).
 */
final class HeadHarness {
    static final String NQN = "nqn.2026-11.test:scripted";
    static final int LBA = 512;

    final ManualScheduler sched = new ManualScheduler();
    final MultipathOptions options;
    final MultipathSubsystem subsystem;
    final NamespaceHead head;
    private final List<Path> paths = new ArrayList<>();

    HeadHarness(MultipathOptions options) {
        this.options = options;
        this.subsystem = new MultipathSubsystem(NQN, options, null, sched, sched.clock(), new FailoverLog(sched.clock()));
        this.head = new NamespaceHead(subsystem, 1, new NamespaceIds(null, new byte[] {
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, null, 0), 1L << 21, LBA, options, sched,
                sched.clock());
        subsystem.heads.put(1, head);
    }

    HeadHarness() {
        this(MultipathOptions.defaults());
    }

    /** Adds a path through a new scripted LIVE controller named {@code name} (no CNTLID). */
    Path path(String name, AnaState ana) {
        return path(new PathId(name, -1), ana);
    }

    /** Adds a path through a new scripted LIVE controller {@code id}. */
    Path path(PathId id, AnaState ana) {
        Path p = new Path(new ScriptedPath(id), 1, 1, options.marginalFailures(), sched.clock());
        p.anaState = ana;
        head.addPath(p);
        paths.add(p);
        return p;
    }

    static ScriptedPath io(Path p) {
        return (ScriptedPath) p.io;
    }

    /** Any state change: what the manager does after a controller or ANA change. */
    void changed() {
        head.pathsChanged();
        sched.runDue();
    }

    /** The manager's periodic work on the head (every 100 ms): holds that ran out, no-path timeouts. */
    void tick() {
        head.tick();
        sched.runDue();
    }

    void advance(Duration d) {
        sched.advance(d);
    }

    /** Submits a read of {@code blocks} blocks and runs what the head scheduled for now. */
    UserIo read(int blocks) {
        return submit(Commands.read(1, 0, blocks, LBA));
    }

    UserIo read() {
        return read(8);
    }

    UserIo submit(NvmeRequest r) {
        UserIo u = new UserIo(r);
        head.submit(r);
        sched.runDue();
        return u;
    }

    /** {@code n} reads, each completed successfully at once on the path it was sent to. */
    void readsCompletedAtOnce(int n) {
        for (int i = 0; i < n; i++) {
            read();
            for (Path p : paths) {
                io(p).succeedAll();
            }
        }
    }

    /** Submissions each path received so far, by name, in the order the paths were added. */
    Map<String, Integer> sentPerPath() {
        Map<String, Integer> m = new LinkedHashMap<>();
        for (Path p : paths) {
            m.put(p.io.name(), io(p).submitted.size());
        }
        return m;
    }

    /** What the submitter of one request sees: how often its callback ran and with what. */
    static final class UserIo {
        final NvmeRequest request;
        int callbacks;
        int status = -1;
        String error;
        Path completedOn;

        UserIo(NvmeRequest r) {
            this.request = r;
            r.callback(done -> {
                callbacks++;
                status = done.status();
                error = done.ok() ? null : done.describeStatus();
                completedOn = NamespaceHead.pathOf(done);
            });
        }

        boolean done() {
            return callbacks > 0;
        }
    }
}
