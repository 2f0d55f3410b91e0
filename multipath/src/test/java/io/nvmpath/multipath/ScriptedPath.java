package io.nvmpath.multipath;

import io.nvmpath.fabric.host.Completions;
import io.nvmpath.fabric.host.ControllerInstance;
import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.nvme.Status;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * A controller the test scripts: its state, queue depth, latency and retry delay are set by hand;
 * it records what it was sent and completes nothing until told to.
 */
final class ScriptedPath implements PathIo {
    private final PathId id;
    volatile ControllerState state = ControllerState.LIVE;
    /** Commands in flight besides the ones this path holds (another head's, say). */
    volatile int otherInFlight;
    volatile double latencyNanos;
    /** Retry delay per CRD index, in ms. */
    volatile long[] crdtMillis = {0, 0, 0, 0};
    final List<Integer> crdAsked = new ArrayList<>();
    /** Every submission, in order; a request sent twice appears twice. */
    final List<NvmeRequest> submitted = new ArrayList<>();
    private final ArrayDeque<NvmeRequest> outstanding = new ArrayDeque<>();

    ScriptedPath(PathId id) {
        this.id = id;
    }

    @Override
    public PathId id() {
        return id;
    }

    @Override
    public ControllerState state() {
        return state;
    }

    @Override
    public void submit(NvmeRequest r) {
        Completions.sent(r);
        submitted.add(r);
        outstanding.addLast(r);
    }

    @Override
    public int inFlight() {
        return otherInFlight + outstanding.size();
    }

    @Override
    public double recentLatencyNanos() {
        return latencyNanos;
    }

    @Override
    public long retryDelayMillis(int crd) {
        crdAsked.add(crd);
        return crdtMillis[crd];
    }

    ScriptedPath state(ControllerState s) {
        this.state = s;
        return this;
    }

    int outstanding() {
        return outstanding.size();
    }

    /** Completes the oldest outstanding command with {@code status}; returns it. */
    NvmeRequest completeNext(int status) {
        NvmeRequest r = outstanding.pollFirst();
        if (r == null) {
            throw new AssertionError(id + " has nothing outstanding");
        }
        Completions.complete(r, status);
        return r;
    }

    /** Aborts the oldest outstanding command as its queue does when the association {@code on} is lost. */
    NvmeRequest loseNext(ControllerInstance on) {
        NvmeRequest r = outstanding.pollFirst();
        if (r == null) {
            throw new AssertionError(id + " has nothing outstanding");
        }
        Completions.lost(r, on);
        return r;
    }

    /** Completes every outstanding command successfully. */
    void succeedAll() {
        while (!outstanding.isEmpty()) {
            completeNext(Status.SUCCESS);
        }
    }

    @Override
    public String toString() {
        return id.toString();
    }
}
