package io.nvmpath.target;

import io.nvmpath.target.backend.Backend;
import io.nvmpath.target.config.TargetConfig.NamespaceConfig;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.UUID;

/**
 * One namespace of a subsystem: its size in blocks, its ANA group and its identifiers. Identifiers
 * not given in the configuration are derived from the subsystem NQN and NSID, so they are the same
 * after every restart and on every port.
 */
final class Namespace {
    final int nsid;
    final int lbaSize;
    final int lbads;
    final long blocks;
    final int anaGroup;
    final byte[] nguid;
    final byte[] eui64;
    final UUID uuid;
    final boolean readOnly;
    final Backend backend;

    Namespace(String subnqn, NamespaceConfig c, Backend backend) {
        this.nsid = c.nsid();
        this.lbaSize = c.lbaSize();
        this.lbads = Integer.numberOfTrailingZeros(c.lbaSize());
        this.blocks = backend.sizeBytes() / c.lbaSize();
        this.anaGroup = c.anaGroup();
        this.readOnly = c.readOnly();
        this.backend = backend;
        byte[] h = sha256("nvmpath:" + subnqn + ":" + c.nsid());
        this.nguid = c.nguid() != null ? HexFormat.of().parseHex(c.nguid().replace("-", ""))
                : java.util.Arrays.copyOfRange(h, 0, 16);
        byte[] eui = c.eui64() != null ? HexFormat.of().parseHex(c.eui64().replace("-", ""))
                : java.util.Arrays.copyOfRange(h, 16, 24);
        if (c.eui64() == null) {
            eui[0] = (byte) ((eui[0] & 0xFC) | 0x02); // locally administered, unicast
        }
        this.eui64 = eui;
        this.uuid = c.uuid() != null ? UUID.fromString(c.uuid())
                : UUID.nameUUIDFromBytes(("nvmpath:" + subnqn + ":" + c.nsid()).getBytes(StandardCharsets.UTF_8));
    }

    long sizeBytes() {
        return blocks * lbaSize;
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
