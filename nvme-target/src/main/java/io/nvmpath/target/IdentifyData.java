package io.nvmpath.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.IdentifyController;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.TreeSet;

/**
 * Builds the data structures the admin commands return, at the offsets of the NVMe Base and
 * Fabrics specifications: Identify Controller and Namespace, the active NSID and descriptor lists,
 * and the ANA, Changed Namespace List and Discovery log pages.
 */
final class IdentifyData {
    /** NN: the highest NSID a subsystem may have. */
    static final int MAX_NSID = 1024;
    static final int ANA_GROUP_MAX = 128;

    private IdentifyData() {
    }

    static ByteBuf controller(TargetController c) {
        NvmeTarget t = c.target;
        Subsystem s = c.subsystem;
        ByteBuf b = c.admin.alloc().buffer(4096).writeZero(4096);
        ascii(b, 4, 20, s.serial);
        ascii(b, 24, 40, s.model);
        ascii(b, 64, 8, s.firmware);
        b.setByte(72, 6); // RAB
        b.setByte(76, s.discovery ? 0 : 0x0B); // CMIC: multi-port, multi-controller, ANA reporting
        b.setByte(77, t.config().limits().mdts());
        b.setShortLE(78, c.cntlid);
        b.setIntLE(80, NvmeTarget.VERSION);
        b.setIntLE(92, c.supportedEvents()); // OAES
        b.setIntLE(96, 0x1); // CTRATT: 128-bit host identifier
        b.setByte(111, s.discovery ? 2 : 1); // CNTRLTYPE
        if (!s.discovery) {
            b.setByte(IdentifyController.OFFSET_CIU, c.ciu());
            b.setLongLE(IdentifyController.OFFSET_CIRN, c.cirn());
            b.setShortLE(IdentifyController.OFFSET_CQT, s.cqt);
            if (s.crossControllerReset) {
                b.setByte(IdentifyController.OFFSET_CCRL, NvmeTarget.CCR_LIMIT);
            }
        }
        b.setByte(258, 3); // ACL
        b.setByte(259, 3); // AERL
        b.setByte(260, 0x3); // FRMW
        b.setByte(261, 0x4); // LPA: extended data for Get Log Page
        b.setShortLE(320, 10); // KAS: 1 s granularity
        if (!s.discovery) {
            b.setByte(342, t.config().anatt());
            b.setByte(343, 0x1F); // ANACAP: all five states reported
            b.setIntLE(344, ANA_GROUP_MAX);
            b.setIntLE(348, ANA_GROUP_MAX);
        }
        b.setByte(512, 0x66); // SQES
        b.setByte(513, 0x44); // CQES
        b.setShortLE(514, t.config().limits().ioQueueSize()); // MAXCMD
        b.setIntLE(516, s.discovery ? 0 : MAX_NSID); // NN
        b.setShortLE(520, s.discovery ? 0 : IdentifyController.ONCS_DSM | IdentifyController.ONCS_WRITE_ZEROES); // ONCS
        b.setByte(525, s.discovery ? 0 : 0x1); // VWC: volatile write cache present
        b.setIntLE(536, 0x00100001); // SGLS: SGLs, offset in-capsule data blocks
        b.setIntLE(540, s.discovery ? 0 : MAX_NSID); // MNAN: Linux refuses an ANA controller without it
        ascii0(b, 768, 256, s.nqn);
        b.setIntLE(1792, (64 + t.config().limits().inCapsuleDataSize()) / 16); // IOCCSZ
        b.setIntLE(1796, 1); // IORCSZ
        b.setByte(1803, 1); // MSDBD
        return b;
    }

    /** Identify Namespace; all zeroes for an inactive NSID. */
    static ByteBuf namespace(TargetController c, Namespace ns) {
        ByteBuf b = c.admin.alloc().buffer(4096).writeZero(4096);
        if (ns == null) {
            return b;
        }
        b.setLongLE(0, ns.blocks);
        b.setLongLE(8, ns.blocks);
        b.setLongLE(16, ns.blocks);
        b.setByte(30, 1); // NMIC: shared
        b.setByte(33, 0x09); // DLFEAT: deallocated blocks read as zeroes; Write Zeroes may deallocate
        b.setIntLE(92, ns.anaGroup);
        b.setByte(99, ns.readOnly ? 1 : 0); // NSATTR: write protected
        b.setBytes(104, ns.nguid);
        b.setBytes(120, ns.eui64);
        b.setByte(128 + 2, ns.lbads); // LBAF0: no metadata, LBADS
        return b;
    }

