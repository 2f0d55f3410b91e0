package io.nvmpath.it.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nvmpath.fabric.auth.AuthHash;
import io.nvmpath.fabric.auth.TlsPsk;
import io.nvmpath.fabric.tls.PskCredentials;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Smoke test of the trixie guest (Debian 13, kernel 6.12): one boot of a {@link KernelHostGuest}
 * of {@link GuestFlavour#TRIXIE}, then checks of what the NVMe in-band authentication and
 * NVMe/TCP TLS tests build on: the kernel's release, nvmet's configfs attributes for
 * DH-HMAC-CHAP and TLS, the {@code .nvme} key ring, nvme-cli 2.13's key generators, tlshd and
 * keyctl. Generated secrets never reach the console log: the guest reduces each to its form
 * (prefix, hash field, length of the base64 part). Skipped without the trixie guest, failed
 * instead with -Dnvmpath.it.requirePeers=true.
 */
@Timeout(value = 180, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TrixieGuestIT {

    private static final Duration CMD = Duration.ofSeconds(60);
    private static final String NVMET = "/sys/kernel/config/nvmet";
    private static final String HOST_NQN = "nqn.2026-12.test:trixie-host";
    private static final String SUBSYS_NQN = "nqn.2026-12.test:trixie-sub";
    /**
     * Prints a generated key as "FIELD1:FIELD2:<N base64>:" when it has the NVMe key form
     * (prefix, two-digit hash field, base64 secret with its CRC, trailing colon), else "bad key
     * form"; the secret itself stays in the guest.
     */
    private static final String KEY_FORM = "awk -F: 'NF == 4 && $2 ~ /^[0-9][0-9]$/ && $3 ~ /^[A-Za-z0-9+\\/]+=*$/"
            + " && $4 == \"\" { print $1 \":\" $2 \":<\" length($3) \" base64>:\"; next } { print \"bad key form\" }'";
    private static final Pattern KEY_SHAPE = Pattern.compile("(DHHC-1|NVMeTLSkey-1):0[0-3]:<\\d+ base64>:");

    private static KernelHostGuest guest;

    @BeforeAll
    static void boot() throws IOException {
        if (Peers.guestUnavailableReason(GuestFlavour.TRIXIE).isPresent()) {
            return; // each test then skips, or fails on CI, with the reason (see needsTheGuest)
        }
        guest = KernelHostGuest.start("TrixieGuestIT", Map.of(), KernelHostGuest.READY_TIMEOUT, GuestFlavour.TRIXIE);
        System.out.printf("trixie guest ready after %d ms, log %s%n", guest.readyAfter().toMillis(),
                guest.vm().logFile());
    }

    /** Per test, so that a run of this class alone reports every test as skipped, with the reason. */
    @BeforeEach
    void needsTheGuest() {
        Peers.assumeTrixieGuest();
    }

    @AfterAll
    static void shutdown() {
        if (guest != null) {
            guest.close();
        }
    }

    @Test
    void should_run_kernel_6_12() {
        String release = guest.shOk("uname -r", CMD).trim();
        assertTrue(release.startsWith("6.12"), "uname -r: " + release);
    }

    @Test
    void should_offer_dhchap_and_tls_attributes_in_nvmet_configfs() {
        String out = guest.shOk("/usr/sbin/modprobe nvmet-tcp && cd " + NVMET
                + " && mkdir hosts/" + HOST_NQN + " subsystems/" + SUBSYS_NQN + " ports/9"
                + " && echo '== host' && ls hosts/" + HOST_NQN
                + " && echo '== subsystem' && ls subsystems/" + SUBSYS_NQN
                + " && echo '== port' && ls ports/9"
                + " && rmdir ports/9 subsystems/" + SUBSYS_NQN + " hosts/" + HOST_NQN, CMD);
        List<String> host = section(out, "host");
        for (String attr : List.of("dhchap_key", "dhchap_ctrl_key", "dhchap_hash", "dhchap_dhgroup")) {
            assertTrue(host.contains(attr), attr + " missing under hosts/<nqn>: " + host);
        }
        List<String> subsystem = section(out, "subsystem");
        assertTrue(subsystem.contains("attr_allow_any_host") && subsystem.contains("allowed_hosts"),
                "subsystem entries: " + subsystem);
        List<String> port = section(out, "port");
        assertTrue(port.contains("addr_tsas") && port.contains("addr_trtype"), "port entries: " + port);
    }

    @Test
    void should_have_the_nvme_key_ring_once_nvme_tcp_is_loaded() {
        // kernel-host.sh loaded nvme_tcp, which pulls in nvme_keyring (NVME_TCP_TLS=y)
        assertEquals(0, guest.sh("grep -q ' keyring *\\.nvme: ' /proc/keys", CMD).rc(),
                "no .nvme key ring in /proc/keys");
    }

    @Test
    void should_ship_nvme_cli_2_13() {
        String out = guest.shOk("nvme version", CMD);
        assertTrue(out.matches("(?s).*nvme version 2\\.13(\\.\\d+)?\\b.*"), "nvme version: " + out);
    }

    @Test
    void should_ship_tlshd_and_keyctl() {
        String tlshd = guest.shOk("/usr/sbin/tlshd --version", CMD);
        assertTrue(tlshd.contains("ktls-utils"), "tlshd --version: " + tlshd);
        String keyctl = guest.shOk("/usr/bin/keyctl --version", CMD);
        assertTrue(keyctl.contains("keyutils"), "keyctl --version: " + keyctl);
    }

    @Test
    void should_generate_a_dhchap_secret() {
        String form = guest.shOk("set -o pipefail; nvme gen-dhchap-key --nqn " + HOST_NQN + " | " + KEY_FORM, CMD).trim();
        assertTrue(KEY_SHAPE.matcher(form).matches() && form.startsWith("DHHC-1:"), "gen-dhchap-key printed " + form);
    }

    @Test
    void should_generate_a_tls_psk() {
        String form = guest.shOk("set -o pipefail; nvme gen-tls-key | " + KEY_FORM, CMD).trim();
        assertTrue(KEY_SHAPE.matcher(form).matches() && form.startsWith("NVMeTLSkey-1:"), "gen-tls-key printed " + form);
    }

    /**
     * The TLS PSK nvme-cli 2.13 derives and puts into the {@code .nvme} keyring ({@code check-tls-key
     * --insert}) is the one {@link PskCredentials} derives, for each form of configured PSK (hh 00 and
     * 01 with 32 bytes, 00 and 02 with 48), under the same identity. Compared by SHA-256 of the key in
     * the guest, so that no key reaches the console log.
     */
    @Test
    void should_derive_the_identity_and_tls_psk_that_nvme_cli_inserts() throws Exception {
        java.security.SecureRandom random = new java.security.SecureRandom();
        for (int len : new int[] {32, 48}) {
            for (AuthHash transform : new AuthHash[] {null, len == 32 ? AuthHash.SHA256 : AuthHash.SHA384}) {
                byte[] k = new byte[len];
                random.nextBytes(k);
                TlsPsk psk = TlsPsk.of(k, transform);
                PskCredentials ours = PskCredentials.of(psk, HOST_NQN, SUBSYS_NQN);
                String inserted = guest.shOk("/usr/sbin/nvme check-tls-key --keydata=" + psk.format() + " --hostnqn="
                        + HOST_NQN + " --subsysnqn=" + SUBSYS_NQN + " --insert", CMD);
                String serial = inserted.replaceAll("(?s).*Inserted TLS key ([0-9a-f]+).*", "$1").strip();
                String desc = guest.shOk("grep '^" + serial + " ' /proc/keys", CMD);
                assertTrue(desc.contains(" psk ") && desc.contains(ours.identity() + ": " + len),
                        "keyring entry " + desc + " for " + ours.identity());
                // root may read a key it possesses: link the .nvme key ring into the session's
                String sum = guest.shOk("/usr/bin/keyctl link %:.nvme @s >/dev/null; /usr/bin/keyctl link %:.nvme @u"
                        + " >/dev/null; set -o pipefail; /usr/bin/keyctl pipe 0x" + serial + " | sha256sum", CMD).strip();
                String expected = java.util.HexFormat.of().formatHex(
                        java.security.MessageDigest.getInstance("SHA-256").digest(ours.key()));
                assertTrue(sum.startsWith(expected), "hh " + (transform == null ? 0 : transform.id()) + ", " + len
                        + " bytes: the keyring's TLS PSK differs from ours");
            }
        }
    }

    /** The lines after "== NAME" up to the next "== " line. */
    private static List<String> section(String out, String name) {
        List<String> lines = List.of(out.split("\n"));
        int from = lines.indexOf("== " + name) + 1;
        if (from == 0) {
            return List.of();
        }
        int to = from;
        while (to < lines.size() && !lines.get(to).startsWith("== ")) {
            to++;
        }
        // ls to a pipe prints one name a line; split on blanks all the same
        return lines.subList(from, to).stream().flatMap(l -> List.of(l.trim().split("\\s+")).stream()).toList();
    }
}
