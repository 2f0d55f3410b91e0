package io.nvmpath.server.nbd;

/**
 * The constants of the NBD protocol, named as {@code doc/proto.md} of NetworkBlockDevice/nbd names
 * them (without the {@code NBD_} prefix). All fields go on the wire big-endian.
 */
final class Nbd {
    private Nbd() {
    }

    // ---- handshake ----

    /** "NBDMAGIC", the first 8 bytes the server sends. */
    static final long NBDMAGIC = 0x4e42444d41474943L;
    /** "IHAVEOPT": after NBDMAGIC in newstyle negotiation, and in front of every option. */
    static final long IHAVEOPT = 0x49484156454F5054L;
    /** Magic of every option reply. */
    static final long REP_MAGIC = 0x3e889045565a9L;

    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 1 << 1;
    static final int FLAG_C_FIXED_NEWSTYLE = 1;
    static final int FLAG_C_NO_ZEROES = 1 << 1;

    static final int OPT_EXPORT_NAME = 1;
    static final int OPT_ABORT = 2;
    static final int OPT_LIST = 3;
    static final int OPT_STARTTLS = 5;
    static final int OPT_INFO = 6;
    static final int OPT_GO = 7;
    static final int OPT_STRUCTURED_REPLY = 8;
    static final int OPT_LIST_META_CONTEXT = 9;
    static final int OPT_SET_META_CONTEXT = 10;

    static final int REP_ACK = 1;
    static final int REP_SERVER = 2;
    static final int REP_INFO = 3;
    static final int REP_META_CONTEXT = 4;
    static final int REP_ERR_UNSUP = 0x80000001;
    static final int REP_ERR_POLICY = 0x80000002;
    static final int REP_ERR_INVALID = 0x80000003;
    static final int REP_ERR_PLATFORM = 0x80000004;
    static final int REP_ERR_TLS_REQD = 0x80000005;
    static final int REP_ERR_UNKNOWN = 0x80000006;
    static final int REP_ERR_SHUTDOWN = 0x80000007;
    static final int REP_ERR_BLOCK_SIZE_REQD = 0x80000008;
    static final int REP_ERR_TOO_BIG = 0x80000009;

    static final int INFO_EXPORT = 0;
    static final int INFO_NAME = 1;
    static final int INFO_DESCRIPTION = 2;
    static final int INFO_BLOCK_SIZE = 3;

    /** Zero bytes after the EXPORT_NAME reply unless NO_ZEROES was negotiated. */
    static final int EXPORT_NAME_PADDING = 124;
    /** The longest string (export name, query, message) the protocol allows. */
    static final int MAX_STRING = 4096;
    /** The only metadata context: "allocated at all". */
    static final String BASE_ALLOCATION = "base:allocation";

    // ---- transmission flags (16 bits) ----

    static final int FLAG_HAS_FLAGS = 1;
    static final int FLAG_READ_ONLY = 1 << 1;
    static final int FLAG_SEND_FLUSH = 1 << 2;
    static final int FLAG_SEND_FUA = 1 << 3;
    static final int FLAG_ROTATIONAL = 1 << 4;
    static final int FLAG_SEND_TRIM = 1 << 5;
    static final int FLAG_SEND_WRITE_ZEROES = 1 << 6;
    static final int FLAG_SEND_DF = 1 << 7;
    static final int FLAG_CAN_MULTI_CONN = 1 << 8;
    static final int FLAG_SEND_CACHE = 1 << 10;
    static final int FLAG_SEND_FAST_ZERO = 1 << 11;

    // ---- transmission ----

    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;
    /** Request header: magic 4, flags 2, type 2, handle 8, offset 8, length 4. */
    static final int REQUEST_LENGTH = 28;
    static final int SIMPLE_REPLY_LENGTH = 16;
    static final int STRUCTURED_HEADER_LENGTH = 20;

    static final int CMD_READ = 0;
    static final int CMD_WRITE = 1;
    static final int CMD_DISC = 2;
    static final int CMD_FLUSH = 3;
    static final int CMD_TRIM = 4;
    static final int CMD_CACHE = 5;
    static final int CMD_WRITE_ZEROES = 6;
    static final int CMD_BLOCK_STATUS = 7;

    static final int CMD_FLAG_FUA = 1;
    static final int CMD_FLAG_NO_HOLE = 1 << 1;
    static final int CMD_FLAG_DF = 1 << 2;
    static final int CMD_FLAG_REQ_ONE = 1 << 3;
    static final int CMD_FLAG_FAST_ZERO = 1 << 4;

    static final int REPLY_FLAG_DONE = 1;
    static final int REPLY_TYPE_NONE = 0;
    static final int REPLY_TYPE_OFFSET_DATA = 1;
    static final int REPLY_TYPE_OFFSET_HOLE = 2;
    static final int REPLY_TYPE_BLOCK_STATUS = 5;
    static final int REPLY_TYPE_ERROR = (1 << 15) + 1;
    static final int REPLY_TYPE_ERROR_OFFSET = (1 << 15) + 2;

    /** Metadata context id this server gives {@code base:allocation} in SET_META_CONTEXT. */
    static final int BASE_ALLOCATION_ID = 1;

    /** Default maximum payload a client may assume when it did not ask for block sizes (2^25). */
    static final int DEFAULT_MAX_PAYLOAD = 32 << 20;

    /** An option's name as the protocol writes it ({@code NBD_OPT_GO}), or its number. */
    static String optionName(int option) {
        return switch (option) {
            case OPT_EXPORT_NAME -> "NBD_OPT_EXPORT_NAME";
            case OPT_ABORT -> "NBD_OPT_ABORT";
            case OPT_LIST -> "NBD_OPT_LIST";
            case OPT_STARTTLS -> "NBD_OPT_STARTTLS";
            case OPT_INFO -> "NBD_OPT_INFO";
            case OPT_GO -> "NBD_OPT_GO";
            case OPT_STRUCTURED_REPLY -> "NBD_OPT_STRUCTURED_REPLY";
            case OPT_LIST_META_CONTEXT -> "NBD_OPT_LIST_META_CONTEXT";
            case OPT_SET_META_CONTEXT -> "NBD_OPT_SET_META_CONTEXT";
            default -> "option " + option;
        };
    }

    /** The name of a command type, for messages. */
    static String commandName(int type) {
        return switch (type) {
            case CMD_READ -> "READ";
            case CMD_WRITE -> "WRITE";
            case CMD_DISC -> "DISC";
            case CMD_FLUSH -> "FLUSH";
            case CMD_TRIM -> "TRIM";
            case CMD_CACHE -> "CACHE";
            case CMD_WRITE_ZEROES -> "WRITE_ZEROES";
            case CMD_BLOCK_STATUS -> "BLOCK_STATUS";
            default -> "command " + type;
        };
    }
}
