package io.nvmpath.it.guest;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * The fixed identity of the guest's nvmet target, read from {@code it-tests/guest/nvmet-facts.properties}
 * (the same values as the FACTS block of {@code guest/scripts/nvmet-lib.sh}; {@code NvmetFactsTest}
 * keeps the two equal). Namespaces are addressed by NSID, ports by nvmet port ID (1 or 2), ANA
 * groups by ANAGRPID.
 */
public final class NvmetFacts {

    /** The file name inside the guest folder. */
    public static final String FILE = "nvmet-facts.properties";

    private final Map<String, String> values;

    private NvmetFacts(Map<String, String> values) {
        this.values = Map.copyOf(values);
    }

    /** Reads {@value #FILE} from the guest folder ({@link Peers#guestDir()}). */
    public static NvmetFacts load() {
        return load(Peers.guestDir());
    }

    /** Reads {@value #FILE} from {@code guestDir}. */
    public static NvmetFacts load(Path guestDir) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(guestDir.resolve(FILE), StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + guestDir.resolve(FILE), e);
        }
        Map<String, String> m = new TreeMap<>();
        p.stringPropertyNames().forEach(k -> m.put(k, p.getProperty(k).trim()));
        return new NvmetFacts(m);
    }

    /** All facts, sorted by key. */
    public Map<String, String> asMap() {
        return new TreeMap<>(values);
    }

    /** The value of {@code key}; throws if absent. */
    public String get(String key) {
        String v = values.get(key);
        if (v == null) {
            throw new IllegalArgumentException("no fact '" + key + "' in " + FILE);
        }
        return v;
    }

    private int getInt(String key) {
        return Integer.parseInt(get(key));
    }

    public String subsystemNqn() {
        return get("subnqn");
    }

    /** Identify Controller MN (model number). */
    public String model() {
        return get("model");
    }

    /** Identify Controller SN (serial number). */
    public String serial() {
        return get("serial");
    }

    public int namespaceCount() {
        return getInt("ns.count");
    }

    /** NGUID in the 8-4-4-4-12 form nvmet's configfs uses. */
    public String nguid(int nsid) {
        return get("ns." + nsid + ".nguid");
    }

    /** The 16 NGUID bytes as Identify Namespace and the NS descriptor list carry them. */
    public byte[] nguidBytes(int nsid) {
        return HexFormat.of().parseHex(nguid(nsid).replace("-", ""));
    }

    /** UUID (NS descriptor type 3), 8-4-4-4-12 form. */
    public String uuid(int nsid) {
        return get("ns." + nsid + ".uuid");
    }

    /** The 16 UUID bytes as the NS descriptor list carries them. */
    public byte[] uuidBytes(int nsid) {
        return HexFormat.of().parseHex(uuid(nsid).replace("-", ""));
    }

    public long sizeBytes(int nsid) {
        return Long.parseLong(get("ns." + nsid + ".size.bytes"));
    }

    /** LBA data size in bytes (the loop device's logical block size). */
    public int blockBytes(int nsid) {
        return getInt("ns." + nsid + ".block.bytes");
    }

    /** NSZE = size / block size. */
    public long blocks(int nsid) {
        return sizeBytes(nsid) / blockBytes(nsid);
    }

    public int anaGroup(int nsid) {
        return getInt("ns." + nsid + ".anagrp");
    }

    /** ASCII text that LBA 0 of the namespace starts with. */
    public String lba0Prefix(int nsid) {
        return get("ns." + nsid + ".lba0.prefix");
    }

    public int portCount() {
        return getInt("port.count");
    }

    /** The guest-side TCP port of nvmet port {@code port} (the host reaches it through a forward). */
    public int trsvcid(int port) {
        return getInt("port." + port + ".trsvcid");
    }

    /** The ANA state of {@code group} on {@code port} after set-up, e.g. "optimized". */
    public String anaState(int port, int group) {
        return get("port." + port + ".grp." + group + ".state");
    }

    @Override
    public String toString() {
        return "NvmetFacts" + values;
    }
}
