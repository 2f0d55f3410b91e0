package io.nvmpath.server.tls;

import io.netty.handler.ssl.SslContext;
import io.nvmpath.fabric.log.WarnLimiter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The server TLS context of a set of PEM files, followed as they change: certificates are rotated
 * (cert-manager, a Kubernetes Secret update swapping its symlinks, an operator's {@code cp}) without a
 * restart. The files' contents are compared every {@code period}; when they differ and load (the key
 * matching the certificate), new TLS sessions get the new context, while established sessions carry
 * on with the one they negotiated. Files caught half-written, or wrong, leave the current context in
 * place and are warned about (at most once a minute) until they load.
 *
 * <p>Contents, not modification times, are compared: a Secret update replaces a symlink, and a copy
 * can keep the old time.
 */
public final class ReloadingTlsContext implements Supplier<SslContext>, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ReloadingTlsContext.class);

    /** How often the gateway's TLS files are compared with what was loaded (certificate rotation). */
    public static final Duration WATCH_PERIOD = Duration.ofSeconds(2);

    private final String what;
    private final List<Path> files;
    private final Loader loader;
    private final io.netty.handler.ssl.ClientAuth clientAuth;
    private final WarnLimiter warnings = new WarnLimiter(log, TimeUnit.MINUTES.toNanos(1));
    private final ScheduledExecutorService watcher;
    private volatile SslContext current;
    private byte[] fingerprint;
    private byte[] failedFingerprint;

    /** Loads the context from the files, or says why it cannot. */
    @FunctionalInterface
    public interface Loader {
        TlsMaterial load() throws TlsMaterialException;
    }

    /**
     * Loads the files now (failing as {@link TlsMaterial#load} does) and then every {@code period}.
     *
     * @param what what the context serves, for log lines ("NBD")
     * @param files every file the context is made of (null entries are ignored)
     */
    public ReloadingTlsContext(String what, List<Path> files, Loader loader, Duration period)
            throws TlsMaterialException, SSLException {
        this(what, files, loader, period, io.netty.handler.ssl.ClientAuth.REQUIRE);
    }

    /** As the other constructor; client certificates (when the files give client CAs) asked for as {@code clientAuth} says. */
    public ReloadingTlsContext(String what, List<Path> files, Loader loader, Duration period,
                               io.netty.handler.ssl.ClientAuth clientAuth) throws TlsMaterialException, SSLException {
        this.what = what;
        this.files = files.stream().filter(Objects::nonNull).toList();
        this.loader = loader;
        this.clientAuth = clientAuth;
        this.fingerprint = fingerprint();
        TlsMaterial m = loader.load();
        this.current = m.serverContext(clientAuth);
        log.info("{} TLS: {}", what, m.describe());
        this.watcher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "nvmpath-tls-watch");
            t.setDaemon(true);
            return t;
        });
        long ms = Math.max(100, period.toMillis());
        watcher.scheduleWithFixedDelay(this::check, ms, ms, TimeUnit.MILLISECONDS);
    }

    /**
     * The gateway's one way to a TLS context, for NBD and HTTP alike: the PEM files loaded now (see
     * {@link TlsMaterial} for the forms read), then followed every {@link #WATCH_PERIOD}.
     *
     * @param field the configuration field the files come from ({@code nbd.tls}); its first part, upper
     *              case, names the context in log lines ({@code NBD TLS: ...})
     * @param keyPassphrase the file holding the key's passphrase, or null
     * @param clientCa client certificates are verified against these CAs; null: none asked for
     * @throws IOException naming {@code field} when the files cannot be used
     */
    public static ReloadingTlsContext watch(String field, Path certificate, Path key, Path keyPassphrase, Path clientCa,
                                            io.netty.handler.ssl.ClientAuth clientAuth) throws IOException {
        String what = (field.indexOf('.') < 0 ? field : field.substring(0, field.indexOf('.'))).toUpperCase(
                java.util.Locale.ROOT);
        try {
            return new ReloadingTlsContext(what, Arrays.asList(certificate, key, keyPassphrase, clientCa),
                    () -> TlsMaterial.load(certificate, key, keyPassphrase, clientCa), WATCH_PERIOD, clientAuth);
        } catch (TlsMaterialException e) {
            throw new IOException(field + ": " + e.getMessage(), e);
        }
    }

    @Override
    public SslContext get() {
        return current;
    }

    /** Compares the files with what was loaded, and loads them when they changed. */
    synchronized void check() {
        byte[] now = fingerprint();
        if (Arrays.equals(now, fingerprint) || Arrays.equals(now, failedFingerprint)) {
            return;
        }
        try {
            TlsMaterial m = loader.load();
            current = m.serverContext(clientAuth);
            fingerprint = now;
            failedFingerprint = null;
            warnings.reset();
            log.info("{} TLS: files changed, new sessions use {}", what, m.describe());
        } catch (TlsMaterialException | SSLException e) {
            failedFingerprint = now;
            warnings.warn(what + " TLS: files changed but cannot be used, keeping the current certificate: "
                    + e.getMessage(), null);
        }
    }

    /** SHA-256 over every file's contents (a missing file counts as its own state). */
    private byte[] fingerprint() {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            List<String> missing = new ArrayList<>();
            for (Path f : files) {
                try {
                    d.update(Files.readAllBytes(f));
                } catch (IOException e) {
                    missing.add(f.toString());
                }
                d.update((byte) 0);
            }
            d.update(String.join("\0", missing).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return d.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        watcher.shutdownNow();
    }
}
