package io.nvmpath.multipath;

import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerState;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.nvme.IdentifyController;

/** A real controller as a path. */
public final class ControllerPathIo implements PathIo {
    private final Controller controller;

    public ControllerPathIo(Controller controller) {
        this.controller = controller;
    }

    public Controller controller() {
        return controller;
    }

    @Override
    public PathId id() {
        return new PathId(controller.address().toString(), controller.cntlid());
    }

    @Override
    public ControllerState state() {
        return controller.state();
    }

    @Override
    public void submit(NvmeRequest r) {
        controller.submit(r);
    }

    @Override
    public int inFlight() {
        return controller.inFlight();
    }

    @Override
    public double recentLatencyNanos() {
        return controller.stats().recentLatencyNanos();
    }

    @Override
    public long retryDelayMillis(int crd) {
        IdentifyController id = controller.identity();
        return id == null ? 0 : id.retryDelayMillis(crd);
    }

    @Override
    public long maxTransferBytes() {
        return controller.maxTransferBytes();
    }

    @Override
    public IdentifyController identity() {
        return controller.identity();
    }
}
