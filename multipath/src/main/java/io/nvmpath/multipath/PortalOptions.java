package io.nvmpath.multipath;

import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;

/**
 * The controller options of one portal: the path layer's own ({@link MultipathOptions#controller()}),
 * adjusted for that portal — its DH-HMAC-CHAP secrets, which belong to a subsystem or to one portal.
 * Asked at every connect of the portal (the first and each one after a loss), so that a change, such
 * as a rotated secret, applies from the next connect on.
 */
@FunctionalInterface
public interface PortalOptions {
    /** Every portal connects with the path layer's options as they are. */
    PortalOptions SAME = (address, nqn, base) -> base;

    /**
     * @param address the portal
     * @param nqn its subsystem, or {@code null} for a discovery controller
     * @param base the path layer's controller options; not to be modified (return a copy)
     * @return the options to connect with
     */
    ControllerOptions forPortal(TransportAddress address, String nqn, ControllerOptions base);
}
