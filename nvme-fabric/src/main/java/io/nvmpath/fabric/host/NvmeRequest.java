package io.nvmpath.fabric.host;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;
import io.nvmpath.fabric.nvme.Sqe;
import io.nvmpath.fabric.nvme.Status;

/**
 * One NVMe command in flight: its SQE, its data, and, once done, its result.
 *
 * <p>The object is the unit a path layer moves around: the same request can be submitted to another
 * controller after a path error without being copied. Write data stays owned by the caller: the
 * transport sends retained slices of it, so the caller may release it once the request completes.
 * Read data is delivered as retained slices of the received PDUs; whoever handles the completion owns
 * it ({@link #takeReadData()}).
 *
 * <p>The completion callback runs on the event loop of the connection that completed the command (or
 * on the submitting thread when the command never left this host): it must not block.
 */
public final class NvmeRequest {
    /** Which way the request's data moves. */
    public enum Direction {
        /** No data. */
        NONE,
        /** Host to controller: write data, a DSM range list, Connect data. */
        TO_CONTROLLER,
        /** Controller to host: read data, Identify, log pages. */
        FROM_CONTROLLER
    }

    /**
     * Sees a failed request before its callback does: a path layer's hook. Returning {@code true}
     * takes the request over (it will be completed later, e.g. after a retry on another path), and
     * the callback is not run now. Successful completions never reach it.
     */
    @FunctionalInterface
    public interface FailureInterceptor {
        boolean intercept(NvmeRequest request);
    }

    /** Receives a request once it has completed, successfully or not. */
    @FunctionalInterface
    public interface Callback {
        void onComplete(NvmeRequest request);
    }

    private final Sqe sqe;
    private final Direction direction;
    private final int dataLength;
    private ByteBuf writeData;
    private Callback callback;
    private long timeoutNanos = -1;
    private FailureInterceptor interceptor;
    private ControllerInstance lostOn;
    private long submitNanos;

    // result, set by the transport before the callback runs
    private int status;
    private int result0;
    private int result1;
    private ByteBuf readData;
    private Throwable cause;

    // transport bookkeeping, touched only on the owning queue's event loop
    long deadlineNanos;
    long received;
    long solicited;
    /** Sent again after the controller asked its queue to re-authenticate: a second refusal stands. */
    boolean retriedAfterReauthentication;

    private NvmeRequest(Sqe sqe, Direction direction, int dataLength) {
        this.sqe = sqe;
        this.direction = direction;
        this.dataLength = dataLength;
    }

    /** A command that moves no data. */
    public static NvmeRequest noData(Sqe sqe) {
        return new NvmeRequest(sqe, Direction.NONE, 0);
    }

    /** A command reading {@code length} bytes from the controller. */
    public static NvmeRequest read(Sqe sqe, int length) {
        if (length <= 0) {
            throw new IllegalArgumentException("read length " + length);
        }
        return new NvmeRequest(sqe, Direction.FROM_CONTROLLER, length);
    }

    /** A command sending the readable bytes of {@code data} (not retained: the caller keeps it alive). */
    public static NvmeRequest write(Sqe sqe, ByteBuf data) {
        if (data.readableBytes() == 0) {
            throw new IllegalArgumentException("write with no data");
        }
        NvmeRequest r = new NvmeRequest(sqe, Direction.TO_CONTROLLER, data.readableBytes());
        r.writeData = data;
        return r;
    }

    public Sqe sqe() {
        return sqe;
    }

    public Direction direction() {
        return direction;
    }

    public int dataLength() {
        return dataLength;
    }

    /** The caller's write data (not a copy); {@code null} unless {@link Direction#TO_CONTROLLER}. */
    public ByteBuf writeData() {
        return writeData;
    }

    public NvmeRequest callback(Callback callback) {
        this.callback = callback;
        return this;
    }

    public Callback callback() {
        return callback;
    }

    /**
     * How long the command may be outstanding before its controller is reset; {@code 0} for never
     * (an Asynchronous Event Request), negative for the controller's default.
     */
    public NvmeRequest timeoutNanos(long nanos) {
        this.timeoutNanos = nanos;
        return this;
    }

    public long timeoutNanos() {
        return timeoutNanos;
    }

    /** Installs the path layer's failure hook (null removes it). */
    public NvmeRequest interceptor(FailureInterceptor interceptor) {
        this.interceptor = interceptor;
        return this;
    }

    /**
     * The association this command was outstanding on when that association was lost: it reached the
     * wire and no completion came back, so the controller may still execute it. Null when the command
     * never left this host or got an answer. Cleared on resubmission.
     */
    public ControllerInstance lostOn() {
        return lostOn;
    }

    void lostOn(ControllerInstance instance) {
        this.lostOn = instance;
    }

    /** The path layer's failure hook, which is also its note of the request; null when none. */
    public FailureInterceptor interceptor() {
        return interceptor;
    }

    /**
     * Completes a request that no controller will complete (the path layer gave up on it: no path,
     * queue full). The interceptor is bypassed; the callback runs on the calling thread.
     */
    public void fail(int status, Throwable cause) {
        this.interceptor = null;
        complete(status, 0, 0, cause);
    }

    /** When the transport last sent it (on the clock of {@link ControllerOptions#scheduler()}), for latency accounting. */
    public long submitNanos() {
        return submitNanos;
    }

    void submitNanos(long t) {
        this.submitNanos = t;
    }

    /** The completion status ({@link Status} layout); meaningful once the callback ran. */
    public int status() {
        return status;
    }

    public boolean ok() {
        return Status.isSuccess(status);
    }

    /** Dword 0 of the completion (command specific). */
    public int result0() {
        return result0;
    }

    public int result1() {
        return result1;
    }

    /** Why this host failed the command, when it did (transport loss, timeout...); else {@code null}. */
    public Throwable cause() {
        return cause;
    }

    /** The received data, handed over: the caller must release it. {@code null} on failure. */
    public ByteBuf takeReadData() {
        ByteBuf b = readData;
        readData = null;
        return b;
    }

    /** Status as an operator reads it. */
    public String describeStatus() {
        String s = Status.describe(status, sqe.opcode());
        return cause == null ? s : s + ": " + cause.getMessage();
    }

    // ---- transport side -------------------------------------------------------------------

    ByteBuf readData() {
        return readData;
    }

    void readData(ByteBuf b) {
        readData = b;
    }

    /** Clears the previous outcome before (re)submission. */
    void reset() {
        status = 0;
        result0 = 0;
        result1 = 0;
        cause = null;
        received = 0;
        solicited = 0;
        lostOn = null;
        if (readData != null) {
            ReferenceCountUtil.safeRelease(readData);
            readData = null;
        }
    }

    /** Records the outcome and runs the callback. Read data is dropped unless the command succeeded. */
    void complete(int status, int dw0, int dw1, Throwable cause) {
        this.status = status;
        this.result0 = dw0;
        this.result1 = dw1;
        this.cause = cause;
        if (!Status.isSuccess(status)) {
            if (readData != null) {
                ReferenceCountUtil.safeRelease(readData);
                readData = null;
            }
            FailureInterceptor i = interceptor;
            if (i != null && i.intercept(this)) {
                return;
            }
        }
        Callback cb = callback;
        if (cb != null) {
            cb.onComplete(this);
        } else if (readData != null) {
            readData.release();
            readData = null;
        }
    }

    @Override
    public String toString() {
        return "NvmeRequest{" + sqe + ", " + direction + " " + dataLength + "}";
    }
}
