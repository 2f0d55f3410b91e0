package io.nvmpath.it.guest;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Decides whether the QEMU guest peer can be used, and where its files are.
 *
 * <p>The guest is available when {@code it-tests/guest/setup.sh} has built the cache (its
 * {@code initramfs.img} and a kernel, {@code vmlinux} or {@code vmlinuz}, exist) and
 * {@code qemu-system-x86_64} and {@code socat} are on the {@code PATH}. When it is not, a test
 * calling {@link #assumeGuest()} is skipped, or fails when the system property
 * {@value #REQUIRE_PEERS} is {@code "true"} (CI sets it, so a broken set-up cannot pass as
 * "all skipped").
 *
 * <p>Each {@link GuestFlavour} has its own cache: {@link #assumeGuest()} asks for the default
 * (bookworm, kernel 6.1), {@link #assumeTrixieGuest()} for the trixie build (kernel 6.12).
 */
public final class Peers {

    /** System property: "true" turns a missing peer into a test failure instead of a skip. */
    public static final String REQUIRE_PEERS = "nvmpath.it.requirePeers";
    /** System property: the guest folder (failsafe sets it to {@code ${project.basedir}/guest}). */
    public static final String GUEST_DIR = "nvmpath.guest.dir";
    /** Environment variable shared with setup.sh and run.sh: the guest cache folder. */
    public static final String CACHE_ENV = "NVMP_GUEST_CACHE";
    /** The cache folder when {@value #CACHE_ENV} is not set (the same default as setup.sh). */
    public static final String DEFAULT_CACHE = "/var/cache/nvmpath-guest";

    private Peers() {
    }

    /** Whether a missing peer must fail the test: system property {@value #REQUIRE_PEERS}, or CI=true. */
    public static boolean required() {
        return Boolean.parseBoolean(System.getProperty(REQUIRE_PEERS, "false").trim())
                || "true".equalsIgnoreCase(System.getenv("CI"));
    }

    /**
     * The guest folder ({@code it-tests/guest}): the system property {@value #GUEST_DIR}, else
     * {@code guest} or {@code it-tests/guest} under the working directory or one of its parents.
     *
     * @throws IllegalStateException when no folder with a run.sh is found
     */
    public static Path guestDir() {
        return findGuestDir().orElseThrow(() -> new IllegalStateException(
                "cannot find the it-tests/guest folder (set -D" + GUEST_DIR + "=...; working directory "
                        + Path.of("").toAbsolutePath() + ")"));
    }

    private static Optional<Path> findGuestDir() {
        String prop = System.getProperty(GUEST_DIR);
        if (prop != null && !prop.isBlank()) {
            Path p = Path.of(prop.trim()).toAbsolutePath().normalize();
            return Files.isRegularFile(p.resolve("run.sh")) ? Optional.of(p) : Optional.empty();
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            for (Path candidate : new Path[] {dir.resolve("it-tests").resolve("guest"), dir.resolve("guest")}) {
                if (Files.isRegularFile(candidate.resolve("run.sh"))
                        && Files.isRegularFile(candidate.resolve("setup.sh"))) {
                    return Optional.of(candidate.normalize());
                }
            }
        }
        return Optional.empty();
    }

    /** The default guest's cache folder: {@code $NVMP_GUEST_CACHE}, else {@value #DEFAULT_CACHE}. */
    public static Path guestCache() {
        return GuestFlavour.BOOKWORM.cache();
    }

    /** Why the default guest cannot be used, or empty when it can. */
    public static Optional<String> guestUnavailableReason() {
        return guestUnavailableReason(GuestFlavour.BOOKWORM);
    }

    /** Why a guest of {@code flavour} cannot be used, or empty when it can. */
    public static Optional<String> guestUnavailableReason(GuestFlavour flavour) {
        Optional<Path> dir = findGuestDir();
        if (dir.isEmpty()) {
            String prop = System.getProperty(GUEST_DIR);
            return Optional.of(prop != null && !prop.isBlank()
                    ? "no run.sh in " + GUEST_DIR + "=" + prop
                    : "it-tests/guest not found from " + Path.of("").toAbsolutePath());
        }
        if (findOnPath("qemu-system-x86_64").isEmpty()) {
            return Optional.of("qemu-system-x86_64 missing");
        }
        if (findOnPath("socat").isEmpty()) {
            return Optional.of("socat missing");
        }
        Path cache = flavour.cache();
        if (!Files.isRegularFile(cache.resolve("initramfs.img"))) {
            return Optional.of("no " + cache.resolve("initramfs.img"));
        }
        if (!Files.isRegularFile(cache.resolve("vmlinux")) && !Files.isRegularFile(cache.resolve("vmlinuz"))) {
            return Optional.of("no kernel (vmlinux or vmlinuz) in " + cache);
        }
        return Optional.empty();
    }

    /** Whether the guest can be used. */
    public static boolean guestAvailable() {
        return guestUnavailableReason().isEmpty();
    }

    /**
     * Skips the calling test (JUnit assumption) when the default guest cannot be used, or fails it
     * when {@value #REQUIRE_PEERS} is "true". The message names the cause and the remedy.
     */
    public static void assumeGuest() {
        assumeGuest(GuestFlavour.BOOKWORM);
    }

    /** {@link #assumeGuest()} for the trixie guest (kernel 6.12, NVMe authentication and TLS). */
    public static void assumeTrixieGuest() {
        assumeGuest(GuestFlavour.TRIXIE);
    }

    /** {@link #assumeGuest()} for a guest of {@code flavour}. */
    public static void assumeGuest(GuestFlavour flavour) {
        Optional<String> why = guestUnavailableReason(flavour);
        if (why.isEmpty()) {
            return;
        }
        String which = flavour == GuestFlavour.BOOKWORM ? "" : " (" + flavour.suite() + ")";
        String message = "QEMU guest" + which + " not set up: run " + flavour.setupCommand() + " (" + why.get() + ")";
        if (required()) {
            Assertions.fail(message + " [" + REQUIRE_PEERS + "=true]");
        }
        Assumptions.assumeTrue(false, message);
    }

    /**
     * Skips the calling test when a host tool (nbdinfo, fio, prometheus...) is missing, or fails it
     * when peers are required. {@code .ci/run} installs them from Debian's packages.
     *
     * @param toolsAndPackages pairs: executable name, Debian package
     */
    public static void assumeTools(String... toolsAndPackages) {
        for (int i = 0; i < toolsAndPackages.length; i += 2) {
            if (findOnPath(toolsAndPackages[i]).isEmpty()) {
                String message = toolsAndPackages[i] + " missing: apt-get install " + toolsAndPackages[i + 1]
                        + " (.ci/run does)";
                if (required()) {
                    Assertions.fail(message + " [" + REQUIRE_PEERS + "=true]");
                }
                Assumptions.assumeTrue(false, message);
            }
        }
    }

    /**
     * The {@code bin/nvmpath} launcher: system property {@code nvmpath.launcher} (failsafe sets it),
     * else {@code ../bin/nvmpath} from the it-tests folder.
     */
    public static String launcher() {
        String p = System.getProperty("nvmpath.launcher");
        return (p != null ? Path.of(p) : Path.of("..", "bin", "nvmpath")).toAbsolutePath().toString();
    }

    /** The first executable called {@code name} on the PATH. */
    static Optional<Path> findOnPath(String name) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path p = Path.of(dir, name);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
