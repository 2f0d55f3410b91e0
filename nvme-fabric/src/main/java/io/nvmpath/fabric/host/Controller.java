package io.nvmpath.fabric.host;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoopGroup;
import io.nvmpath.fabric.auth.DhchapSecret;
import io.nvmpath.fabric.nvme.AnaLog;
import io.nvmpath.fabric.nvme.ChangedNamespaces;
import io.nvmpath.fabric.nvme.CrossControllerReset;
import io.nvmpath.fabric.nvme.CrossControllerResetLog;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.NamespaceIds;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Status;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One NVMe over Fabrics controller reached over TCP: one path. An admin queue plus N I/O queues, each
 * its own connection; keep-alive; reset and reconnect; asynchronous events.
 *
 * <p>This class is the controller's face: its view, I/O and admin submission, and the entry points
 * of its life cycle. Each job behind it has its own class in this package: the order of connect,
 * reset, reconnect and delete ({@code ControllerLifecycle}), the state table
 * ({@code ControllerStateMachine}), the association's set-up and teardown ({@code Association}),
 * {@code KeepAlive}, {@code AsyncEvents}, the retry rules ({@code Reconnect}), the typed admin
 * commands ({@code AdminCommands}) and the one place a command waits for its path ({@code HeldIo}).
 *
 * <p>Threading: all management (state, connect, reset, keep-alive, listeners) runs on one event loop,
 * the controller's management executor, at times of {@link ControllerOptions#scheduler()}. The I/O
 * path reads only the state and the copy-on-write array of I/O queues; each queue does its work on
 * its own event loop.
 *
 * <p>Failure contract, which a multipath layer builds on: when the association fails, every
 * outstanding command completes at once with {@link Status#HOST_ABORTED_CMD}; a command submitted
 * while the controller is not LIVE completes with {@link Status#HOST_PATH_ERROR} (unless
 * {@link ControllerOptions#holdIoWhileReconnecting()}).
 */
public final class Controller implements AutoCloseable {
    private final TransportAddress address;
    private final String subsystemNqn;
    private final ControllerOptions options;
    private final AtomicInteger ioCursor = new AtomicInteger();
    private final PathStats stats = new PathStats();
    private final ControllerListeners listeners = new ControllerListeners();
    private final ControllerLifecycle lifecycle;
    private final ControllerStateMachine states;
    private final Association association;
    private final HeldIo held;
    private final AdminCommands commands;

    private Controller(TransportAddress address, String subsystemNqn, ControllerOptions options, EventLoopGroup group) {
        this.address = address;
        this.subsystemNqn = subsystemNqn;
        this.options = options.copy();
        this.lifecycle = new ControllerLifecycle(this, address, subsystemNqn, this.options, group, stats, listeners);
        this.states = lifecycle.states();
        this.association = lifecycle.association();
        this.held = lifecycle.held();
        this.commands = new AdminCommands(this::submitAdmin, association);
    }

    /**
     * Connects to the controller of {@code subsystemNqn} at {@code address}. The future completes once
     * the controller is LIVE, or fails with the reason (refused connection, rejected Connect...), in
     * which case the controller is DEAD: an initial connect is not retried.
     */
    public static CompletableFuture<Controller> connect(TransportAddress address, String subsystemNqn,
                                                        ControllerOptions options, EventLoopGroup group) {
        Controller c = new Controller(address, subsystemNqn, options, group);
        return c.start().thenApply(v -> c);
    }

    /** Like {@link #connect} with listeners registered before anything happens. */
    public static CompletableFuture<Controller> connect(TransportAddress address, String subsystemNqn,
                                                        ControllerOptions options, EventLoopGroup group,
                                                        ControllerListener... initial) {
        Controller c = new Controller(address, subsystemNqn, options, group);
        for (ControllerListener l : initial) {
            c.listeners.add(l);
        }
        return c.start().thenApply(v -> c);
    }

    // ---- public view --------------------------------------------------------------------------

    public TransportAddress address() {
        return address;
    }

    public String subsystemNqn() {
        return subsystemNqn;
    }

    public ControllerState state() {
        return states.state();
    }

    /** Identify Controller data of the current association (refreshed on every reconnect). */
    public IdentifyController identity() {
        return association.identity();
    }

    /** The controller instance of the current association (a reconnect makes a new one); null before the first. */
    public ControllerInstance instance() {
        return association.instance();
    }

    /** The controller ID the target assigned to this association. */
    public int cntlid() {
        return association.cntlid();
    }

    /** The CAP property read at connect. */
    public long cap() {
        return association.cap();
    }

    /** Largest data transfer one command may carry (from MDTS); {@link Long#MAX_VALUE} when unlimited. */
    public long maxTransferBytes() {
        return association.maxTransferBytes();
    }

    /** Number of connected I/O queues. */
    public int ioQueueCount() {
        return association.ioQueues().length;
    }

    /** Commands outstanding on all I/O queues. */
    public int inFlight() {
        int n = 0;
        for (HostQueue q : association.ioQueues()) {
            n += q.inFlight();
        }
        return n;
    }

    /** Negotiated header digest of the I/O queues (admin if none). */
    public boolean headerDigest() {
        HostQueue q = digestQueue();
        return q != null && q.headerDigest();
    }

    public boolean dataDigest() {
        HostQueue q = digestQueue();
        return q != null && q.dataDigest();
    }

    private HostQueue digestQueue() {
        HostQueue[] qs = association.ioQueues();
        return qs.length > 0 ? qs[0] : association.adminQueue();
    }

    public ControllerOptions options() {
        return options.copy();
    }

    /** I/O carried by this controller since it was created (across reconnects). */
    public PathStats stats() {
        return stats;
    }

    /** Why the association last failed, or {@code null}. */
    public String lastFailure() {
        return lifecycle.lastFailure();
    }

    public void addListener(ControllerListener l) {
        listeners.add(l);
    }

    public void removeListener(ControllerListener l) {
        listeners.remove(l);
    }

    /** Completes once the controller is DEAD. */
    public CompletableFuture<Void> closeFuture() {
        return states.deadFuture();
    }

    @Override
    public String toString() {
        int id = association.cntlid();
        return "nvme-tcp " + address + " " + subsystemNqn + (id >= 0 ? " cntlid " + id : "");
    }

    // ---- commands -----------------------------------------------------------------------------

    /**
     * Sends an NVM command on one of the I/O queues (the one whose event loop is the caller's, else
     * round-robin). Never blocks; the request's callback reports the outcome — also a refusal: data
     * beyond the controller's maximum transfer (MDTS) completes at once with Invalid Field and DNR
     * (splitting is the caller's business; a path layer must not retry it elsewhere).
     */
    public void submit(NvmeRequest r) {
        r.reset();
        long max = association.maxTransferBytes();
        if (r.dataLength() > max && r.direction() != NvmeRequest.Direction.NONE
                && r.sqe().opcode() != Opcodes.NVM_DSM) {
            r.complete(Status.INVALID_FIELD | Status.DNR, 0, 0, new IllegalArgumentException("transfer of "
                    + r.dataLength() + " bytes exceeds the maximum data transfer size (MDTS) of " + this + ", "
                    + max + " bytes"));
            return;
        }
        HostQueue[] qs = association.ioQueues();
        if (state() != ControllerState.LIVE || qs.length == 0) {
            held.offer(r);
            return;
        }
        HostQueue q = null;
        for (HostQueue candidate : qs) {
            if (candidate.eventLoop().inEventLoop()) {
                q = candidate;
                break;
            }
        }
        if (q == null) {
            q = qs[(ioCursor.getAndIncrement() & Integer.MAX_VALUE) % qs.length];
        }
        q.submit(r);
    }

    /** Sends an admin command. Fails with Host Pathing Error unless LIVE. */
    public void submitAdmin(NvmeRequest r) {
        r.reset();
        HostQueue q = association.adminQueue();
        ControllerState s = state();
        if (s != ControllerState.LIVE || q == null) {
            r.complete(Status.HOST_PATH_ERROR, 0, 0, new TransportException(this + " is " + s.name().toLowerCase()));
            return;
        }
        q.submit(r);
    }

    /** Runs an admin command; the future fails with {@link NvmeException} on an error status. */
    public CompletableFuture<NvmeRequest> admin(NvmeRequest r, String what) {
        return commands.admin(r, what);
    }

    /** Runs an I/O command; the future fails with {@link NvmeException} on an error status. */
    public CompletableFuture<NvmeRequest> io(NvmeRequest r, String what) {
        return CommandFutures.execute(r, what, this::submit);
    }

    public CompletableFuture<IdentifyController> identifyController() {
        return commands.identifyController();
    }

    public CompletableFuture<IdentifyNamespace> identifyNamespace(int nsid) {
        return commands.identifyNamespace(nsid);
    }

    /** Active NSIDs, all of them (the list is read in pages of 1024). */
    public CompletableFuture<List<Integer>> activeNamespaces() {
        return commands.activeNamespaces();
    }

    /** Namespace identifiers: descriptor list, completed from Identify Namespace. */
    public CompletableFuture<NamespaceIds> namespaceIds(int nsid) {
        return commands.namespaceIds(nsid);
    }

    /**
     * Reads the ANA log.
     *
     * @param groupsOnly RGO: descriptors without their NSID lists
     */
    public CompletableFuture<AnaLog> anaLog(boolean groupsOnly) {
        return commands.anaLog(groupsOnly);
    }

    /**
     * Reads {@code size} bytes of a log page in pieces no larger than the controller's maximum
     * transfer, as one buffer the caller releases.
     */
    public CompletableFuture<ByteBuf> readLog(int lid, int lsp, int nsid, int size, String what) {
        return commands.readLog(lid, lsp, nsid, size, what);
    }

    /**
     * Asks this controller to reset another controller of its subsystem (TP8028), the one {@code ccr}
     * names by CNTLID, CIU and CIRN (take them from that controller's {@link #identity()} while it was
     * LIVE). The result says whether the reset is done ({@link CrossControllerReset.Result#immediate()});
     * when it is not, a Cross-Controller Reset Completed notice (if enabled) and the log tell when it is.
     * The future fails with {@link NvmeException} on an error status, e.g.
     * {@link Status#CCR_LIMIT_EXCEEDED}.
     */
    public CompletableFuture<CrossControllerReset.Result> crossControllerReset(CrossControllerReset ccr) {
        return commands.crossControllerReset(ccr);
    }

    /** Reads the Cross-Controller Reset log; {@code removeCompleted} (RMC) drops the finished entries. */
    public CompletableFuture<CrossControllerResetLog> crossControllerResetLog(boolean removeCompleted) {
        return commands.crossControllerResetLog(removeCompleted);
    }

    /** Reads (and so clears) the Changed Namespace List log. */
    public CompletableFuture<ChangedNamespaces> changedNamespaces() {
        return commands.changedNamespaces();
    }

    // ---- life cycle ---------------------------------------------------------------------------

    private CompletableFuture<Void> start() {
        return lifecycle.start();
    }

    /**
     * Resets a LIVE controller as an error would (e.g. the path layer's ANA transition timeout): every
     * outstanding command is aborted, then it reconnects. Does nothing in any other state.
     */
    public void reset(String reason) {
        lifecycle.reset(reason);
    }

    /**
     * Runs DH-HMAC-CHAP again on every queue of a LIVE controller whose queues authenticated (admin
     * queue first), while they carry I/O; completes at once otherwise. Fails with
     * {@link AuthenticationException} when the controller refuses it (the association stays as the
     * controller leaves it).
     */
    public CompletableFuture<Void> reauthenticate() {
        return lifecycle.onManagementLoop(() -> lifecycle.reauthentication().run("asked"));
    }

    /**
     * Rotates the DH-HMAC-CHAP secrets: this controller uses {@code secret} (and {@code ctrlSecret},
     * {@code null} for unidirectional) from now on — at once, re-authenticating its queues when LIVE,
     * and at every later connect.
     */
    public CompletableFuture<Void> reauthenticate(DhchapSecret secret, DhchapSecret ctrlSecret) {
        return lifecycle.onManagementLoop(() -> lifecycle.reauthentication().rotate(secret, ctrlSecret));
    }

    /** Re-authentication rounds that succeeded on this controller. */
    public long reauthentications() {
        return lifecycle.reauthentication().completed();
    }

    /** Re-authentication rounds the controller refused. */
    public long reauthenticationFailures() {
        return lifecycle.reauthentication().failed();
    }

    /**
     * Disconnects: normal shutdown (CC.SHN) when LIVE, then closes every queue. Outstanding commands
     * complete with Command Aborted By Host. The future completes when the controller is DEAD.
     */
    public CompletableFuture<Void> shutdown() {
        return lifecycle.shutdown();
    }

    @Override
    public void close() {
        shutdown().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> null).join();
    }
}
