package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code nvmpath target cut}: closes every connection open on one port of a running target now,
 * without refusing new ones — a network blip. Hosts see their connections drop and may reconnect at
 * once; writes the {@code ghost-writes} fault holds are still applied when their time is up.
 */
@Command(name = "cut",
        description = "Close every connection open on one port of a running target now, without refusing new "
                + "ones (a network blip); the port keeps listening and its fault, if any.")
final class TargetCutCommand extends TargetAdminCommand {
    @Option(names = {"-p", "--port"}, required = true, paramLabel = "PORT",
            description = "The port: its port ID or its TCP port number.")
    int port;

    @Override
    void validate() {
        super.validate();
        checkPort(port);
    }

    @Override
    void run(AdminClient client) {
        JsonNode p = client.post("/api/v1/ports/" + port + "/cut", Report.object());
        int cut = p.path("cut").asInt();
        print(TargetRender.change(p, cut + (cut == 1 ? " connection cut" : " connections cut")));
    }
}
