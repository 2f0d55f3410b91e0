package io.nvmpath.server.tls;

import java.nio.file.Path;

/** TLS files that cannot be used: which one, and why, in words an operator can act on. */
public final class TlsMaterialException extends Exception {
    /** Which of the configured files is at fault. */
    public enum Part {
        /** The certificate (chain) file. */
        CERTIFICATE,
        /** The private key file. */
        KEY,
        /** The file holding the key's passphrase. */
        KEY_PASSPHRASE,
        /** The CA file that client certificates are checked against. */
        CLIENT_CA
    }

    private final Part part;
    private final transient Path file;

    TlsMaterialException(Part part, Path file, String reason) {
        this(part, file, reason, null);
    }

    TlsMaterialException(Part part, Path file, String reason, Throwable cause) {
        super(file + ": " + reason, cause);
        this.part = part;
        this.file = file;
    }

    public Part part() {
        return part;
    }

    public Path file() {
        return file;
    }
}
