package io.nvmpath.it.gateway;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a host tool (nbdinfo, nbdcopy, qemu-img, fio) with a bound, capturing its output. */
public final class Tool {
    public record Result(int rc, String out, String err, long millis) {
        public Result requireOk(String what) {
            if (rc != 0) {
                throw new AssertionError(what + " exited " + rc + "\nstdout:\n" + out + "\nstderr:\n" + err);
            }
            return this;
        }
    }

    private Tool() {
    }

    public static Result run(Duration timeout, String... cmd) throws IOException, InterruptedException {
        Path out = Files.createTempFile("tool", ".out");
        Path err = Files.createTempFile("tool", ".err");
        try {
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(List.of(cmd)).redirectOutput(out.toFile()).redirectError(err.toFile())
                    .start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly().waitFor();
                throw new AssertionError(String.join(" ", cmd) + " did not finish in " + timeout.toSeconds() + " s\n"
                        + Files.readString(out) + Files.readString(err));
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8), (System.nanoTime() - t0) / 1_000_000);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
