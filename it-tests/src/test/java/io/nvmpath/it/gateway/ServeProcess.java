package io.nvmpath.it.gateway;

import io.nvmpath.it.guest.Peers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * {@code bin/nvmpath serve --config FILE} as an operator runs it: a process of its own, its standard
 * output and error in one log file, waited on by condition (with the log in the failure), stopped
 * with SIGTERM.
 */
final class ServeProcess implements AutoCloseable {
    /** A condition that may throw while it is not yet true (a port not yet listening). */
    interface Check {
        boolean ok() throws Exception;
    }

    private final Process process;
    private final Path log;

    private ServeProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    static ServeProcess start(Path config, Path log) throws IOException {
        Process p = new ProcessBuilder(Peers.launcher(), "serve", "--config", config.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new ServeProcess(p, log);
    }

    Process process() {
        return process;
    }

    String log() throws IOException {
        return Files.readString(log);
    }

    /** Waits until {@code c} holds; fails naming {@code what}, with the log, on timeout or if the gateway exits. */
    void await(String what, Duration timeout, Check c) throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                if (c.ok()) {
                    return;
                }
            } catch (Exception e) {
                // not yet
            }
            if (!process.isAlive() || System.nanoTime() - end > 0) {
                throw new AssertionError("waiting for " + what + (process.isAlive() ? ": timed out"
                        : ": the gateway exited " + process.exitValue()) + "\n" + log());
            }
            Thread.sleep(100);
        }
    }

    /** SIGTERM (the gateway drains and exits), SIGKILL after 30 s. */
    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
