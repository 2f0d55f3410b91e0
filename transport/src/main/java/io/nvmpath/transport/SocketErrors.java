package io.nvmpath.transport;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Socket errors in the same words whatever the transport: the native ones prefix the system's message
 * with the call ({@code "io_uring connect(..) failed with error(-111): Connection refused"},
 * {@code "connect(..) failed: Connection refused"}), NIO gives it alone ({@code "Connection refused"}).
 */
public final class SocketErrors {
    private static final Pattern NATIVE = Pattern.compile("^(?:io_uring )?\\w+\\(\\.\\.\\) failed(?: with error\\(-?\\d+\\))?: (.+)$");

    private SocketErrors() {
    }

    /** The message of {@code t}'s root cause, without a native transport's call prefix. */
    public static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        String m = c.getMessage();
        if (m == null) {
            return c.getClass().getSimpleName();
        }
        Matcher native_ = NATIVE.matcher(m);
        return native_.matches() ? native_.group(1) : m;
    }

    /**
     * Whether {@code t} says the address is in use: NIO throws a {@link java.net.BindException}, the
     * native transports an {@code IOException} of {@code bind(..)} with EADDRINUSE.
     */
    public static boolean isAddressInUse(Throwable t) {
        return rootMessage(t).equals("Address already in use");
    }
}
