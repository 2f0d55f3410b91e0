package io.nvmpath.target;

import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.target.config.TargetConfig.DhchapHost;
import io.nvmpath.target.config.TargetConfig.SubsystemConfig;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;

/** An NVM subsystem (or the discovery subsystem): namespaces, allowed hosts, live controllers. */
final class Subsystem {
    final String nqn;
    final String serial;
    final String model;
    final String firmware;
    final boolean discovery;
    /** Command Quiesce Time in ms (Identify Controller CQT). */
    final int cqt;
    /** Cross-Controller Reset accepted and reported. */
    final boolean crossControllerReset;
    private final boolean allowAnyHost;
    private final Set<String> hosts;
    /** Hosts that must authenticate (DH-HMAC-CHAP), by host NQN; replaced whole when a key changes. */
    private volatile Map<String, DhchapHost> dhchap;
    final ConcurrentSkipListMap<Integer, Namespace> namespaces = new ConcurrentSkipListMap<>();
    final Set<TargetController> controllers = ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.atomic.AtomicLong reauthentications = new java.util.concurrent.atomic.AtomicLong();
    /** The last controller instances removed (host, CNTLID, CIU, CIRN), most recent last. */
    private final java.util.ArrayDeque<String> removedInstances = new java.util.ArrayDeque<>();
    /** How many removed instances a Cross-Controller Reset may still name. */
    static final int REMEMBERED_INSTANCES = 256;

    /** A controller instance left: a Cross-Controller Reset naming it later finds it reset already. */
    synchronized void instanceRemoved(String hostNqn, int cntlid, int ciu, long cirn) {
        removedInstances.addLast(hostNqn + "|" + cntlid + "|" + ciu + "|" + cirn);
        while (removedInstances.size() > REMEMBERED_INSTANCES) {
            removedInstances.removeFirst();
        }
    }

    /** Whether that instance was removed (recently enough to be remembered). */
    synchronized boolean instanceWasRemoved(String hostNqn, int cntlid, int ciu, long cirn) {
        return removedInstances.contains(hostNqn + "|" + cntlid + "|" + ciu + "|" + cirn);
    }
    private final AtomicInteger nextCntlid = new AtomicInteger(1);

    Subsystem(SubsystemConfig c) {
        this.nqn = c.nqn();
        this.serial = c.serial();
        this.model = c.model();
        this.firmware = c.firmware();
        this.discovery = false;
        this.cqt = c.cqt();
        this.crossControllerReset = c.crossControllerReset();
        this.allowAnyHost = c.allowAnyHost();
        this.hosts = Set.copyOf(c.hosts());
        this.dhchap = c.dhchap();
    }

    private Subsystem(String nqn) {
        this.nqn = nqn;
        this.serial = "NVMPATHDISC";
        this.model = "nvmpath discovery";
        this.firmware = "0.1";
        this.discovery = true;
        this.cqt = 0;
        this.crossControllerReset = false;
        this.allowAnyHost = true;
        this.hosts = Set.of();
        this.dhchap = Map.of();
    }

    static Subsystem discoverySubsystem() {
        return new Subsystem(Opcodes.DISCOVERY_NQN);
    }

    boolean allows(String hostNqn) {
        return allowAnyHost || hosts.contains(hostNqn);
    }

    /** The host's DH-HMAC-CHAP keys, or {@code null} when it connects without authentication. */
    /** A queue of this subsystem completed a re-authentication. */
    void reauthenticated() {
        reauthentications.incrementAndGet();
    }

    long reauthentications() {
        return reauthentications.get();
    }

    DhchapHost dhchap(String hostNqn) {
        return dhchap.get(hostNqn);
    }

    /**
     * Gives {@code hostNqn} new DH-HMAC-CHAP keys ({@code null}: none, it connects without
     * authentication), as writing nvmet's {@code hosts/<nqn>/dhchap_key}: queues authenticated before
     * keep their association; every later transaction uses these.
     */
    synchronized void dhchap(String hostNqn, DhchapHost keys) {
        Map<String, DhchapHost> next = new java.util.HashMap<>(dhchap);
        if (keys == null) {
            next.remove(hostNqn);
        } else {
            next.put(hostNqn, keys);
        }
        dhchap = Map.copyOf(next);
    }

    /** Controller IDs are unique within the subsystem, 1..0xFFEF, reused only after wrapping. */
    int allocateCntlid() {
        while (true) {
            int id = nextCntlid.getAndUpdate(v -> v >= 0xFFEF ? 1 : v + 1);
            boolean used = false;
            for (TargetController c : controllers) {
                if (c.cntlid == id) {
                    used = true;
                    break;
                }
            }
            if (!used) {
                return id;
            }
        }
    }

    List<Integer> nsids() {
        return List.copyOf(namespaces.keySet());
    }
}
