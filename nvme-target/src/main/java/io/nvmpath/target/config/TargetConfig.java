package io.nvmpath.target.config;

import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.DhGroup;
import io.nvmpath.fabric.auth.DhchapSecret;

import io.nvmpath.config.ConfigException;
import io.nvmpath.fabric.nvme.AnaState;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Everything a target serves: subsystems with their namespaces, ports with their ANA states, the
 * discovery port and the transport limits. Immutable; {@link #validate()} names the first field
 * that is wrong, in the YAML's own terms ({@code subsystems[0].namespaces[1].size}).
 *
 * @param subsystems the NVM subsystems
 * @param ports the TCP ports, each linked to subsystems by NQN
 * @param discovery the discovery port, or {@code null} for none (every port still answers discovery)
 * @param limits transport and command limits advertised to hosts
 * @param admin the HTTP admin endpoint, or {@code null} for none
 * @param anatt ANA transition time in seconds (Identify Controller ANATT)
 */
public record TargetConfig(List<SubsystemConfig> subsystems, List<PortConfig> ports, ListenConfig discovery,
                           Limits limits, ListenConfig admin, int anatt) {

    /** The demo subsystem's NQN. */
    public static final String DEMO_NQN = "nqn.2026-11.io.nvmpath:demo";
    /** Default port of the HTTP admin endpoint (loopback only unless configured). */
    public static final int DEFAULT_ADMIN_PORT = 8091;

    public TargetConfig {
        subsystems = List.copyOf(subsystems);
        ports = List.copyOf(ports);
        limits = limits == null ? Limits.DEFAULTS : limits;
    }

    /**
     * @param nqn subsystem NQN
     * @param serial Identify Controller SN (at most 20 ASCII characters)
     * @param model Identify Controller MN (at most 40)
     * @param firmware Identify Controller FR (at most 8)
     * @param allowAnyHost accept every host NQN
     * @param hosts host NQNs allowed when not {@code allowAnyHost}
     * @param namespaces the namespaces
     * @param cqt Command Quiesce Time in milliseconds (Identify Controller CQT, TP4129): how long after
     *            a lost host's keep-alive timeout its controller may still execute what it holds;
     *            0 (the default, as Linux nvmet) reports none and stops at once
     * @param crossControllerReset accept Cross-Controller Reset (TP8028, admin 38h) and report it
     *                             (CCRL, the completion notice); default true
     */
    public record SubsystemConfig(String nqn, String serial, String model, String firmware, boolean allowAnyHost,
                                  List<String> hosts, List<NamespaceConfig> namespaces, int cqt,
                                  boolean crossControllerReset, Map<String, DhchapHost> dhchap) {
        /** Largest CQT: the field is 16 bits of milliseconds. */
        public static final int MAX_CQT = 0xFFFF;

        public SubsystemConfig {
            hosts = hosts == null ? List.of() : List.copyOf(hosts);
            namespaces = namespaces == null ? List.of() : List.copyOf(namespaces);
            dhchap = dhchap == null ? Map.of() : Map.copyOf(dhchap);
        }

        /** A subsystem whose hosts connect without in-band authentication. */
        public SubsystemConfig(String nqn, String serial, String model, String firmware, boolean allowAnyHost,
                               List<String> hosts, List<NamespaceConfig> namespaces, int cqt,
                               boolean crossControllerReset) {
            this(nqn, serial, model, firmware, allowAnyHost, hosts, namespaces, cqt, crossControllerReset, Map.of());
        }

        /** A subsystem with the defaults of the newer keys: CQT 0, Cross-Controller Reset on. */
        public SubsystemConfig(String nqn, String serial, String model, String firmware, boolean allowAnyHost,
                               List<String> hosts, List<NamespaceConfig> namespaces) {
            this(nqn, serial, model, firmware, allowAnyHost, hosts, namespaces, 0, true);
        }

        /** This subsystem with another Command Quiesce Time. */
        public SubsystemConfig withCqt(int millis) {
            return new SubsystemConfig(nqn, serial, model, firmware, allowAnyHost, hosts, namespaces, millis,
                    crossControllerReset, dhchap);
        }

        /** This subsystem with Cross-Controller Reset on or off. */
        public SubsystemConfig withCrossControllerReset(boolean on) {
            return new SubsystemConfig(nqn, serial, model, firmware, allowAnyHost, hosts, namespaces, cqt, on,
                    dhchap);
        }

        /** This subsystem with DH-HMAC-CHAP keys for some hosts (host NQN to its keys). */
        public SubsystemConfig withDhchap(Map<String, DhchapHost> keys) {
            return new SubsystemConfig(nqn, serial, model, firmware, allowAnyHost, hosts, namespaces, cqt,
                    crossControllerReset, keys);
        }
    }

    /**
     * The in-band authentication of one host on one subsystem, as nvmet's configfs
     * {@code hosts/<nqn>/dhchap_key}, {@code dhchap_ctrl_key}, {@code dhchap_hash} and
     * {@code dhchap_dhgroup}: a host with a key must authenticate on every queue (Connect answers
     * AUTHREQ ATR) before any other command than the Fabrics ones is accepted.
     *
     * @param hostKey the host's secret, which the host's response R1 must prove
     * @param ctrlKey the controller's secret, for the response R2 to a host that challenges the
     *                controller (bidirectional authentication); {@code null} for none
     * @param hash the HMAC the controller chooses when the host offers it (nvmet's default SHA-256)
     * @param dhGroup the DH group the controller chooses when the host offers it (nvmet's default null)
     */
    public record DhchapHost(DhchapSecret hostKey, DhchapSecret ctrlKey, AuthHash hash, DhGroup dhGroup) {
        public DhchapHost {
            java.util.Objects.requireNonNull(hostKey, "hostKey");
            hash = hash == null ? AuthHash.SHA256 : hash;
            dhGroup = dhGroup == null ? DhGroup.NULL : dhGroup;
        }
    }

    /**
     * @param nsid namespace ID (1..1024)
     * @param sizeBytes capacity; for a memory namespace required, for a file its size if it must be created
     * @param path backing file or block device; {@code null} for a sparse memory namespace
     * @param lbaSize 512 or 4096
     * @param anaGroup the ANA group (1..128)
     * @param nguid 32 hex digits, or {@code null} to derive it from the subsystem NQN and NSID
     * @param eui64 16 hex digits, or {@code null} to derive it
     * @param uuid RFC 4122 text, or {@code null} to derive it
     * @param readOnly writes fail with Attempted Write to Read Only Range... (not used by the demo)
     */
    public record NamespaceConfig(int nsid, long sizeBytes, String path, int lbaSize, int anaGroup, String nguid,
                                  String eui64, String uuid, boolean readOnly) {
    }

    /**
     * @param id port ID (PORTID in the discovery log), unique
     * @param address address to bind
     * @param port TCP port to bind; 0 picks a free one (tests)
     * @param advertise TRADDR put in the discovery log; {@code null} means {@code address}
     * @param subsystems NQNs of the subsystems reachable through this port
     * @param anaStates state per ANA group through this port; groups not listed are optimized
     * @param tlsPsk the configured PSK of NVMe/TCP TLS on this port ({@code addr_tsas=tls1.3}): every
     *               connection must complete a TLS 1.3 handshake under one of its identities for a
     *               subsystem of the port, and then Connect as that identity's host; {@code null}: plain TCP
     */
    public record PortConfig(int id, String address, int port, String advertise, List<String> subsystems,
                             Map<Integer, AnaState> anaStates, io.nvmpath.fabric.auth.TlsPsk tlsPsk) {
        public PortConfig {
            subsystems = List.copyOf(subsystems);
            anaStates = anaStates == null ? Map.of() : Map.copyOf(anaStates);
        }

        /** A plain TCP port. */
        public PortConfig(int id, String address, int port, String advertise, List<String> subsystems,
                          Map<Integer, AnaState> anaStates) {
            this(id, address, port, advertise, subsystems, anaStates, null);
        }

        /** This port with TLS under {@code psk} ({@code null}: plain TCP). */
        public PortConfig withTls(io.nvmpath.fabric.auth.TlsPsk psk) {
            return new PortConfig(id, address, port, advertise, subsystems, anaStates, psk);
        }

        /** The ANA state of {@code group} through this port as configured. */
        public AnaState anaState(int group) {
            return anaStates.getOrDefault(group, AnaState.OPTIMIZED);
        }
    }

    /** A listening address; port 0 picks a free one. */
    public record ListenConfig(String address, int port) {
    }

    /**
     * @param mdts maximum data transfer size as a power of two of 4 KiB pages (0 = unlimited)
     * @param inCapsuleDataSize in-capsule data an I/O command may carry (IOCCSZ = 4 + this / 16)
     * @param maxH2CData MAXH2CDATA in ICResp
     * @param ioQueueSize entries per I/O queue (CAP.MQES + 1)
     * @param maxIoQueues I/O queues per controller
     * @param headerDigest allow header digests when a host asks
     * @param dataDigest allow data digests when a host asks
     */
    public record Limits(int mdts, int inCapsuleDataSize, int maxH2CData, int ioQueueSize, int maxIoQueues,
                         boolean headerDigest, boolean dataDigest) {
        public static final Limits DEFAULTS = new Limits(8, 8192, 131072, 128, 8, true, true);
    }

    /**
     * The embedded default: subsystem {@value #DEMO_NQN} with one 1 GiB memory namespace in ANA
     * group 1; ports {@code port1} (optimized) and {@code port2} (non-optimized); discovery on
     * {@code discoveryPort}; admin on {@code adminPort}; everything on 127.0.0.1.
     */
    public static TargetConfig demo(int port1, int port2, int discoveryPort, int adminPort) {
        NamespaceConfig ns = new NamespaceConfig(1, 1L << 30, null, 512, 1, null, null, null, false);
        SubsystemConfig sub = new SubsystemConfig(DEMO_NQN, "NVMPATH0001", "nvmpath demo target", "0.1", true,
                List.of(), List.of(ns));
        PortConfig p1 = new PortConfig(1, "127.0.0.1", port1, null, List.of(DEMO_NQN), Map.of(1, AnaState.OPTIMIZED));
        PortConfig p2 = new PortConfig(2, "127.0.0.1", port2, null, List.of(DEMO_NQN),
                Map.of(1, AnaState.NON_OPTIMIZED));
        return new TargetConfig(List.of(sub), List.of(p1, p2), new ListenConfig("127.0.0.1", discoveryPort),
                Limits.DEFAULTS, new ListenConfig("127.0.0.1", adminPort), 10);
    }

    /** The demo on the well-known ports: 4420, 4421, discovery 8009, admin {@value #DEFAULT_ADMIN_PORT}. */
    public static TargetConfig demo() {
        return demo(4420, 4421, 8009, DEFAULT_ADMIN_PORT);
    }

    /** Checks the whole configuration; throws {@link ConfigException} naming the first wrong field. */
    public TargetConfig validate() {
        if (subsystems.isEmpty()) {
            throw new ConfigException("subsystems", "at least one subsystem is needed");
        }
        Map<String, SubsystemConfig> byNqn = new TreeMap<>();
        for (int i = 0; i < subsystems.size(); i++) {
            SubsystemConfig s = subsystems.get(i);
            String at = "subsystems[" + i + "]";
            requireNqn(s.nqn(), at + ".nqn");
            if (byNqn.put(s.nqn(), s) != null) {
                throw new ConfigException(at + ".nqn", "duplicate subsystem " + s.nqn());
            }
            requireAscii(s.serial(), 20, at + ".serial");
            requireAscii(s.model(), 40, at + ".model");
            requireAscii(s.firmware(), 8, at + ".firmware");
            if (!s.allowAnyHost() && s.hosts().isEmpty()) {
                throw new ConfigException(at + ".hosts", "no host may connect: list host NQNs or set allowAnyHost");
            }
            if (s.cqt() < 0 || s.cqt() > SubsystemConfig.MAX_CQT) {
                throw new ConfigException(at + ".cqt", "must be 0.." + SubsystemConfig.MAX_CQT
                        + " milliseconds (Identify Controller CQT is 16 bits), not " + s.cqt());
            }
            for (int h = 0; h < s.hosts().size(); h++) {
                requireNqn(s.hosts().get(h), at + ".hosts[" + h + "]");
            }
            for (String host : s.dhchap().keySet()) {
                if (!s.allowAnyHost() && !s.hosts().contains(host)) {
                    throw new ConfigException(at + ".hosts", "DH-HMAC-CHAP keys for " + host
                            + ", which is not an allowed host");
                }
            }
            List<Integer> seen = new ArrayList<>();
            for (int n = 0; n < s.namespaces().size(); n++) {
                NamespaceConfig ns = s.namespaces().get(n);
                String nat = at + ".namespaces[" + n + "]";
                if (ns.nsid() < 1 || ns.nsid() > 1024) {
                    throw new ConfigException(nat + ".nsid", "must be 1..1024, not " + ns.nsid());
                }
                if (seen.contains(ns.nsid())) {
                    throw new ConfigException(nat + ".nsid", "duplicate NSID " + ns.nsid());
                }
                seen.add(ns.nsid());
                if (ns.lbaSize() != 512 && ns.lbaSize() != 4096) {
                    throw new ConfigException(nat + ".lbaSize", "must be 512 or 4096, not " + ns.lbaSize());
                }
                if (ns.path() == null && ns.sizeBytes() <= 0) {
                    throw new ConfigException(nat + ".size", "a memory namespace needs a size");
                }
                if (ns.sizeBytes() < 0 || ns.sizeBytes() % ns.lbaSize() != 0) {
                    throw new ConfigException(nat + ".size", "must be a multiple of lbaSize " + ns.lbaSize());
                }
                if (ns.anaGroup() < 1 || ns.anaGroup() > 128) {
                    throw new ConfigException(nat + ".anaGroup", "must be 1..128, not " + ns.anaGroup());
                }
                requireHex(ns.nguid(), 32, nat + ".nguid");
                requireHex(ns.eui64(), 16, nat + ".eui64");
                if (ns.uuid() != null) {
                    try {
                        java.util.UUID.fromString(ns.uuid());
                    } catch (IllegalArgumentException e) {
                        throw new ConfigException(nat + ".uuid", "not a UUID: " + ns.uuid());
                    }
                }
            }
        }
        if (ports.isEmpty()) {
            throw new ConfigException("ports", "at least one port is needed");
        }
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < ports.size(); i++) {
            PortConfig p = ports.get(i);
            String at = "ports[" + i + "]";
            if (p.id() < 1 || p.id() > 65535 || ids.contains(p.id())) {
                throw new ConfigException(at + ".id", "must be a unique 1..65535, not " + p.id());
            }
            ids.add(p.id());
            if (p.address() == null || p.address().isBlank()) {
                throw new ConfigException(at + ".address", "missing");
            }
            if (p.port() < 0 || p.port() > 65535) {
                throw new ConfigException(at + ".port", "must be 0..65535, not " + p.port());
            }
            for (int s = 0; s < p.subsystems().size(); s++) {
                if (!byNqn.containsKey(p.subsystems().get(s))) {
                    throw new ConfigException(at + ".subsystems[" + s + "]", "no subsystem " + p.subsystems().get(s));
                }
            }
            for (Map.Entry<Integer, AnaState> e : p.anaStates().entrySet()) {
                if (e.getKey() < 1 || e.getKey() > 128) {
                    throw new ConfigException(at + ".anaStates", "group must be 1..128, not " + e.getKey());
                }
                if (e.getValue() == null) {
                    throw new ConfigException(at + ".anaStates." + e.getKey(), "unknown ANA state");
                }
            }
        }
        Limits l = limits;
        if (l.mdts() < 0 || l.mdts() > 16) {
            throw new ConfigException("limits.mdts", "must be 0..16, not " + l.mdts());
        }
        if (l.inCapsuleDataSize() < 0 || l.inCapsuleDataSize() % 16 != 0 || l.inCapsuleDataSize() > 1 << 20) {
            throw new ConfigException("limits.inCapsuleDataSize", "must be a multiple of 16 up to 1 MiB");
        }
        if (l.maxH2CData() < 4096 || l.maxH2CData() % 4 != 0) {
            throw new ConfigException("limits.maxH2CData", "must be at least 4096 and a multiple of 4");
        }
        if (l.ioQueueSize() < 2 || l.ioQueueSize() > 4096) {
            throw new ConfigException("limits.ioQueueSize", "must be 2..4096");
        }
        if (l.maxIoQueues() < 1 || l.maxIoQueues() > 64) {
            throw new ConfigException("limits.maxIoQueues", "must be 1..64");
        }
        if (anatt < 1 || anatt > 255) {
            throw new ConfigException("anatt", "must be 1..255 seconds");
        }
        return this;
    }

    private static void requireNqn(String nqn, String field) {
        if (nqn == null || nqn.isBlank()) {
            throw new ConfigException(field, "missing");
        }
        if (nqn.length() > 223 || !nqn.startsWith("nqn.")) {
            throw new ConfigException(field, "not an NQN (nqn.yyyy-mm.reverse.domain:..., at most 223 bytes): " + nqn);
        }
    }

    private static void requireAscii(String s, int max, String field) {
        Objects.requireNonNull(field);
        if (s == null || s.isEmpty() || s.length() > max || !s.chars().allMatch(c -> c >= 0x20 && c < 0x7F)) {
            throw new ConfigException(field, "must be 1.." + max + " printable ASCII characters");
        }
    }

    private static void requireHex(String s, int digits, String field) {
        if (s != null && !s.replace("-", "").matches("[0-9a-fA-F]{" + digits + "}")) {
            throw new ConfigException(field, "must be " + digits + " hex digits");
        }
    }
}
