package io.nvmpath.server.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslHandler;
import io.nvmpath.server.block.BlockDevice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The handshake phase of one connection: fixed newstyle negotiation, option haggling, STARTTLS,
 * up to NBD_OPT_GO or NBD_OPT_EXPORT_NAME, where it hands the connection to the transmission phase
 * ({@link NbdRequestDecoder} and {@link NbdCommandHandler}) and leaves the pipeline.
 *
 * <p>Options are answered one at a time, in order; an option this server does not know is answered
 * NBD_REP_ERR_UNSUP and its data skipped, so the stream stays in sync. The connection is closed only
 * for what cannot be answered: client flags without FIXED_NEWSTYLE or with unknown bits, a wrong
 * option magic, more than {@link #MAX_OPTIONS} options, option data beyond
 * {@link #MAX_OPTION_DISCARD} bytes, an NBD_OPT_EXPORT_NAME that cannot be satisfied (the protocol
 * gives it no error reply), NBD_OPT_ABORT (after its ACK), and data sent behind NBD_OPT_STARTTLS
 * before its reply.
 *
 * <p>Exports: the empty name is {@link NbdExports#defaultExport()}. An export whose allow-list does
 * not contain the client's address does not exist for that client: it is left out of NBD_OPT_LIST,
 * and naming it gets NBD_REP_ERR_UNKNOWN (NBD_OPT_EXPORT_NAME: the connection is closed), exactly as
 * for a name that does not exist, so its existence does not leak.
 *
 * <p>Block sizes: NBD_INFO_BLOCK_SIZE is sent on every successful NBD_OPT_INFO and NBD_OPT_GO
 * (minimum = the device's block size, preferred = its preferred size, maximum = what one command
 * of the device carries — for a namespace head, one NVMe transfer (MDTS) — capped by the server's
 * maximum payload). Larger requests are still served, split by the device: a client that asked for
 * block sizes in NBD_OPT_GO is served up to the server's maximum payload, one that did not
 * (NBD_OPT_GO without the request, or NBD_OPT_EXPORT_NAME) may by the protocol assume the default
 * maximum payload of 32 MiB, so it is served up to the larger of the two. Unaligned
 * requests are served either way (the device reads, modifies and writes), so the server never
 * answers NBD_REP_ERR_BLOCK_SIZE_REQD.
 */
final class NbdHandshakeHandler extends ByteToMessageDecoder {
    private static final Logger log = LoggerFactory.getLogger(NbdHandshakeHandler.class);

    /** Options a client may send on one connection before the server gives up on it. */
    static final int MAX_OPTIONS = 64;
    /** Option data taken; larger data is skipped and answered NBD_REP_ERR_TOO_BIG. */
    static final int MAX_OPTION_LENGTH = 64 * 1024;
    /** Option data skipped at most; larger closes the connection (a client that sends it is broken). */
    static final int MAX_OPTION_DISCARD = 1 << 20;
    /** Header of an option: IHAVEOPT, option, length. */
    private static final int OPTION_HEADER_LENGTH = 16;

    /** Where the negotiation stands. */
    enum State {
        /** Greeting sent; waiting for the client's 32-bit flags. */
        CLIENT_FLAGS,
        /** Waiting for the 16-byte header of the next option. */
        OPTION_HEADER,
        /** Option header read; waiting for all of its data. */
        OPTION_DATA,
        /** Skipping the data of an option too large to take; NBD_REP_ERR_TOO_BIG follows. */
        OPTION_DISCARD,
        /** Transmission entered: the following bytes belong to the request decoder. */
        TRANSMISSION,
        /** Negotiation ended (abort, bad stream, shutdown): the connection is closing; input is dropped. */
        CLOSED
    }

    private final NbdServer.Config config;
    private final NbdExports exports;

    private State state = State.CLIENT_FLAGS;
    private boolean noZeroes;
    private boolean tls;
    private boolean structuredReplies;
    /** Canonical name of the export {@code base:allocation} was selected for, or null. */
    private String metaContextExport;
    private int optionCount;
    private ScheduledFuture<?> deadline;
    private int option;
    private long optionLength;

    /** Refused options, logged with their cause at most once a second per connection. */
    private final io.nvmpath.fabric.log.WarnLimiter refusals;

    NbdHandshakeHandler(NbdServer.Config config, NbdExports exports) {
        this(config, exports, new io.nvmpath.fabric.log.WarnLimiter(log,
                io.nvmpath.fabric.log.WarnLimiter.DEFAULT_INTERVAL_NANOS));
    }

    NbdHandshakeHandler(NbdServer.Config config, NbdExports exports, io.nvmpath.fabric.log.WarnLimiter refusals) {
        this.config = config;
        this.exports = exports;
        this.refusals = refusals;
    }

    /** Logs an option refused to this client, with what the operator needs that the client is not told. */
    private void refused(ChannelHandlerContext ctx, String why) {
        refusals.warn("NBD client " + ctx.channel().remoteAddress() + ": " + Nbd.optionName(option) + " refused: " + why,
                null);
    }

    /** Why export {@code name} is not this client's, for the log (the client is told only that there is none). */
    private String unknown(String name) {
        NbdExport e = name.isEmpty() ? exports.defaultExport() : exports.find(name);
        return e == null ? "no export '" + name + "'" : "export '" + name + "' is hidden from it by its allow-list";
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        ByteBuf greeting = ctx.alloc().buffer(18);
        greeting.writeLong(Nbd.NBDMAGIC);
        greeting.writeLong(Nbd.IHAVEOPT);
        greeting.writeShort(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES);
        ctx.writeAndFlush(greeting, ctx.voidPromise());
        deadline = ctx.executor().schedule(() -> {
            log.info("NBD client {} did not finish negotiating within {} s; closing", ctx.channel().remoteAddress(),
                    config.handshakeTimeout().toSeconds());
            ctx.close();
        }, config.handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
        super.channelActive(ctx);
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        if (deadline != null) {
            deadline.cancel(false); // transmission reached, or the connection is gone
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt == NbdServer.DrainEvent.INSTANCE) {
            // nothing in flight before transmission: a negotiating client is simply let go
            close(ctx, null);
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause.getCause() instanceof SSLException tlsFailure) {
            // worth an operator's attention: a certificate or protocol mismatch
            log.warn("NBD client {}: TLS failed: {}", ctx.channel().remoteAddress(), tlsFailure.getMessage());
        } else {
            log.debug("NBD client {} during negotiation: {}", ctx.channel().remoteAddress(), cause.toString());
        }
        close(ctx, null);
    }

    @Override
    @SuppressWarnings("fallthrough")
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        switch (state) {
            case CLIENT_FLAGS: {
                if (in.readableBytes() < 4) {
                    return;
                }
                int clientFlags = in.readInt();
                if ((clientFlags & ~(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)) != 0) {
                    close(ctx, String.format("unknown client flags 0x%08x", clientFlags));
                    return;
                }
                if ((clientFlags & Nbd.FLAG_C_FIXED_NEWSTYLE) == 0) {
                    close(ctx, "client does not speak fixed newstyle negotiation");
                    return;
                }
                noZeroes = (clientFlags & Nbd.FLAG_C_NO_ZEROES) != 0;
                state = State.OPTION_HEADER;
                return;
            }
            case OPTION_HEADER: {
                if (in.readableBytes() < OPTION_HEADER_LENGTH) {
                    return;
                }
                int r = in.readerIndex();
                long magic = in.getLong(r);
                option = in.getInt(r + 8);
                optionLength = in.getUnsignedInt(r + 12);
                in.skipBytes(OPTION_HEADER_LENGTH);
                if (magic != Nbd.IHAVEOPT) {
                    close(ctx, String.format("bad option magic 0x%016x", magic));
                    return;
                }
                if (++optionCount > MAX_OPTIONS) {
                    close(ctx, "more than " + MAX_OPTIONS + " options");
                    return;
                }
                if (optionLength > MAX_OPTION_DISCARD
                        || (optionLength > MAX_OPTION_LENGTH && option == Nbd.OPT_EXPORT_NAME)) {
                    close(ctx, "option " + option + " with " + optionLength + " bytes of data");
                    return;
                }
                if (optionLength > MAX_OPTION_LENGTH) {
                    state = State.OPTION_DISCARD;
                    return;
                }
                state = State.OPTION_DATA;
            }
            // fall through: the data may be here already, or be empty
            case OPTION_DATA: {
                if (in.readableBytes() < optionLength) {
                    return;
                }
                ByteBuf data = in.readSlice((int) optionLength);
                state = State.OPTION_HEADER;
                handleOption(ctx, data, in);
                if (state != State.TRANSMISSION) {
                    ctx.flush(); // entering transmission flushed already, and removed this handler
                }
                return;
            }
            case OPTION_DISCARD: {
                int n = (int) Math.min(optionLength, in.readableBytes());
                in.skipBytes(n);
                optionLength -= n;
                if (optionLength == 0) {
                    state = State.OPTION_HEADER;
                    replyError(ctx, Nbd.REP_ERR_TOO_BIG, "option data too large");
                    ctx.flush();
                }
                return;
            }
            case TRANSMISSION:
                return; // handed over; this handler is being removed with the rest of the bytes
            case CLOSED:
                in.skipBytes(in.readableBytes());
                return;
            default:
                throw new IllegalStateException(state.name());
        }
    }

    /** Answers one whole option; {@code data} is its data, {@code in} what follows it. */
    private void handleOption(ChannelHandlerContext ctx, ByteBuf data, ByteBuf in) {
        if (config.tlsMode() == NbdServer.TlsMode.REQUIRE && !tls
                && option != Nbd.OPT_STARTTLS && option != Nbd.OPT_ABORT) {
            if (option == Nbd.OPT_EXPORT_NAME) {
                close(ctx, "NBD_OPT_EXPORT_NAME before STARTTLS, and TLS is required");
            } else {
                refused(ctx, "TLS is required and the client has not sent NBD_OPT_STARTTLS");
                replyError(ctx, Nbd.REP_ERR_TLS_REQD, "TLS is required: send NBD_OPT_STARTTLS first");
            }
            return;
        }
        switch (option) {
            case Nbd.OPT_EXPORT_NAME -> exportName(ctx, data);
            case Nbd.OPT_ABORT -> {
                reply(ctx, Nbd.REP_ACK, null);
                close(ctx, null);
            }
            case Nbd.OPT_LIST -> list(ctx, data);
            case Nbd.OPT_STARTTLS -> startTls(ctx, data, in);
            case Nbd.OPT_INFO, Nbd.OPT_GO -> infoOrGo(ctx, data);
            case Nbd.OPT_STRUCTURED_REPLY -> {
                if (data.isReadable()) {
                    replyError(ctx, Nbd.REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
                } else {
                    structuredReplies = true;
                    reply(ctx, Nbd.REP_ACK, null);
                }
            }
            case Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT -> metaContext(ctx, data);
            default -> replyError(ctx, Nbd.REP_ERR_UNSUP, "option " + option + " is not supported");
        }
    }

    private void exportName(ChannelHandlerContext ctx, ByteBuf data) {
        if (data.readableBytes() > Nbd.MAX_STRING) {
            close(ctx, "NBD_OPT_EXPORT_NAME with a name of " + data.readableBytes() + " bytes");
            return;
        }
        String name = data.toString(StandardCharsets.UTF_8);
        NbdExport export = resolve(ctx, name);
        if (export == null) {
            close(ctx, "NBD_OPT_EXPORT_NAME of unknown export '" + name + "'");
            return;
        }
        ByteBuf b = ctx.alloc().buffer(10 + (noZeroes ? 0 : Nbd.EXPORT_NAME_PADDING));
        b.writeLong(export.device().size());
        b.writeShort(transmissionFlags(export));
        if (!noZeroes) {
            b.writeZero(Nbd.EXPORT_NAME_PADDING);
        }
        ctx.write(b);
        enterTransmission(ctx, export, false);
    }

    private void list(ChannelHandlerContext ctx, ByteBuf data) {
        if (data.isReadable()) {
            replyError(ctx, Nbd.REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
            return;
        }
        for (NbdExport export : exports.list()) {
            if (!export.allows(ctx.channel().remoteAddress())) {
                continue;
            }
            int nameLength = ByteBufUtil.utf8Bytes(export.name());
            String description = export.description() == null ? "" : export.description();
            ByteBuf p = ctx.alloc().buffer(4 + nameLength + ByteBufUtil.utf8Bytes(description));
            p.writeInt(nameLength);
            ByteBufUtil.reserveAndWriteUtf8(p, export.name(), nameLength);
            p.writeCharSequence(description, StandardCharsets.UTF_8);
            reply(ctx, Nbd.REP_SERVER, p);
        }
        reply(ctx, Nbd.REP_ACK, null);
    }

    private void startTls(ChannelHandlerContext ctx, ByteBuf data, ByteBuf in) {
        if (data.isReadable()) {
            replyError(ctx, Nbd.REP_ERR_INVALID, "NBD_OPT_STARTTLS takes no data");
        } else if (tls) {
            replyError(ctx, Nbd.REP_ERR_INVALID, "TLS is already on");
        } else if (config.tlsMode() == NbdServer.TlsMode.OFF) {
            replyError(ctx, Nbd.REP_ERR_POLICY, "TLS is not offered by this server");
        } else if (in.isReadable()) {
            close(ctx, "data sent behind NBD_OPT_STARTTLS before its reply");
        } else {
            reply(ctx, Nbd.REP_ACK, null);
            ctx.flush();
            // the ACK is in the channel's outbound buffer, so it leaves in plain text; all after is TLS
            SslHandler ssl = config.sslContext().get().newHandler(ctx.alloc());
            ctx.pipeline().addFirst("nbd-tls", ssl);
            tls = true;
            // the protocol: no negotiation state survives STARTTLS
            structuredReplies = false;
            metaContextExport = null;
        }
    }

    private void infoOrGo(ChannelHandlerContext ctx, ByteBuf data) {
        boolean go = option == Nbd.OPT_GO;
        if (data.readableBytes() < 6) {
            replyError(ctx, Nbd.REP_ERR_INVALID, "option data too short");
            return;
        }
        long nameLength = data.readUnsignedInt();
        if (nameLength > data.readableBytes() - 2) {
            replyError(ctx, Nbd.REP_ERR_INVALID, "export name longer than the option");
            return;
        }
        if (nameLength > Nbd.MAX_STRING) {
            replyError(ctx, Nbd.REP_ERR_INVALID, "export name longer than " + Nbd.MAX_STRING + " bytes");
            return;
        }
        String name = data.readCharSequence((int) nameLength, StandardCharsets.UTF_8).toString();
        int requests = data.readUnsignedShort();
        if (data.readableBytes() != 2 * requests) {
            replyError(ctx, Nbd.REP_ERR_INVALID, "information request count does not match the option length");
            return;
        }
        boolean wantName = name.isEmpty();
        boolean wantDescription = false;
        boolean wantBlockSize = false;
        for (int i = 0; i < requests; i++) {
            switch (data.readUnsignedShort()) {
                case Nbd.INFO_NAME -> wantName = true;
                case Nbd.INFO_DESCRIPTION -> wantDescription = true;
                case Nbd.INFO_BLOCK_SIZE -> wantBlockSize = true;
                default -> {
                    // INFO_EXPORT is always sent; unknown requests are ignored as the protocol says
                }
            }
        }
        NbdExport export = resolve(ctx, name);
        if (export == null) {
            refused(ctx, unknown(name));
            replyError(ctx, Nbd.REP_ERR_UNKNOWN, "no export '" + name + "'");
            return;
        }
        BlockDevice device = export.device();
        ByteBuf info = ctx.alloc().buffer(12);
        info.writeShort(Nbd.INFO_EXPORT);
        info.writeLong(device.size());
        info.writeShort(transmissionFlags(export));
        reply(ctx, Nbd.REP_INFO, info);
        if (wantName) {
            reply(ctx, Nbd.REP_INFO, infoString(ctx, Nbd.INFO_NAME, export.name()));
        }
        if (wantDescription && export.description() != null && !export.description().isEmpty()) {
            reply(ctx, Nbd.REP_INFO, infoString(ctx, Nbd.INFO_DESCRIPTION, export.description()));
        }
        ByteBuf sizes = ctx.alloc().buffer(14);
        sizes.writeShort(Nbd.INFO_BLOCK_SIZE);
        sizes.writeInt(minimumBlockSize(device));
        sizes.writeInt(preferredBlockSize(device));
        sizes.writeInt(advertisedMaximum(device));
        reply(ctx, Nbd.REP_INFO, sizes);
        reply(ctx, Nbd.REP_ACK, null);
        if (go) {
            enterTransmission(ctx, export, wantBlockSize);
        }
    }

    private void metaContext(ChannelHandlerContext ctx, ByteBuf data) {
        boolean set = option == Nbd.OPT_SET_META_CONTEXT;
        if (set) {
            metaContextExport = null; // replaced by this option, even when it fails
        }
        if (!structuredReplies) {
            replyError(ctx, Nbd.REP_ERR_INVALID, "negotiate NBD_OPT_STRUCTURED_REPLY first");
            return;
        }
        String name = readString(data);
        if (name == null || data.readableBytes() < 4) {
            replyError(ctx, Nbd.REP_ERR_INVALID, "malformed metadata context option");
            return;
        }
        long queries = data.readUnsignedInt();
        boolean baseAllocation = !set && queries == 0; // LIST with no query lists everything
        for (long i = 0; i < queries; i++) {
            String query = readString(data);
            if (query == null) {
                replyError(ctx, Nbd.REP_ERR_INVALID, "malformed metadata context query");
                return;
            }
            // base:allocation is the only context; "base:" lists it; every other query selects nothing
            if (query.equals(Nbd.BASE_ALLOCATION) || (!set && query.equals("base:"))) {
                baseAllocation = true;
            }
        }
        if (data.isReadable()) {
            replyError(ctx, Nbd.REP_ERR_INVALID, "trailing data after the metadata context queries");
            return;
        }
        NbdExport export = resolve(ctx, name);
        if (export == null) {
            refused(ctx, unknown(name));
            replyError(ctx, Nbd.REP_ERR_UNKNOWN, "no export '" + name + "'");
            return;
        }
        if (baseAllocation) {
            int nameLength = ByteBufUtil.utf8Bytes(Nbd.BASE_ALLOCATION);
            ByteBuf p = ctx.alloc().buffer(4 + nameLength);
            p.writeInt(set ? Nbd.BASE_ALLOCATION_ID : 0);
            ByteBufUtil.reserveAndWriteUtf8(p, Nbd.BASE_ALLOCATION, nameLength);
            reply(ctx, Nbd.REP_META_CONTEXT, p);
            if (set) {
                metaContextExport = export.name();
            }
        }
        reply(ctx, Nbd.REP_ACK, null);
    }

    /** A 32-bit length and that many bytes of UTF-8, or null if it does not fit in {@code data} or the protocol. */
    private static String readString(ByteBuf data) {
        if (data.readableBytes() < 4) {
            return null;
        }
        long length = data.readUnsignedInt();
        if (length > data.readableBytes() || length > Nbd.MAX_STRING) {
            return null;
        }
        return data.readCharSequence((int) length, StandardCharsets.UTF_8).toString();
    }

    private void enterTransmission(ChannelHandlerContext ctx, NbdExport export, boolean agreedBlockSizes) {
        state = State.TRANSMISSION;
        int flags = transmissionFlags(export);
        int maxPayload = agreedBlockSizes ? maxPayload(export.device())
                : Math.max(maxPayload(export.device()), Nbd.DEFAULT_MAX_PAYLOAD);
        boolean baseAllocation = structuredReplies && export.name().equals(metaContextExport);
        NbdSession session = new NbdSession(export, flags, structuredReplies, baseAllocation, maxPayload);
        boolean readOnly = (flags & Nbd.FLAG_READ_ONLY) != 0;
        ctx.channel().attr(NbdServer.EXPORT_NAME).set(export.name());
        log.debug("NBD client {} opened export {} (flags 0x{})", ctx.channel().remoteAddress(), export.name(),
                Integer.toHexString(flags));
        ChannelPipeline p = ctx.pipeline();
        p.addAfter(ctx.name(), "nbd-requests",
                new NbdRequestDecoder(maxPayload, Math.max(NbdServer.MAX_DRAINED_PAYLOAD, maxPayload), !readOnly));
        p.addAfter("nbd-requests", "nbd-commands", new NbdCommandHandler(session, config.maxInFlight()));
        ctx.flush(); // the reply leaves once the connection is ready (and counted) for transmission
        p.remove(this); // the bytes after the option go on to the request decoder
    }

    /** The transmission flags for {@code export} on this connection. */
    private int transmissionFlags(NbdExport export) {
        BlockDevice device = export.device();
        boolean readOnly = export.readOnly() || device.readOnly();
        int flags = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_CACHE;
        if (readOnly) {
            flags |= Nbd.FLAG_READ_ONLY;
        } else {
            flags |= Nbd.FLAG_SEND_WRITE_ZEROES;
            if (device.canFua()) {
                flags |= Nbd.FLAG_SEND_FUA;
            }
            if (device.canTrim()) {
                flags |= Nbd.FLAG_SEND_TRIM;
            }
            if (device.canFastZero()) {
                flags |= Nbd.FLAG_SEND_FAST_ZERO;
            }
        }
        if (device.canFlush()) {
            flags |= Nbd.FLAG_SEND_FLUSH;
        }
        if (structuredReplies) {
            flags |= Nbd.FLAG_SEND_DF;
        }
        if (device.flushCoversAllConnections()) {
            flags |= Nbd.FLAG_CAN_MULTI_CONN;
        }
        return flags;
    }

    /** The device's block size if the protocol can carry it (a power of 2 up to 64 KiB), else 1. */
    static int minimumBlockSize(BlockDevice device) {
        int b = device.blockSize();
        return b > 0 && b <= 65536 && Integer.bitCount(b) == 1 ? b : 1;
    }

    /** The device's preferred size, made a power of 2 no smaller than 512 and the minimum. */
    static int preferredBlockSize(BlockDevice device) {
        int p = Math.max(Math.max(device.preferredBlockSize(), minimumBlockSize(device)), 512);
        return Integer.bitCount(p) == 1 ? p : Integer.highestOneBit(p) << 1;
    }

    /** The maximum payload advertised: the server's, but never below the preferred block size. */
    private int maxPayload(BlockDevice device) {
        return Math.max(config.maxPayload(), preferredBlockSize(device));
    }

    /** The maximum block size clients are told: one device command, within the payload bound. */
    private int advertisedMaximum(BlockDevice device) {
        int min = minimumBlockSize(device);
        int m = Math.min(device.maxTransfer(), config.maxPayload());
        m -= m % min;
        return Math.max(preferredBlockSize(device), m);
    }

    /** The export {@code name} names for this client, or null if there is none it may see. */
    private NbdExport resolve(ChannelHandlerContext ctx, String name) {
        NbdExport export = name.isEmpty() ? exports.defaultExport() : exports.find(name);
        return export != null && export.allows(ctx.channel().remoteAddress()) ? export : null;
    }

    private static ByteBuf infoString(ChannelHandlerContext ctx, int type, String value) {
        int length = ByteBufUtil.utf8Bytes(value);
        ByteBuf b = ctx.alloc().buffer(2 + length);
        b.writeShort(type);
        ByteBufUtil.reserveAndWriteUtf8(b, value, length);
        return b;
    }

    private void replyError(ChannelHandlerContext ctx, int type, String message) {
        int length = ByteBufUtil.utf8Bytes(message);
        ByteBuf p = ctx.alloc().buffer(length);
        ByteBufUtil.reserveAndWriteUtf8(p, message, length);
        reply(ctx, type, p);
    }

    /** Writes (without flushing) an option reply; takes ownership of {@code payload}. */
    private void reply(ChannelHandlerContext ctx, int type, ByteBuf payload) {
        int length = payload == null ? 0 : payload.readableBytes();
        ByteBuf header = ctx.alloc().buffer(20);
        header.writeLong(Nbd.REP_MAGIC);
        header.writeInt(option);
        header.writeInt(type);
        header.writeInt(length);
        ctx.write(header);
        if (payload != null) {
            ctx.write(payload);
        }
    }

    /** Ends the negotiation: logs why (null: nothing wrong) and closes once what was written is out. */
    private void close(ChannelHandlerContext ctx, String why) {
        if (why != null) {
            log.warn("NBD client {}: {}; closing the connection", ctx.channel().remoteAddress(), why);
        }
        state = State.CLOSED;
        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
}
