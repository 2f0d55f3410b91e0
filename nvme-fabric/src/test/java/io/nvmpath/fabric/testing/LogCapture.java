package io.nvmpath.fabric.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * Keeps a copy of everything logged while open, and still lets it through: what is written to
 * {@code System.err} (where slf4j-simple writes each line: it looks {@code System.err} up per line)
 * and every record of {@code java.util.logging} (slf4j-jdk14's backend, whose console handler holds
 * the {@code System.err} it started with), formatted as its console handler would. For tests that
 * assert what was logged, or that a secret never was.
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
    private final java.util.logging.Handler julHandler = new java.util.logging.Handler() {
        private final java.util.logging.Formatter format = new java.util.logging.SimpleFormatter();

        @Override
        public void publish(java.util.logging.LogRecord r) {
            byte[] line = format.format(r).getBytes(StandardCharsets.UTF_8);
            synchronized (copy) {
                copy.write(line, 0, line.length);
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    private LogCapture() {
        saved = System.err;
        System.setErr(new PrintStream(new Tee(saved, copy), true, StandardCharsets.UTF_8));
        julHandler.setLevel(java.util.logging.Level.ALL);
        java.util.logging.Logger.getLogger("").addHandler(julHandler);
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
        java.util.logging.Logger.getLogger("").removeHandler(julHandler);
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
