package io.nvmpath.fabric.host;

import java.util.EnumSet;
import java.util.Set;

/**
 * Life cycle of a controller (one path), after Linux's {@code nvme_ctrl_state}. The static block
 * below is the table of allowed transitions; every change goes through the controller's single
 * {@code changeState} ({@code ControllerStateMachine}), which consults {@link #canMoveTo}.
 */
public enum ControllerState {
    /** Created, never connected. */
    NEW,
    /** Establishing the association: TCP, ICReq, Connect, enable, Identify, I/O queues. */
    CONNECTING,
    /** Associated and enabled: commands flow. */
    LIVE,
    /** The association failed (transport error, keep-alive loss, timeout): tearing it down. */
    RESETTING,
    /** Going away for good: queues closing, no reconnect. */
    DELETING,
    /** Gone. Terminal. */
    DEAD;

    private Set<ControllerState> next;

    static {
        NEW.next = EnumSet.of(CONNECTING, DELETING);
        CONNECTING.next = EnumSet.of(LIVE, DELETING);
        LIVE.next = EnumSet.of(RESETTING, DELETING);
        RESETTING.next = EnumSet.of(CONNECTING, DELETING);
        DELETING.next = EnumSet.of(DEAD);
        DEAD.next = EnumSet.noneOf(ControllerState.class);
    }

    /** Whether the transition table allows moving from this state to {@code target}. */
    public boolean canMoveTo(ControllerState target) {
        return next.contains(target);
    }

    /** A controller in this state may still become LIVE again. */
    public boolean mayComeBack() {
        return this == NEW || this == CONNECTING || this == LIVE || this == RESETTING;
    }
}
