package io.nvmpath.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.nvmpath.target.Fault;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.List;

/** {@code nvmpath target fault}: injects a fault on one port of a running target, or clears it. */
@Command(name = "fault",
        description = "Inject a fault on one port of a running target, or clear it.",
        footerHeading = "%nFaults:%n",
        footer = {"  down           close the listener and every connection; clear re-binds it",
                "  blackhole      keep connections open, answer nothing",
                "  delay MS       delay every I/O completion by MS milliseconds",
                "  fail N STATUS  complete the next N I/O commands with STATUS (0x302...)",
                "  throttle RATE  cap the port's I/O at RATE, a whole number with iops, B/s, KiB/s, MiB/s",
                "                 or GiB/s (throttle 2000iops, throttle 50MiB/s): completions wait their",
                "                 turn, nothing fails; admin commands and keep-alives are not held",
                "  ghost-writes MS  hold each Write, Write Zeroes and Deallocate MS milliseconds before",
                "                 applying it: applied even if its connection closes meanwhile (see cut),",
                "                 unless its controller is reset or its keep-alive times out first",
                "  clear, none    back to normal"})
final class TargetFaultCommand extends TargetAdminCommand {
    @Option(names = {"-p", "--port"}, required = true, paramLabel = "PORT",
            description = "The port: its port ID or its TCP port number.")
    int port;

    @Parameters(arity = "1..3", paramLabel = "FAULT", description = "down, blackhole, delay MS, fail N STATUS, throttle RATE, ghost-writes MS, clear.")
    List<String> fault;

    private String text;

    @Override
    void validate() {
        super.validate();
        checkPort(port);
        text = String.join(" ", fault);
        try {
            Fault.parse(text);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(cmd(), e.getMessage());
        }
    }

    @Override
    void run(AdminClient client) {
        JsonNode p = client.post("/api/v1/ports/" + port + "/fault", Report.object().put("fault", text));
        print(TargetRender.change(p, "fault " + p.path("fault").asText()));
    }
}
