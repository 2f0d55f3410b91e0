package io.nvmpath.fabric.nvme;

import java.util.HashMap;
import java.util.Map;

/**
 * The NVMe completion status, held as an {@code int} laid out like the CQE status field without its
 * phase bit (the layout Linux uses): SC in bits 7:0, SCT in 10:8, CRD in 12:11, More in 13, DNR in 14.
 * So {@code 0x302} is "ANA Inaccessible" and {@code 0x4002} is "Invalid Field" with DNR.
 *
 * <p>Host-generated codes (0x370, 0x371) use the same space, so every failure that reaches a
 * caller, whether from the controller or from this host, is one value with one name.
 */
public final class Status {
    public static final int SUCCESS = 0x000;
    public static final int INVALID_OPCODE = 0x001;
    public static final int INVALID_FIELD = 0x002;
    public static final int CMDID_CONFLICT = 0x003;
    public static final int DATA_XFER_ERROR = 0x004;
    public static final int INTERNAL = 0x006;
    public static final int ABORT_REQ = 0x007;
    public static final int INVALID_NS = 0x00B;
    public static final int CMD_SEQ_ERROR = 0x00C;
    public static final int SGL_INVALID_DATA = 0x00F;
    public static final int SGL_INVALID_TYPE = 0x011;
    /** Namespace is Write Protected (generic, SC 20h). */
    public static final int NS_WRITE_PROTECTED = 0x020;
    public static final int LBA_RANGE = 0x080;
    public static final int CAP_EXCEEDED = 0x081;
    public static final int NS_NOT_READY = 0x082;

    public static final int CONNECT_INVALID_PARAM = 0x182;
    public static final int CONNECT_INVALID_HOST = 0x184;
    public static final int INVALID_LOG_PAGE = 0x109;
    /**
     * Authentication Required (SCT 1h SC 91h, Linux {@code NVME_SC_AUTH_REQUIRED}): the queue has not
     * completed in-band authentication, which its Connect response asked for (AUTHREQ ATR).
     */
    public static final int AUTH_REQUIRED = 0x191;
    /**
     * Cross-Controller Reset in Progress (SCT 1h SC 3Fh): this controller already has a reset of the
     * impacted controller in progress.
     */
    public static final int CCR_IN_PROGRESS = 0x13F;
    /** Cross-Controller Reset Log Page Full (SCT 1h SC 40h): no room for another entry. */
    public static final int CCR_LOG_FULL = 0x140;
    /** Cross-Controller Reset Limit Exceeded (SCT 1h SC 41h): CCRL resets already in progress. */
    public static final int CCR_LIMIT_EXCEEDED = 0x141;
    /** Attempted Write to Read Only Range (command specific, SC 82h, of the NVM I/O commands; Connect reuses 0x182). */
    public static final int WRITE_TO_READ_ONLY_RANGE = 0x182;

    public static final int WRITE_FAULT = 0x280;
    public static final int READ_ERROR = 0x281;
    public static final int ACCESS_DENIED = 0x286;

    /** SCT 3h: path-related status; the whole type means "try another path". */
    public static final int INTERNAL_PATH_ERROR = 0x300;
    public static final int ANA_PERSISTENT_LOSS = 0x301;
    public static final int ANA_INACCESSIBLE = 0x302;
    public static final int ANA_TRANSITION = 0x303;
    public static final int CTRL_PATH_ERROR = 0x360;
    /** Host pathing error: given by this host to a command submitted to a controller that is not live. */
    public static final int HOST_PATH_ERROR = 0x370;
    /** Command aborted by host: given to every in-flight command when its controller resets. */
    public static final int HOST_ABORTED_CMD = 0x371;

    public static final int CRD_MASK = 0x1800;
    public static final int MORE = 0x2000;
    public static final int DNR = 0x4000;

    private static final Map<Integer, String> NAMES = new HashMap<>();
    /** Command-specific (SCT 1h) codes of the Fabrics Connect command, which reuse the numbers. */
    private static final Map<Integer, String> CONNECT_NAMES = new HashMap<>();

