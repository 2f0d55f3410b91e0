package io.nvmpath.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/** Checks on option values that picocli's types cannot express; a failure is a usage error (exit 2). */
final class Usage {
    private Usage() {
    }

    static void check(CommandLine cmd, boolean ok, String message) {
        if (!ok) {
            throw new ParameterException(cmd, message);
        }
    }

    /** NSID: 1..FFFFFFFEh, or FFFFFFFFh (all namespaces) where {@code broadcast} allows it. */
    static int nsid(CommandLine cmd, long nsid, boolean broadcast) {
        long max = broadcast ? 0xFFFFFFFFL : 0xFFFFFFFEL;
        check(cmd, nsid >= 1 && nsid <= max, "--nsid must be 1.." + max + ", not " + nsid);
        return (int) nsid;
    }
}
