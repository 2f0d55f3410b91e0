package io.nvmpath.server.cli;

import io.nvmpath.fabric.auth.DhchapSecret;
import io.nvmpath.fabric.auth.TlsPsk;
import io.nvmpath.fabric.host.ControllerOptions;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/** Who the host is and how it talks: the nvme-cli connect options every command shares. */
final class HostOptions {
    @Option(names = {"-q", "--hostnqn"}, paramLabel = "NQN",
            description = "Host NQN sent in Connect (default: nqn.2014-08.org.nvmexpress:uuid:<hostid>).")
    String hostNqn;

    @Option(names = {"-I", "--hostid"}, paramLabel = "UUID", converter = UuidConverter.class,
            description = "Host identifier sent in Connect (default: a random UUID).")
    UUID hostId;

    @Option(names = {"-g", "--hdr-digest"}, description = "Ask for the PDU header digest (CRC32C).")
    boolean headerDigest;

    @Option(names = {"-G", "--data-digest"}, description = "Ask for the PDU data digest (CRC32C).")
    boolean dataDigest;

    @Option(names = {"-S", "--dhchap-secret"}, paramLabel = "SECRET|FILE", converter = SecretConverter.class,
            description = "DH-HMAC-CHAP secret the host authenticates with (DHHC-1:..:..: as nvme gen-dhchap-key"
                    + " prints it), or a file holding it (which keeps it out of the process list).")
    DhchapSecret dhchapSecret;

    @Option(names = {"-C", "--dhchap-ctrl-secret"}, paramLabel = "SECRET|FILE", converter = SecretConverter.class,
            description = "The controller's DH-HMAC-CHAP secret: the controller must prove it too (bidirectional)."
                    + " Needs --dhchap-secret.")
    DhchapSecret dhchapCtrlSecret;

    @Option(names = "--tls", description = "NVMe/TCP TLS 1.3 with a pre-shared key (needs --tls-key).")
    boolean tls;

    @Option(names = "--tls-key", paramLabel = "KEY|FILE", converter = TlsKeyConverter.class,
            description = "The configured TLS PSK (NVMeTLSkey-1:..:..: as nvme gen-tls-key prints it), or a file"
                    + " holding it; implies --tls.")
    TlsPsk tlsKey;

    /** Options for a one-shot tool: default keep-alive, one I/O queue. */
    ControllerOptions toControllerOptions() {
        if (dhchapCtrlSecret != null && dhchapSecret == null) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "--dhchap-ctrl-secret needs --dhchap-secret: the host authenticates first");
        }
        if (tls && tlsKey == null) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "--tls needs --tls-key: this host has no kernel key ring to look a PSK up in");
        }
        ControllerOptions o = new ControllerOptions().ioQueues(1)
                .headerDigest(headerDigest).dataDigest(dataDigest)
                .dhchapSecret(dhchapSecret).dhchapCtrlSecret(dhchapCtrlSecret).tlsPsk(tlsKey);
        if (hostId != null) {
            o.hostId(hostId);
        }
        if (hostNqn != null) {
            o.hostNqn(hostNqn);
        }
        return o;
    }

    /**
     * A DH-HMAC-CHAP secret given as itself ({@code DHHC-1:...}) or as the name of a file holding it; a
     * bad one is refused naming what is wrong, never the secret.
     */
    static final class SecretConverter implements picocli.CommandLine.ITypeConverter<DhchapSecret> {
        @Override
        public DhchapSecret convert(String value) {
            return parse(textOf(value, DhchapSecret.PREFIX, "a DHHC-1 secret"), DhchapSecret::parse);
        }
    }

    /** A TLS PSK given as itself ({@code NVMeTLSkey-1:...}) or as the name of a file holding it. */
    static final class TlsKeyConverter implements picocli.CommandLine.ITypeConverter<TlsPsk> {
        @Override
        public TlsPsk convert(String value) {
            return parse(textOf(value, TlsPsk.PREFIX, "an NVMeTLSkey-1 key"), TlsPsk::parse);
        }
    }

    /** {@code value} itself when it starts with {@code prefix}, else the contents of the file it names. */
    private static String textOf(String value, String prefix, String what) {
        if (value.startsWith(prefix)) {
            return value;
        }
        try {
            return Files.readString(Path.of(value), StandardCharsets.UTF_8);
        } catch (IOException | java.nio.file.InvalidPathException e) {
            throw new picocli.CommandLine.TypeConversionException("not " + what + ", and no file " + value
                    + " to read one from (" + e.getClass().getSimpleName() + ")");
        }
    }

    /** The parser's complaint (which never quotes the secret) as picocli's conversion error. */
    private static <T> T parse(String text, java.util.function.Function<String, T> parser) {
        try {
            return parser.apply(text);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.TypeConversionException(e.getMessage());
        }
    }

    /** Parses a UUID with a message naming the bad value. */
    static final class UuidConverter implements picocli.CommandLine.ITypeConverter<UUID> {
        @Override
        public UUID convert(String value) {
            try {
                return UUID.fromString(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException("'" + value + "' is not a UUID");
            }
        }
    }
}
