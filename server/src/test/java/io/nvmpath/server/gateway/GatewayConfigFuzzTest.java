package io.nvmpath.server.gateway;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.nvmpath.config.ConfigException;

/**
 * The gateway's configuration reader fed any text: it either returns a configuration or refuses with a
 * {@link ConfigException} (which names the field) — never another exception, however the YAML is
 * broken, nested, aliased or typed. Relative secret and TLS files resolve against no directory here,
 * so a fuzzed name that happens to exist is read like any operator's file would be.
 */
class GatewayConfigFuzzTest {
    /** Raw bytes as a file holds them (seeds under {@code GatewayConfigFuzzTestInputs/parse} are plain YAML files). */
    @FuzzTest(maxDuration = "60s")
    void parse(byte[] file) {
        String yaml = new String(file, java.nio.charset.StandardCharsets.UTF_8);
        try {
            GatewayConfigLoader.parse(yaml);
        } catch (ConfigException expected) {
            if (expected.getMessage() == null || expected.getMessage().isBlank()) {
                throw new AssertionError("a refusal without a reason", expected);
            }
        }
    }
}
