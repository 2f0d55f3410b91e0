package io.nvmpath.server.cli;

import io.nvmpath.fabric.host.ControllerOptions;
import picocli.CommandLine.Option;

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

    /** Options for a one-shot tool: default keep-alive, one I/O queue. */
    ControllerOptions toControllerOptions() {
        ControllerOptions o = new ControllerOptions().ioQueues(1)
                .headerDigest(headerDigest).dataDigest(dataDigest);
        if (hostId != null) {
            o.hostId(hostId);
        }
        if (hostNqn != null) {
            o.hostNqn(hostNqn);
        }
        return o;
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
