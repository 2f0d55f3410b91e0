package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.TargetView;
import io.nvmpath.target.admin.AdminServer;
import io.nvmpath.target.admin.TargetJson;
import io.nvmpath.target.config.TargetConfig;
import io.nvmpath.target.config.TargetConfig.ListenConfig;
import io.nvmpath.target.config.TargetConfig.PortConfig;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** What {@code nvmpath target} runs: an {@link NvmeTarget}, and its {@link AdminServer} when configured. */
final class RunningTarget implements AutoCloseable {
    private final NvmeTarget target;
    private final AdminServer admin;
    private boolean closed;

    private RunningTarget(NvmeTarget target, AdminServer admin) {
        this.target = target;
        this.admin = admin;
    }

    /**
     * Starts both. Every configured listener is tried first, so that a taken port fails with its
     * address before anything starts (the target's own bind failure does not name it).
     *
     * @throws Failures.CliException when a listener cannot be bound
     */
    static RunningTarget start(TargetConfig config) throws IOException, InterruptedException {
        checkListenersFree(config);
        NvmeTarget target;
        try {
            target = NvmeTarget.start(config);
        } catch (BindException e) {
            // taken between the check and the start
            throw new Failures.CliException("cannot listen on the target's ports: " + Failures.message(e), e);
        }
        try {
            AdminServer admin = config.admin() == null ? null : AdminServer.start(target);
            return new RunningTarget(target, admin);
        } catch (BindException e) {
            target.close();
            throw new Failures.CliException(e.getMessage(), e);
        } catch (IOException | InterruptedException | RuntimeException e) {
            target.close();
            throw e;
        }
    }

    /** Binds and closes each configured address with a fixed port, as the target and admin endpoint will. */
    private static void checkListenersFree(TargetConfig config) {
        List<ListenConfig> listeners = new ArrayList<>();
        config.ports().forEach(p -> listeners.add(new ListenConfig(p.address(), p.port())));
        if (config.discovery() != null) {
            listeners.add(config.discovery());
        }
        if (config.admin() != null) {
            listeners.add(config.admin());
        }
        for (ListenConfig l : listeners) {
            if (l.port() == 0) {
                continue;
            }
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress(l.address(), l.port()));
            } catch (IOException e) {
                throw new Failures.CliException("cannot listen on " + hostPort(l.address(), l.port()) + ": "
                        + Failures.message(e), e);
            }
        }
    }

    NvmeTarget target() {
        return target;
    }

    /** The admin endpoint, or {@code null} when the configuration has none. */
    AdminServer admin() {
        return admin;
    }

    /** One line per port, the discovery port and the admin URL; the JSON of the admin API plus {@code admin}. */
    Report report() {
        String nl = System.lineSeparator();
        StringBuilder text = new StringBuilder();
        for (TargetView.Port p : target.ports()) {
            text.append("port ").append(p.id()).append(": ").append(hostPort(p.address(), p.port()));
            String advertise = advertise(p.id());
            if (advertise != null && !advertise.equals(p.address())) {
                text.append(" (advertised as ").append(advertise).append(')');
            }
            text.append(' ').append(String.join(", ", p.subsystems()));
            if (!p.anaStates().isEmpty()) {
                text.append(", ANA ").append(ana(p.anaStates()));
            }
            text.append(nl);
        }
        if (target.discoveryPort() >= 0) {
            text.append("discovery: ").append(hostPort(target.config().discovery().address(), target.discoveryPort()))
                    .append(nl);
        }
        text.append("admin: ").append(admin == null ? "none" : admin.uri().toString()).append(nl);
        ObjectNode json = TargetJson.target(target);
        json.put("admin", admin == null ? null : admin.uri().toString());
        return new Report(json, text.toString());
    }

    private String advertise(int portId) {
        return target.config().ports().stream().filter(p -> p.id() == portId).map(PortConfig::advertise)
                .filter(a -> a != null).findFirst().orElse(null);
    }

    /** {@code group 1 optimized, group 2 inaccessible}. */
    static String ana(Map<Integer, AnaState> states) {
        return states.entrySet().stream().map(e -> "group " + e.getKey() + " " + e.getValue().label())
                .collect(Collectors.joining(", "));
    }

    static String hostPort(String address, int port) {
        return (address.indexOf(':') >= 0 ? "[" + address + "]" : address) + ":" + port;
    }

    /** Stops the admin endpoint, then the target; idempotent, and safe from a shutdown hook. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (admin != null) {
                admin.close();
            }
        } finally {
            target.close();
        }
    }
}
