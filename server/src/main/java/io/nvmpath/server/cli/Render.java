package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nvmpath.fabric.nvme.AnaLog;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.fabric.nvme.DiscoveryLog;
import io.nvmpath.fabric.nvme.IdentifyController;
import io.nvmpath.fabric.nvme.IdentifyNamespace;
import io.nvmpath.fabric.nvme.NamespaceIds;

import java.util.HexFormat;

/** Turns the data structures of nvme-fabric into {@link Report}s, with nvme-cli's names and layout. */
final class Render {
    private static final HexFormat HEX = HexFormat.of();

    private Render() {
    }

    /** {@code nvme id-ctrl}: the fields nvme-cli prints, hex where it prints hex. */
    static Report idCtrl(IdentifyController c) {
        ObjectNode json = Report.object();
        StringBuilder text = new StringBuilder("NVME Identify Controller:").append(System.lineSeparator());
        new Report.Fields(json, text, 10)
                .hex("vid", c.vid())
                .hex("ssvid", c.ssvid())
                .str("sn", c.serial())
                .str("mn", c.model())
                .str("fr", c.firmware())
                .hex("cmic", c.cmic())
                .dec("mdts", c.mdts())
                .hex("cntlid", c.cntlid())
                .hex("ver", c.version() & 0xFFFFFFFFL)
                .hex("oaes", c.oaes())
                .hex("ctratt", c.ctratt())
                .dec("kas", c.kas())
                .dec("anatt", c.anatt())
                .dec("anacap", c.anacap())
                .dec("anagrpmax", c.anagrpmax())
                .dec("nanagrpid", c.nanagrpid())
                .hex("sqes", c.sqes())
                .hex("cqes", c.cqes())
                .dec("maxcmd", c.maxcmd())
                .dec("nn", c.nn())
                .hex("oncs", c.oncs())
                .hex("vwc", c.vwc())
                .hex("sgls", c.sgls())
                .str("subnqn", c.subnqn())
                .dec("ioccsz", c.ioccsz())
                .dec("iorcsz", c.iorcsz())
                .dec("icdoff", c.icdoff())
                .hex("fcatt", c.fcatt())
                .dec("msdbd", c.msdbd());
        return new Report(json, text.toString());
    }

    /**
     * {@code nvme id-ns} and {@code nvme ns-descs} in one.
     *
     * @param ids the identifiers, or {@code null} when the controller would not give them
     * @param idsFailure why {@code ids} is missing, or {@code null}
     */
    static Report idNs(long nsid, int cntlid, IdentifyNamespace ns, NamespaceIds ids, String idsFailure) {
        String nl = System.lineSeparator();
        ObjectNode json = Report.object();
        json.put("nsid", nsid);
        json.put("cntlid", cntlid);
        StringBuilder text = new StringBuilder("NVME Identify Namespace " + nsid + " of controller " + cntlid + ":"
                + nl);
        new Report.Fields(json, text, 8)
                .hex("nsze", ns.nsze())
                .hex("ncap", ns.ncap())
                .hex("nuse", ns.nuse())
                .hex("nsfeat", ns.nsfeat())
                .dec("nlbaf", ns.nlbaf())
                .hex("flbas", ns.flbas())
                .hex("nmic", ns.nmic())
                .dec("anagrpid", ns.anagrpid())
                .str("nguid", HEX.formatHex(ns.nguid()))
                .str("eui64", HEX.formatHex(ns.eui64()));
        json.put("active", ns.active());
        if (ns.active()) {
            int format = (ns.flbas() & 0xF) | ((ns.flbas() >> 1) & 0x30);
            json.put("lbaSize", ns.lbaSize());
            json.put("metadataSize", ns.metadataSize());
            text.append(String.format("lbaf %2d : ms:%-3d lbads:%-2d (in use: %d-byte blocks)%n", format,
                    ns.metadataSize(), ns.lbads(), ns.lbaSize()));
        } else {
            json.putNull("lbaSize");
            json.putNull("metadataSize");
            text.append("(not an active namespace: Identify Namespace returned zeroes)").append(nl);
        }
        text.append(nl).append("NVME Namespace Identification Descriptors " + nsid + ":").append(nl);
        if (ids == null) {
            json.putNull("descriptors");
            json.put("descriptorsError", idsFailure);
            text.append("not available: ").append(idsFailure).append(nl);
        } else {
            ObjectNode d = json.putObject("descriptors");
            new Report.Fields(d, text, 8)
                    .str("eui64", ids.eui64Hex())
                    .str("nguid", ids.nguidHex())
                    .str("uuid", ids.uuid() == null ? null : ids.uuid().toString())
                    .dec("csi", ids.csi());
        }
        return new Report(json, text.toString());
    }

