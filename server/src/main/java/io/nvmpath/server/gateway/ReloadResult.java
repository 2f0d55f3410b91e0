package io.nvmpath.server.gateway;

import java.util.List;

/**
 * What a reload of the configuration did.
 *
 * @param applied each change made, one phrase each ("portal 10.0.0.3:4420 nqn... added")
 * @param needsRestart settings that changed but take effect only at the next start ("nbd.listen")
 */
public record ReloadResult(List<String> applied, List<String> needsRestart) {
    public ReloadResult {
        applied = List.copyOf(applied);
        needsRestart = List.copyOf(needsRestart);
    }
}
