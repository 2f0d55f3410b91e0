package io.nvmpath.server.gateway;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Properties;
import java.util.UUID;

/**
 * The host NQN and host ID this gateway connects with. Targets key their host allow-lists and
 * reservations on them, so they must not change across restarts: when the configuration does not
 * give them, they are generated once ({@code nqn.2014-08.org.nvmexpress:uuid:<id>}, as nvme-cli's
 * {@code gen-hostnqn} does) and kept in a state file, as nvme-cli keeps /etc/nvme/hostnqn.
 *
 * @param nqn the host NQN
 * @param id the host ID
 */
public record HostIdentity(String nqn, UUID id) {
    private static final Logger log = LoggerFactory.getLogger(HostIdentity.class);

    /** Environment variable naming the state directory (the image sets /var/lib/nvmpath). */
    public static final String STATE_DIR_ENV = "NVMPATH_STATE_DIR";

    /**
     * Where the state file goes when the configuration does not say: {@code $NVMPATH_STATE_DIR}, else
     * systemd's {@code $STATE_DIRECTORY} (a unit's {@code StateDirectory=}), else /var/lib/nvmpath
     * when writable (root), else ~/.local/state/nvmpath.
     */
    public static Path defaultStateFile() {
        return defaultStateFile(System.getenv());
    }

    static Path defaultStateFile(java.util.Map<String, String> env) {
        String dir = env.get(STATE_DIR_ENV);
        if (dir == null || dir.isBlank()) {
            String systemd = env.get("STATE_DIRECTORY"); // colon-separated when a unit names several
            dir = systemd == null ? null : systemd.split(":", 2)[0];
        }
        if (dir != null && !dir.isBlank()) {
            return Path.of(dir.trim(), "host.properties");
        }
        Path system = Path.of("/var/lib/nvmpath/host.properties");
        if (Files.isWritable(system) || Files.isWritable(system.getParent())
                || (!Files.exists(system.getParent()) && Files.isWritable(system.getParent().getParent()))) {
            return system;
        }
        return Path.of(System.getProperty("user.home"), ".local", "state", "nvmpath", "host.properties");
    }

    /**
     * The identity: configured values first, then the state file's; what is still missing is
     * generated and written to the state file (atomically, by rename).
     */
    public static HostIdentity resolve(String configuredNqn, String configuredId, Path stateFile) {
        if (configuredNqn != null && configuredId != null) {
            return new HostIdentity(configuredNqn.trim(), UUID.fromString(configuredId.trim()));
        }
        Properties p = new Properties();
        if (Files.exists(stateFile)) {
            try (Reader r = Files.newBufferedReader(stateFile, StandardCharsets.UTF_8)) {
                p.load(r);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read host state file " + stateFile, e);
            }
        }
        String idText = p.getProperty("hostid");
        UUID stateId;
        try {
            stateId = idText == null ? UUID.randomUUID() : UUID.fromString(idText.trim());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(stateFile + ": hostid \"" + idText + "\" is not a UUID");
        }
        String stateNqn = p.getProperty("hostnqn");
        if (stateNqn == null) {
            stateNqn = "nqn.2014-08.org.nvmexpress:uuid:" + stateId;
        }
        if (idText == null || p.getProperty("hostnqn") == null) {
            store(stateFile, stateNqn.trim(), stateId);
        }
        return new HostIdentity(configuredNqn != null ? configuredNqn.trim() : stateNqn.trim(),
                configuredId != null ? UUID.fromString(configuredId.trim()) : stateId);
    }

    private static void store(Path file, String nqn, UUID id) {
        Properties p = new Properties();
        p.setProperty("hostnqn", nqn);
        p.setProperty("hostid", id.toString());
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                p.store(w, "nvmpath host identity: keep it, targets know this host by it");
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            log.info("host identity {} / {} kept in {}", nqn, id, file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write host state file " + file, e);
        }
    }
}
