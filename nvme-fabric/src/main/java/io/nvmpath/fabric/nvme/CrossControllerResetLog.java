package io.nvmpath.fabric.nvme;

import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.List;

/**
 * The Cross-Controller Reset log page (LID 1Eh, TP8028) of the controller read: one entry per reset
 * it was asked for and validated, in progress or done. An 8-byte header (NE, the number of entries,
 * then 6 reserved bytes) and 8-byte entries: ICID (u16), CIU, a reserved byte, ACID (u16, the
 * alternate controller: the one that received the command), CCRS, CCRF. Read with LSP bit 0, RMC
 * (Remove Completed), the controller drops the entries that are no longer in progress after returning
 * them.
 *
 * @param entries in the controller's order
 */
public record CrossControllerResetLog(List<Entry> entries) {
    public static final int HEADER_SIZE = 8;
    public static final int ENTRY_SIZE = 8;
    /** A whole page, the size a host reads: the header and {@link #MAX_ENTRIES} entries. */
    public static final int SIZE = 4096;
    public static final int MAX_ENTRIES = (SIZE - HEADER_SIZE) / ENTRY_SIZE;
    /** LSP bit 0, Remove Completed. */
    public static final int LSP_REMOVE_COMPLETED = 1;

    /** CCRS, Cross-Controller Reset Status. */
    public enum ResetStatus {
        /** The reset is not done yet. */
        IN_PROGRESS(0),
        /** The impacted controller was reset: nothing it held will be executed. */
        SUCCESS(1),
        /** The reset did not happen; the host must not assume the impacted controller stopped. */
        FAILED(2);

        private final int code;

        ResetStatus(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }

        /** The status for a CCRS value, or {@code null} for one the specification does not define. */
        public static ResetStatus fromCode(int code) {
            for (ResetStatus s : values()) {
                if (s.code == code) {
                    return s;
                }
            }
            return null;
        }
    }

    /**
     * One reset.
     *
     * @param icid the impacted controller
     * @param ciu the impacted controller's instance uniquifier the command named
     * @param acid the controller that received the command
     * @param status its CCRS, or {@code null} for a value not defined
     * @param rawStatus the CCRS byte as received
     * @param flags CCRF: bit 0 {@link #FLAG_VALIDATED}, bit 1 {@link #FLAG_RESET_INITIATED}, bits 3:2 RETRY
     */
    public record Entry(int icid, int ciu, int acid, ResetStatus status, int rawStatus, int flags) {
        /** V: the impacted controller was found and matched. */
        public static final int FLAG_VALIDATED = 1;
        /** CLRI: a Controller Level Reset of the impacted controller was initiated. */
        public static final int FLAG_RESET_INITIATED = 1 << 1;

        public Entry(int icid, int ciu, int acid, ResetStatus status, int flags) {
            this(icid, ciu, acid, status, status.code(), flags);
        }

        public boolean validated() {
            return (flags & FLAG_VALIDATED) != 0;
        }

        public boolean resetInitiated() {
            return (flags & FLAG_RESET_INITIATED) != 0;
        }

        /** The RETRY field, CCRF bits 3:2. */
        public int retry() {
            return (flags >>> 2) & 0x3;
        }
    }

    public CrossControllerResetLog {
        entries = List.copyOf(entries);
    }

    /** The entry for impacted controller {@code icid}, or {@code null}. */
    public Entry entry(int icid) {
        for (Entry e : entries) {
            if (e.icid() == icid) {
                return e;
            }
        }
        return null;
    }

    /** Parses a page; entries past the data are refused, as for the ANA log. */
    public static CrossControllerResetLog parse(ByteBuf b) {
        Wire.require(b, HEADER_SIZE, "Cross-Controller Reset log header");
        int r = b.readerIndex();
        int ne = b.getUnsignedShortLE(r);
        if (ne > (b.readableBytes() - HEADER_SIZE) / ENTRY_SIZE) {
            throw new IllegalArgumentException("Cross-Controller Reset log: " + ne + " entries past the data ("
                    + b.readableBytes() + " bytes)");
        }
        List<Entry> out = new ArrayList<>(ne);
        for (int i = 0; i < ne; i++) {
            int e = r + HEADER_SIZE + i * ENTRY_SIZE;
            int raw = b.getUnsignedByte(e + 6);
            out.add(new Entry(b.getUnsignedShortLE(e), b.getUnsignedByte(e + 2), b.getUnsignedShortLE(e + 4),
                    ResetStatus.fromCode(raw), raw, b.getUnsignedByte(e + 7)));
        }
        return new CrossControllerResetLog(out);
    }

    /** Writes the header and the entries at the writer index (the target's side). */
    public void encode(ByteBuf out) {
        if (entries.size() > MAX_ENTRIES) {
            throw new IllegalStateException(entries.size() + " entries do not fit a page of " + MAX_ENTRIES);
        }
        out.writeShortLE(entries.size()).writeZero(6);
        for (Entry e : entries) {
            out.writeShortLE(e.icid()).writeByte(e.ciu()).writeByte(0).writeShortLE(e.acid())
                    .writeByte(e.rawStatus()).writeByte(e.flags());
        }
    }
}