    static ByteBuf activeNsids(TargetController c, int after) {
        ByteBuf b = c.admin.alloc().buffer(4096).writeZero(4096);
        int i = 0;
        for (int id : c.subsystem.namespaces.tailMap(after, false).keySet()) {
            if (after < 0 || i == 1024) {
                break;
            }
            b.setIntLE(4 * i++, id);
        }
        return b;
    }

    static ByteBuf descriptors(Namespace ns) {
        ByteBuf b = io.netty.buffer.ByteBufAllocator.DEFAULT.buffer(4096);
        b.writeByte(1).writeByte(8).writeShort(0).writeBytes(ns.eui64);
        b.writeByte(2).writeByte(16).writeShort(0).writeBytes(ns.nguid);
        b.writeByte(3).writeByte(16).writeShort(0)
                .writeLong(ns.uuid.getMostSignificantBits()).writeLong(ns.uuid.getLeastSignificantBits());
        b.writeByte(4).writeByte(1).writeShort(0).writeByte(0).writeZero(3); // CSI: NVM
        b.writeZero(4096 - b.writerIndex());
        return b;
    }

    /** The ANA log as seen through the controller's port: one descriptor per group in use. */
    static ByteBuf anaLog(TargetController c, boolean groupsOnly) {
        TreeSet<Integer> groups = new TreeSet<>(c.port.anaStates().keySet());
        for (Namespace ns : c.subsystem.namespaces.values()) {
            groups.add(ns.anaGroup);
        }
        long chg = c.target.anaChangeCount();
        ByteBuf b = c.admin.alloc().buffer(16 + groups.size() * 32 + c.subsystem.namespaces.size() * 4);
        b.writeLongLE(chg).writeShortLE(groups.size()).writeZero(6);
        for (int g : groups) {
            List<Namespace> members = c.subsystem.namespaces.values().stream().filter(n -> n.anaGroup == g).toList();
            AnaState st = c.port.anaState(g);
            b.writeIntLE(g).writeIntLE(groupsOnly ? 0 : members.size()).writeLongLE(chg).writeByte(st.code()).writeZero(15);
            if (!groupsOnly) {
                for (Namespace n : members) {
                    b.writeIntLE(n.nsid);
                }
            }
        }
        return b;
    }

    static ByteBuf changedNamespaces(ByteBufAllocator alloc, List<Integer> nsids) {
        ByteBuf b = alloc.buffer(4096).writeZero(4096);
        for (int i = 0; i < nsids.size() && i < 1024; i++) {
            b.setIntLE(4 * i, nsids.get(i));
        }
        return b;
    }

    /** Every port of every subsystem the host may use, with the port's advertised address. */
    static ByteBuf discoveryLog(TargetController c) {
        List<NvmeTarget.DiscoveryEntry> entries = c.target.discoveryEntries(c.hostNqn);
        ByteBuf b = c.admin.alloc().buffer(1024 + entries.size() * 1024).writeZero(1024 + entries.size() * 1024);
        b.setLongLE(0, c.target.discoveryGeneration());
        b.setLongLE(8, entries.size());
        for (int i = 0; i < entries.size(); i++) {
            NvmeTarget.DiscoveryEntry e = entries.get(i);
            int o = 1024 + i * 1024;
            b.setByte(o, 3); // TRTYPE: TCP
            b.setByte(o + 1, e.traddr().contains(":") ? 2 : 1); // ADRFAM
            b.setByte(o + 2, 2); // SUBTYPE: NVM subsystem
            // TREQ: SQ flow control disable supported; secure channel required on a TLS port, else not
            // specified; TSAS (TCP): SECTYPE TLS 1.3 on a TLS port, as nvmet's addr_tsas=tls1.3
            b.setByte(o + 3, 0x4 | (e.tls() ? 0x1 : 0x0));
            b.setByte(o + 768, e.tls() ? 2 : 0);
            b.setShortLE(o + 4, e.portId());
            b.setShortLE(o + 6, 0xFFFF); // dynamic controller model
            b.setShortLE(o + 8, 32); // ASQSZ
            ascii0(b, o + 32, 32, String.valueOf(e.trsvcid()));
            ascii0(b, o + 256, 256, e.subnqn());
            ascii0(b, o + 512, 256, e.traddr());
        }
        return b;
    }

    private static void ascii(ByteBuf b, int index, int length, String s) {
        byte[] v = s.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < length; i++) {
            b.setByte(index + i, i < v.length ? v[i] : ' ');
        }
    }

    private static void ascii0(ByteBuf b, int index, int length, String s) {
        byte[] v = s.getBytes(StandardCharsets.UTF_8);
        b.setBytes(index, v, 0, Math.min(v.length, length - 1));
    }
}
