package io.nvmpath.fabric.nvme;

import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.List;

/**
 * The Asymmetric Namespace Access log page (LID 0Ch): a 16-byte header, then one 32-byte descriptor
 * per ANA group followed by that group's NSIDs (none when read with RGO, Return Groups Only).
 *
 * @param changeCount incremented by the controller on every ANA change
 * @param groups the descriptors, in the order the controller returned them
 */
public record AnaLog(long changeCount, List<Group> groups) {
    public static final int HEADER_SIZE = 16;
    public static final int DESCRIPTOR_SIZE = 32;

    /**
     * @param id ANA group identifier
     * @param changeCount the group's own change count
     * @param state its state, or {@code null} for a value the specification does not define
     * @param rawState the state byte's low nibble as received
     * @param nsids the namespaces in the group (empty with RGO)
     */
    public record Group(long id, long changeCount, AnaState state, int rawState, long[] nsids) {
    }

    /** Parses a log page; throws {@link IllegalArgumentException} when the counts run past the data. */
    public static AnaLog parse(ByteBuf b) {
        Wire.require(b, HEADER_SIZE, "ANA log header");
        int r = b.readerIndex();
        int end = b.writerIndex();
        long chg = b.getLongLE(r);
        int ngrps = b.getUnsignedShortLE(r + 8);
        List<Group> groups = new ArrayList<>(ngrps);
        int off = r + HEADER_SIZE;
        for (int g = 0; g < ngrps; g++) {
            if (off + DESCRIPTOR_SIZE > end) {
                throw new IllegalArgumentException("ANA log: descriptor " + g + " of " + ngrps + " past the data");
            }
            long id = b.getUnsignedIntLE(off);
            long nnsids = b.getUnsignedIntLE(off + 4);
            long gchg = b.getLongLE(off + 8);
            int raw = b.getUnsignedByte(off + 16) & 0x0F;
            off += DESCRIPTOR_SIZE;
            if (nnsids > (end - off) / 4) {
                throw new IllegalArgumentException("ANA log: group " + id + " lists " + nnsids + " NSIDs past the data");
            }
            long[] nsids = new long[(int) nnsids];
            for (int i = 0; i < nsids.length; i++) {
                nsids[i] = b.getUnsignedIntLE(off);
                off += 4;
            }
            groups.add(new Group(id, gchg, AnaState.fromCode(raw), raw, nsids));
        }
        return new AnaLog(chg, List.copyOf(groups));
    }

    /** The descriptor of group {@code id}, or {@code null}. */
    public Group group(long id) {
        for (Group g : groups) {
            if (g.id() == id) {
                return g;
            }
        }
        return null;
    }

    /** Bytes a full (not RGO) log may need for {@code ngrps} groups and {@code nn} namespaces. */
    public static int maxSize(long ngrps, long nn) {
        long size = HEADER_SIZE + ngrps * DESCRIPTOR_SIZE + nn * 4;
        return (int) Math.min(size, 1 << 20);
    }
}
