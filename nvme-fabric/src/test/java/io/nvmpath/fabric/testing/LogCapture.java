package io.nvmpath.fabric.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * Keeps a copy of everything written to {@code System.err} while open — where slf4j-simple writes
 * each log line (it looks {@code System.err} up per line) — and still writes it through. For tests
 * that assert what was logged, or that a secret never was.
 *
 * <pre>{@code
 * try (LogCapture logs = LogCapture.start()) {
 *     ...
 *     assertThat(logs.text()).doesNotContain(secret);
 * }
 * }</pre>
 */
public final class LogCapture implements AutoCloseable {
    private final PrintStream saved;
    private final ByteArrayOutputStream copy = new ByteArrayOutputStream();

    private LogCapture() {
        saved = System.err;
        System.setErr(new PrintStream(new Tee(saved, copy), true, StandardCharsets.UTF_8));
    }

    /** Starts capturing; {@link #close()} puts the previous {@code System.err} back. */
    public static LogCapture start() {
        return new LogCapture();
    }

    /** Everything written so far. */
    public String text() {
        synchronized (copy) {
            return copy.toString(StandardCharsets.UTF_8);
        }
    }

    @Override
    public void close() {
        System.setErr(saved);
    }

    private static final class Tee extends OutputStream {
        private final OutputStream through;
        private final ByteArrayOutputStream copy;

        Tee(OutputStream through, ByteArrayOutputStream copy) {
            this.through = through;
            this.copy = copy;
        }

        @Override
        public void write(int c) throws IOException {
            through.write(c);
            synchronized (copy) {
                copy.write(c);
            }
        }

        @Override
        public void write(byte[] buf, int off, int len) throws IOException {
            through.write(buf, off, len);
            synchronized (copy) {
                copy.write(buf, off, len);
            }
        }
    }
}
