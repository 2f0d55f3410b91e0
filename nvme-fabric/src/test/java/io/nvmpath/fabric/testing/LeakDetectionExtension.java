package io.nvmpath.fabric.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.List;

/**
 * Fails the test during or after which Netty reported a buffer leak. Registered for every test
 * through JUnit's extension auto-detection (see the surefire configuration in the root pom).
 */
public final class LeakDetectionExtension implements AfterEachCallback, AfterAllCallback {
    @Override
    public void afterEach(ExtensionContext context) {
        check(context.getDisplayName());
    }

    @Override
    public void afterAll(ExtensionContext context) {
        check(context.getDisplayName() + " (after all)");
    }

    private static void check(String where) {
        LeakDetection.install();
        List<String> leaks = LeakDetection.drainLeaks();
        if (!leaks.isEmpty()) {
            throw new AssertionError(leaks.size() + " ByteBuf leak(s) detected in or before " + where + ":\n"
                    + String.join("\n", leaks));
        }
    }
}