    static {
        NAMES.put(SUCCESS, "Successful Completion");
        NAMES.put(INVALID_OPCODE, "Invalid Command Opcode");
        NAMES.put(INVALID_FIELD, "Invalid Field in Command");
        NAMES.put(CMDID_CONFLICT, "Command ID Conflict");
        NAMES.put(DATA_XFER_ERROR, "Data Transfer Error");
        NAMES.put(0x005, "Commands Aborted due to Power Loss Notification");
        NAMES.put(INTERNAL, "Internal Error");
        NAMES.put(ABORT_REQ, "Command Abort Requested");
        NAMES.put(0x008, "Command Aborted due to SQ Deletion");
        NAMES.put(INVALID_NS, "Invalid Namespace or Format");
        NAMES.put(CMD_SEQ_ERROR, "Command Sequence Error");
        NAMES.put(0x00D, "Invalid SGL Segment Descriptor");
        NAMES.put(0x00E, "Invalid Number of SGL Descriptors");
        NAMES.put(SGL_INVALID_DATA, "Data SGL Length Invalid");
        NAMES.put(0x010, "Metadata SGL Length Invalid");
        NAMES.put(SGL_INVALID_TYPE, "SGL Descriptor Type Invalid");
        NAMES.put(0x016, "SGL Offset Invalid");
        NAMES.put(0x01D, "Sanitize In Progress");
        NAMES.put(NS_WRITE_PROTECTED, "Namespace is Write Protected");
        NAMES.put(LBA_RANGE, "LBA Out of Range");
        NAMES.put(CAP_EXCEEDED, "Capacity Exceeded");
        NAMES.put(NS_NOT_READY, "Namespace Not Ready");
        NAMES.put(0x083, "Reservation Conflict");
        NAMES.put(0x101, "Invalid Queue Identifier");
        NAMES.put(0x102, "Invalid Queue Size");
        NAMES.put(0x105, "Asynchronous Event Request Limit Exceeded");
        NAMES.put(INVALID_LOG_PAGE, "Invalid Log Page");
        NAMES.put(AUTH_REQUIRED, "Authentication Required");
        NAMES.put(CCR_IN_PROGRESS, "Cross-Controller Reset in Progress");
        NAMES.put(CCR_LOG_FULL, "Cross-Controller Reset Log Page Full");
        NAMES.put(CCR_LIMIT_EXCEEDED, "Cross-Controller Reset Limit Exceeded");
        NAMES.put(0x10D, "Feature Identifier Not Saveable");
        NAMES.put(0x10E, "Feature Not Changeable");
        NAMES.put(0x180, "Conflicting Attributes");
        NAMES.put(0x181, "Invalid Protection Information");
        NAMES.put(WRITE_TO_READ_ONLY_RANGE, "Attempted Write to Read Only Range");
        NAMES.put(WRITE_FAULT, "Write Fault");
        NAMES.put(READ_ERROR, "Unrecovered Read Error");
        NAMES.put(0x282, "End-to-end Guard Check Error");
        NAMES.put(0x285, "Compare Failure");
        NAMES.put(ACCESS_DENIED, "Access Denied");
        NAMES.put(0x287, "Deallocated or Unwritten Logical Block");
        NAMES.put(INTERNAL_PATH_ERROR, "Internal Path Error");
        NAMES.put(ANA_PERSISTENT_LOSS, "ANA Persistent Loss");
        NAMES.put(ANA_INACCESSIBLE, "ANA Inaccessible");
        NAMES.put(ANA_TRANSITION, "ANA Transition");
        NAMES.put(CTRL_PATH_ERROR, "Controller Pathing Error");
        NAMES.put(HOST_PATH_ERROR, "Host Pathing Error");
        NAMES.put(HOST_ABORTED_CMD, "Command Aborted By Host");

        CONNECT_NAMES.put(0x180, "Connect Incompatible Format");
        CONNECT_NAMES.put(0x181, "Connect Controller Busy");
        CONNECT_NAMES.put(CONNECT_INVALID_PARAM, "Connect Invalid Parameters");
        CONNECT_NAMES.put(0x183, "Connect Restart Discovery");
        CONNECT_NAMES.put(CONNECT_INVALID_HOST, "Connect Invalid Host");
    }

    private Status() {
    }

    /** Status Code Type (0 generic, 1 command specific, 2 media and data integrity, 3 path related). */
    public static int sct(int status) {
        return (status >>> 8) & 0x7;
    }

    /** Status Code within its type. */
    public static int sc(int status) {
        return status & 0xFF;
    }

    /** SCT and SC together, without DNR/More/CRD: the value the constants of this class name. */
    public static int code(int status) {
        return status & 0x7FF;
    }

    public static boolean dnr(int status) {
        return (status & DNR) != 0;
    }

    public static boolean more(int status) {
        return (status & MORE) != 0;
    }

    /** Command Retry Delay index (0..3) into the controller's CRDT values. */
    public static int crd(int status) {
        return (status & CRD_MASK) >>> 11;
    }

    public static boolean isSuccess(int status) {
        return code(status) == SUCCESS;
    }

    /** SCT 3h: a path error; the command may succeed through another controller. */
    public static boolean isPathError(int status) {
        return sct(status) == 3;
    }

    /** The ANA codes (0x301..0x303): the controller's ANA state changed under this command. */
    public static boolean isAnaError(int status) {
        int c = code(status);
        return c == ANA_PERSISTENT_LOSS || c == ANA_INACCESSIBLE || c == ANA_TRANSITION;
    }

    /** A name as an operator reads it, e.g. {@code "ANA Inaccessible (SCT 3h SC 02h)"}. */
    public static String describe(int status) {
        return describe(status, -1);
    }

    /** As {@link #describe(int)}, resolving command-specific codes by the command's opcode. */
    public static String describe(int status, int opcode) {
        int c = code(status);
        String name = null;
        if (opcode == Opcodes.FABRICS) {
            name = CONNECT_NAMES.get(c);
        }
        if (name == null) {
            name = NAMES.get(c);
        }
        if (name == null) {
            name = "Unknown Status";
        }
        StringBuilder sb = new StringBuilder(name)
                .append(String.format(" (SCT %Xh SC %02Xh", sct(status), sc(status)));
        if (dnr(status)) {
            sb.append(" DNR");
        }
        if (crd(status) != 0) {
            sb.append(" CRD ").append(crd(status));
        }
        return sb.append(')').toString();
    }
}