    /** {@code nvme ana-log}, headed by the controller that answered. */
    static Report anaLog(int cntlid, String subnqn, AnaLog log) {
        String nl = System.lineSeparator();
        ObjectNode json = Report.object();
        json.put("cntlid", cntlid);
        json.put("subnqn", subnqn);
        Report.putUnsigned(json, "chgcnt", log.changeCount());
        json.put("ngrps", log.groups().size());
        ArrayNode groups = json.putArray("groups");
        StringBuilder text = new StringBuilder()
                .append("Asymmetric Namespace Access Log of controller ").append(cntlid).append(" of ").append(subnqn)
                .append(nl)
                .append("ANA LOG HEADER :-").append(nl)
                .append("chgcnt\t:\t").append(Long.toUnsignedString(log.changeCount())).append(nl)
                .append("ngrps\t:\t").append(log.groups().size()).append(nl);
        for (AnaLog.Group g : log.groups()) {
            String state = stateLabel(g);
            ObjectNode o = groups.addObject();
            o.put("grpid", g.id());
            o.put("nnsids", g.nsids().length);
            Report.putUnsigned(o, "chgcnt", g.changeCount());
            o.put("state", state);
            ArrayNode nsids = o.putArray("nsids");
            text.append("ANA Log Desc :-").append(nl)
                    .append("grpid\t:\t").append(g.id()).append(nl)
                    .append("nnsids\t:\t").append(g.nsids().length).append(nl)
                    .append("chgcnt\t:\t").append(Long.toUnsignedString(g.changeCount())).append(nl)
                    .append("state\t:\t").append(state).append(nl);
            for (long nsid : g.nsids()) {
                nsids.add(nsid);
                text.append("\tnsid\t:\t").append(nsid).append(nl);
            }
            text.append(nl);
        }
        return new Report(json, text.toString());
    }

    private static String stateLabel(AnaLog.Group g) {
        AnaState s = g.state();
        return s != null ? s.label() : String.format("reserved-0x%x", g.rawState());
    }

    /** {@code nvme discover}. */
    static Report discovery(DiscoveryLog log) {
        String nl = System.lineSeparator();
        ObjectNode json = Report.object();
        Report.putUnsigned(json, "genctr", log.generation());
        Report.putUnsigned(json, "numrec", log.numberOfRecords());
        ArrayNode records = json.putArray("records");
        StringBuilder text = new StringBuilder().append("Discovery Log Number of Records ")
                .append(Long.toUnsignedString(log.numberOfRecords())).append(", Generation counter ")
                .append(Long.toUnsignedString(log.generation())).append(nl);
        int n = 0;
        for (DiscoveryLog.Entry e : log.entries()) {
            ObjectNode o = records.addObject();
            o.put("trtype", e.transportName());
            o.put("adrfam", adrfam(e.adrfam()));
            o.put("subtype", subtype(e.subtype()));
            o.put("treq", treq(e.treq()));
            o.put("portid", e.portid());
            o.put("trsvcid", e.trsvcid());
            o.put("subnqn", e.subnqn());
            o.put("traddr", e.traddr());
            o.put("cntlid", e.cntlid());
            o.put("asqsz", e.asqsz());
            text.append("=====Discovery Log Entry ").append(n++).append("======").append(nl)
                    .append("trtype:  ").append(e.transportName()).append(nl)
                    .append("adrfam:  ").append(adrfam(e.adrfam())).append(nl)
                    .append("subtype: ").append(subtype(e.subtype())).append(nl)
                    .append("treq:    ").append(treq(e.treq())).append(nl)
                    .append("portid:  ").append(e.portid()).append(nl)
                    .append("trsvcid: ").append(e.trsvcid()).append(nl)
                    .append("subnqn:  ").append(e.subnqn()).append(nl)
                    .append("traddr:  ").append(e.traddr()).append(nl);
        }
        return new Report(json, text.toString());
    }

    /** nvme-cli's {@code nvmf_adrfam_str}. */
    static String adrfam(int adrfam) {
        return switch (adrfam) {
            case 1 -> "ipv4";
            case 2 -> "ipv6";
            case 3 -> "infiniband";
            case 4 -> "fibre-channel";
            case 254 -> "intra-host";
            default -> "unrecognized";
        };
    }

    /** nvme-cli's {@code nvmf_subtype_str}. */
    static String subtype(int subtype) {
        return switch (subtype) {
            case 1 -> "discovery subsystem referral";
            case 2 -> "nvme subsystem";
            case 3 -> "current discovery subsystem";
            default -> "unrecognized";
        };
    }

    /** nvme-cli's {@code nvmf_treq_str}: secure channel bits 1:0, then SQ flow control disable (bit 2). */
    static String treq(int treq) {
        String s = switch (treq & 0x3) {
            case 0 -> "not specified";
            case 1 -> "required";
            case 2 -> "not required";
            default -> "reserved";
        };
        return (treq & 0x4) != 0 ? s + ", sq flow control disable supported" : s;
    }
}
