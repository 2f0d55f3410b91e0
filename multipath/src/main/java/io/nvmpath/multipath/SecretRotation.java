package io.nvmpath.multipath;

import io.nvmpath.fabric.auth.DhchapSecret;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;

/**
 * New DH-HMAC-CHAP secrets for controllers that are already connected: each controller whose portal
 * options now give other secrets than the ones it holds takes them and re-authenticates its queues at
 * once, with no reconnect and its I/O running ({@link Controller#reauthenticate(DhchapSecret, DhchapSecret)}).
 * A refusal is the controller's to log; the target decides what follows.
 */
final class SecretRotation {
    private static final Logger log = LoggerFactory.getLogger(SecretRotation.class);

    private SecretRotation() {
    }

    /** Rotates where the secrets changed; one line per controller rotated. */
    static List<String> apply(Collection<MultipathSubsystem> subsystems, MultipathOptions options) {
        List<String> rotated = new ArrayList<>();
        for (MultipathSubsystem s : subsystems) {
            for (PathIo io : s.controllers()) {
                if (!(io instanceof ControllerPathIo cio)) {
                    continue;
                }
                Controller c = cio.controller();
                ControllerOptions now = options.portalOptions().forPortal(c.address(), s.nqn(), options.controller());
                ControllerOptions had = c.options();
                if (Objects.equals(now.dhchapSecret(), had.dhchapSecret())
                        && Objects.equals(now.dhchapCtrlSecret(), had.dhchapCtrlSecret())) {
                    continue;
                }
                String what = c + ": DH-HMAC-CHAP secrets rotated";
                log.info("{}; re-authenticating its queues", what);
                c.reauthenticate(now.dhchapSecret(), now.dhchapCtrlSecret()).whenComplete((v, err) -> {
                    if (err == null) {
                        log.info("{}: re-authenticated with the rotated secrets", c);
                    }
                });
                rotated.add(what);
            }
        }
        return rotated;
    }
}
