package io.nvmpath.server.gateway;

import java.util.concurrent.CompletableFuture;

/**
 * The changes an operator may make at run time (the HTTP API's POSTs). Bad arguments throw
 * {@link IllegalArgumentException} with a message fit for the caller.
 */
public interface GatewayControl {

    /** Sets the iopolicy of subsystem {@code nqn}: "numa", "round-robin" or "queue-depth". */
    void ioPolicy(String nqn, String policy);

    /**
     * Sets the write failover of subsystem {@code nqn}: "safe" (a write whose path was lost waits until
     * that controller can no longer execute it) or "immediate".
     */
    void writeFailover(String nqn, String mode);

    /** Prefers paths whose name starts with {@code path} (e.g. "127.0.0.1:4420"); null clears. */
    void preferredPath(String nqn, String path);

    /**
     * Adds a portal: a direct controller of {@code subnqn}, or a discovery controller when
     * {@code subnqn} is null. Completes once connected (or fails; it is retried in the background).
     */
    CompletableFuture<Void> addPortal(String traddr, int trsvcid, String subnqn);

    /** Removes a portal and disconnects its controllers; false if there was none. */
    boolean removePortal(String traddr, int trsvcid, String subnqn);

    /**
     * Reads the configuration file again and applies what changed (see {@link Reloader#reload(GatewayConfig)}).
     *
     * @throws io.nvmpath.config.ConfigException when the new configuration is wrong: nothing applied
     * @throws IllegalStateException when the gateway runs without a configuration file
     */
    ReloadResult reload();
}
