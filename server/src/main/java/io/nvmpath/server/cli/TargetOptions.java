package io.nvmpath.server.cli;

import io.nvmpath.fabric.host.TransportAddress;
import picocli.CommandLine.Option;

/** Which subsystem, at which NVMe/TCP port: nvme-cli's {@code -a}, {@code -s}, {@code -n}. */
final class TargetOptions {
    @Option(names = {"-a", "--traddr"}, required = true, paramLabel = "ADDR",
            description = "Transport address of the NVMe/TCP port (IP address or host name).")
    String traddr;

    @Option(names = {"-s", "--trsvcid"}, paramLabel = "PORT", defaultValue = "4420",
            description = "TCP port (default: ${DEFAULT-VALUE}).")
    int trsvcid;

    @Option(names = {"-n", "--nqn"}, required = true, paramLabel = "SUBNQN", description = "Subsystem NQN.")
    String nqn;

    TransportAddress address() {
        return new TransportAddress(traddr, trsvcid);
    }

    void validate(picocli.CommandLine cmd) {
        Usage.check(cmd, trsvcid >= 1 && trsvcid <= 65535, "--trsvcid must be 1..65535, not " + trsvcid);
        Usage.check(cmd, !traddr.isBlank(), "--traddr is empty");
        Usage.check(cmd, !nqn.isBlank(), "--nqn is empty");
    }
}
