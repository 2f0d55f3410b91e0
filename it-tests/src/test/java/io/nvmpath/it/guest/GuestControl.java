package io.nvmpath.it.guest;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;

/**
 * The host side of a guest payload's control connection, shared by {@link NvmetGuest} and
 * {@link KernelHostGuest}: the guest connects out (QEMU guest forward) and proves itself with a
 * hello line carrying a per-guest token.
 */
final class GuestControl {
    private GuestControl() {
    }

    /** Accepts connections until one says {@code expectedHello}; strangers are closed. */
    static Socket accept(ServerSocket server, String expectedHello, long deadline, GuestVm vm) throws IOException {
        while (true) {
            int left = (int) Math.max(1, remaining(deadline).toMillis());
            server.setSoTimeout(left);
            Socket s;
            try {
                s = server.accept();
            } catch (SocketTimeoutException e) {
                throw new GuestVm.GuestException("the guest did not open its control connection" + vm.tail());
            }
            try {
                s.setSoTimeout((int) Math.min(10_000, Math.max(1000, remaining(deadline).toMillis())));
                s.setTcpNoDelay(true);
                String hello = readLineAscii(s);
                if (hello != null && hello.equals(expectedHello)) {
                    return s;
                }
                s.close(); // a stranger (or a stale guest): keep waiting for ours
            } catch (IOException e) {
                s.close();
            }
            if (!vm.isAlive()) {
                throw new GuestVm.GuestException("the guest ended before its control connection" + vm.tail());
            }
        }
    }

    /** Reads one line byte by byte, so nothing after it is buffered away from the later reader. */
    static String readLineAscii(Socket s) throws IOException {
        StringBuilder sb = new StringBuilder();
        var is = s.getInputStream();
        while (true) {
            int c = is.read();
            if (c < 0) {
                return sb.isEmpty() ? null : sb.toString();
            }
            if (c == '\n') {
                return sb.toString();
            }
            if (c != '\r') {
                sb.append((char) c);
            }
            if (sb.length() > 4096) {
                throw new IOException("control line too long");
            }
        }
    }

    static Duration remaining(long deadline) {
        return Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
    }
}
