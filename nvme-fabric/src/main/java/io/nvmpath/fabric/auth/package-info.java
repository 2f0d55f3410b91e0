/**
 * The key material and computations of NVMe in-band authentication (DH-HMAC-CHAP, NVMe Base
 * specification 8.3.4) and of NVMe/TCP TLS PSKs (NVMe TCP Transport 3.6.1, TP8018), as pure functions
 * and values with no I/O: the host's {@code Authentication} and the target's
 * {@code TargetAuthentication} (the controller) drive them from the Authentication Send/Receive
 * commands (see {@code docs/security.md}); the TLS handshake is the sibling package {@code tls}.
 *
 * <p>Every byte is the one Linux computes, read from {@code drivers/nvme/common/auth.c},
 * {@code drivers/nvme/common/keyring.c}, {@code drivers/nvme/host/auth.c},
 * {@code drivers/nvme/target/auth.c}, {@code drivers/nvme/target/fabrics-cmd-auth.c} and
 * {@code include/linux/nvme.h}, and from libnvme's {@code src/nvme/linux.c} for what nvme-cli puts into
 * the keyring:
 * <ul>
 * <li>{@link io.nvmpath.fabric.auth.DhchapSecret}: the {@code DHHC-1} secret and its transformation;</li>
 * <li>{@link io.nvmpath.fabric.auth.DhchapResponse}: R1, R2 and the augmented challenge;</li>
 * <li>{@link io.nvmpath.fabric.auth.DhKeyExchange} over {@link io.nvmpath.fabric.auth.DhGroup}: the
 *     ffdhe exchange, values padded to the size of p;</li>
 * <li>{@link io.nvmpath.fabric.auth.AuthMessage} and its records: the message codecs;</li>
 * <li>{@link io.nvmpath.fabric.auth.TlsPsk}, {@link io.nvmpath.fabric.auth.TlsPskIdentity},
 *     {@link io.nvmpath.fabric.auth.Hkdf}, {@link io.nvmpath.fabric.auth.HkdfLabelEncoding}: the PSK
 *     interchange format, identities and derivations.</li>
 * </ul>
 * Secrets never appear in {@code toString()} or in exception messages.
 */
package io.nvmpath.fabric.auth;
