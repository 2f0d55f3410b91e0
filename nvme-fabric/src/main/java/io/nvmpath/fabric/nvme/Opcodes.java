package io.nvmpath.fabric.nvme;

/** Opcodes and sub-codes of the commands this host and target speak. */
public final class Opcodes {
    private Opcodes() {
    }

    // Admin command set
    public static final int ADMIN_GET_LOG_PAGE = 0x02;
    public static final int ADMIN_IDENTIFY = 0x06;
    public static final int ADMIN_SET_FEATURES = 0x09;
    public static final int ADMIN_GET_FEATURES = 0x0A;
    public static final int ADMIN_ASYNC_EVENT = 0x0C;
    public static final int ADMIN_KEEP_ALIVE = 0x18;
    /** Cross-Controller Reset (TP8028): sent to one controller, resets another of the same subsystem. */
    public static final int ADMIN_CROSS_CONTROLLER_RESET = 0x38;

    // NVM command set
    public static final int NVM_FLUSH = 0x00;
    public static final int NVM_WRITE = 0x01;
    public static final int NVM_READ = 0x02;
    public static final int NVM_WRITE_ZEROES = 0x08;
    public static final int NVM_DSM = 0x09;

    /** Fabrics commands share one opcode; FCTYPE (byte 4) tells them apart. */
    public static final int FABRICS = 0x7F;
    public static final int FCTYPE_PROPERTY_SET = 0x00;
    public static final int FCTYPE_CONNECT = 0x01;
    public static final int FCTYPE_PROPERTY_GET = 0x04;
    public static final int FCTYPE_AUTH_SEND = 0x05;
    public static final int FCTYPE_AUTH_RECV = 0x06;
    public static final int FCTYPE_DISCONNECT = 0x08;

    // Identify CNS values
    public static final int CNS_NAMESPACE = 0x00;
    public static final int CNS_CONTROLLER = 0x01;
    public static final int CNS_ACTIVE_NSIDS = 0x02;
    public static final int CNS_NS_DESCRIPTORS = 0x03;

    // Log page identifiers
    public static final int LOG_ERROR = 0x01;
    public static final int LOG_CHANGED_NS = 0x04;
    public static final int LOG_ANA = 0x0C;
    /** Cross-Controller Reset log (TP8028): the resets this controller was asked for; LSP bit 0 RMC. */
    public static final int LOG_CROSS_CONTROLLER_RESET = 0x1E;
    public static final int LOG_DISCOVERY = 0x70;

    // Feature identifiers
    public static final int FEAT_NUM_QUEUES = 0x07;
    public static final int FEAT_ASYNC_EVENT = 0x0B;
    public static final int FEAT_KATO = 0x0F;

    // Controller properties (offsets)
    public static final int PROP_CAP = 0x00;
    public static final int PROP_VS = 0x08;
    public static final int PROP_CC = 0x14;
    public static final int PROP_CSTS = 0x1C;

    /** The well-known NQN of a discovery subsystem. */
    public static final String DISCOVERY_NQN = "nqn.2014-08.org.nvmexpress.discovery";

    /** A short name for logs and errors. */
    public static String adminName(int opcode) {
        return switch (opcode) {
            case ADMIN_GET_LOG_PAGE -> "Get Log Page";
            case ADMIN_IDENTIFY -> "Identify";
            case ADMIN_SET_FEATURES -> "Set Features";
            case ADMIN_GET_FEATURES -> "Get Features";
            case ADMIN_ASYNC_EVENT -> "Asynchronous Event Request";
            case ADMIN_KEEP_ALIVE -> "Keep Alive";
            case ADMIN_CROSS_CONTROLLER_RESET -> "Cross-Controller Reset";
            case FABRICS -> "Fabrics";
            default -> String.format("admin opcode 0x%02x", opcode);
        };
    }

    public static String ioName(int opcode) {
        return switch (opcode) {
            case NVM_FLUSH -> "Flush";
            case NVM_WRITE -> "Write";
            case NVM_READ -> "Read";
            case NVM_WRITE_ZEROES -> "Write Zeroes";
            case NVM_DSM -> "Dataset Management";
            case FABRICS -> "Fabrics";
            default -> String.format("I/O opcode 0x%02x", opcode);
        };
    }
}
