package io.nvmpath.it.guest;

import java.nio.file.Path;

/**
 * Which build of the QEMU guest to boot: a Debian suite's kernel and user space, each built by
 * {@code it-tests/guest/setup.sh} into its own cache folder.
 */
public enum GuestFlavour {

    /** Debian 12, kernel 6.1: the default, what every guest test used before flavours existed. */
    BOOKWORM("bookworm", Peers.CACHE_ENV, Peers.DEFAULT_CACHE, "it-tests/guest/setup.sh"),
    /**
     * Debian 13, kernel 6.12: NVMe in-band authentication (DH-HMAC-CHAP) and NVMe/TCP TLS in
     * both the host and the target, nvme-cli 2.13, tlshd and keyctl.
     */
    TRIXIE("trixie", "NVMP_GUEST_TRIXIE_CACHE", "/var/cache/nvmpath-guest-trixie",
            "GUEST_FLAVOUR=trixie it-tests/guest/setup.sh");

    private final String suite;
    private final String cacheEnv;
    private final String defaultCache;
    private final String setupCommand;

    GuestFlavour(String suite, String cacheEnv, String defaultCache, String setupCommand) {
        this.suite = suite;
        this.cacheEnv = cacheEnv;
        this.defaultCache = defaultCache;
        this.setupCommand = setupCommand;
    }

    /** The Debian suite ("bookworm", "trixie"), also setup.sh's flavour name. */
    public String suite() {
        return suite;
    }

    /** The environment variable that overrides the cache folder of this flavour. */
    public String cacheEnv() {
        return cacheEnv;
    }

    /** The cache folder: {@link #cacheEnv()} if set, else this flavour's default (setup.sh's). */
    public Path cache() {
        String env = System.getenv(cacheEnv);
        return Path.of(env != null && !env.isBlank() ? env : defaultCache);
    }

    /** The command that builds this flavour, for messages. */
    public String setupCommand() {
        return setupCommand;
    }
}
