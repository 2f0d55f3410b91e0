package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.nvmpath.fabric.nvme.AnaState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.Arrays;
import java.util.stream.Collectors;

/** {@code nvmpath target ana-state}: the ANA state of one ANA group through one port of a running target. */
@Command(name = "ana-state",
        description = "Set the ANA state of an ANA group through one port of a running target; controllers on "
                + "that port get an ANA change notice.")
final class TargetAnaStateCommand extends TargetAdminCommand {
    static final String STATES = Arrays.stream(AnaState.values()).map(AnaState::label)
            .collect(Collectors.joining(", "));

    @Option(names = {"-p", "--port"}, required = true, paramLabel = "PORT",
            description = "The port: its port ID or its TCP port number.")
    int port;

    @Option(names = {"-g", "--group"}, paramLabel = "ANAGRPID", defaultValue = "1",
            description = "ANA group ID (default: ${DEFAULT-VALUE}).")
    int group;

    @Parameters(index = "0", paramLabel = "STATE",
            description = "optimized, non-optimized, inaccessible, persistent-loss or change.")
    String state;

    private AnaState anaState;

    @Override
    void validate() {
        super.validate();
        checkPort(port);
        Usage.check(cmd(), group >= 1, "--group must be at least 1, not " + group);
        anaState = AnaState.fromLabel(state);
        Usage.check(cmd(), anaState != null, "'" + state + "' is not an ANA state (" + STATES + ")");
    }

    @Override
    void run(AdminClient client) {
        JsonNode p = client.post("/api/v1/ports/" + port + "/ana",
                Report.object().put("group", group).put("state", anaState.label()));
        print(TargetRender.change(p, "ANA group " + group + " " + p.path("anaStates").path(String.valueOf(group))
                .asText(anaState.label())));
    }
}
