# nvmet-lib.sh - the Linux NVMe target (nvmet + nvmet-tcp) of the nvmpath guest, set up
# through configfs. Sourced by guest payloads (busybox sh); not executable on its own.
#
# The block between BEGIN FACTS and END FACTS is the target's fixed identity. The same
# values are in ../nvmet-facts.properties (key "a.b.c" <-> variable NVMET_A_B_C), which the
# Java tests read; NvmetFactsTest fails when the two differ. Change both together.
#
# Layout made by nvmet_setup:
#   namespace 1: /dev/loop0 on a tmpfs file (256 MiB), ANA group 1, LBA 0 starts "NVMP-NS1-LBA0"
#   namespace 2: /dev/loop1 on a tmpfs file (128 MiB), ANA group 2, LBA 0 starts "NVMP-NS2-LBA0"
#                (a loop device rather than null_blk, so that written data reads back)
#   port 1: tcp 0.0.0.0:4420, group 1 optimized,      group 2 non-optimized
#   port 2: tcp 0.0.0.0:4421, group 1 non-optimized,  group 2 optimized
#   both ports carry the subsystem; any host may connect (no DH-CHAP, no TLS) until
#   nvmet_host_key gives one host a secret (kernels with CONFIG_NVME_TARGET_AUTH: the trixie guest)

# BEGIN FACTS
NVMET_SUBNQN=nqn.2026-11.test:sub1
NVMET_MODEL=nvmpath-guest-nvmet
NVMET_SERIAL=nvmpathguest0001
NVMET_NS_COUNT=2
NVMET_NS_1_NGUID=4e564d50-6775-6964-0000-000000000001
NVMET_NS_1_UUID=6e766d70-6e73-4001-8000-000000000001
NVMET_NS_1_SIZE_BYTES=268435456
NVMET_NS_1_BLOCK_BYTES=512
NVMET_NS_1_ANAGRP=1
NVMET_NS_1_LBA0_PREFIX=NVMP-NS1-LBA0
NVMET_NS_2_NGUID=4e564d50-6775-6964-0000-000000000002
NVMET_NS_2_UUID=6e766d70-6e73-4002-8000-000000000002
NVMET_NS_2_SIZE_BYTES=134217728
NVMET_NS_2_BLOCK_BYTES=512
NVMET_NS_2_ANAGRP=2
NVMET_NS_2_LBA0_PREFIX=NVMP-NS2-LBA0
NVMET_PORT_COUNT=2
NVMET_PORT_1_TRTYPE=tcp
NVMET_PORT_1_ADRFAM=ipv4
NVMET_PORT_1_TRADDR=0.0.0.0
NVMET_PORT_1_TRSVCID=4420
NVMET_PORT_1_GRP_1_STATE=optimized
NVMET_PORT_1_GRP_2_STATE=non-optimized
NVMET_PORT_2_TRTYPE=tcp
NVMET_PORT_2_ADRFAM=ipv4
NVMET_PORT_2_TRADDR=0.0.0.0
NVMET_PORT_2_TRSVCID=4421
NVMET_PORT_2_GRP_1_STATE=non-optimized
NVMET_PORT_2_GRP_2_STATE=optimized
# END FACTS

NVMET=/sys/kernel/config/nvmet
NVMET_BACKING=/run/nvmet-backing          # tmpfs holding the namespace files
NVMET_ANA_STATES="optimized non-optimized inaccessible persistent-loss change"

nvmet_log() { echo "== [$(cut -d' ' -f1 /proc/uptime)s] $*"; }

# nvmet_w FILE VALUE: write VALUE into a configfs attribute; on failure print why, return 1
nvmet_w() {
    local err
    if ! err=$( { echo "$2" > "$1"; } 2>&1 ); then
        echo "nvmet: cannot write '$2' to ${1#"$NVMET"/}: ${err##*: }" >&2
        return 1
    fi
}

# nvmet_var NAME: value of the shell variable NAME (for the numbered facts)
nvmet_var() { eval "echo \"\${$1}\""; }

# nvmet_ana_set PORTID GRPID STATE   (optimized|non-optimized|inaccessible|persistent-loss|change)
nvmet_ana_set() {
    nvmet_w "$NVMET/ports/$1/ana_groups/$2/ana_state" "$3"
}

# nvmet_port_linked PORTID: is the subsystem linked to (exported on) the port?
nvmet_port_linked() { [ -L "$NVMET/ports/$1/subsystems/$NVMET_SUBNQN" ]; }

# nvmet_port_remove PORTID: unlink the subsystem; nvmet deletes the port's controllers
# and, as it was the port's only subsystem, closes the listening socket
nvmet_port_remove() {
    rm "$NVMET/ports/$1/subsystems/$NVMET_SUBNQN"
}

# nvmet_port_add PORTID: link the subsystem again; nvmet listens again
nvmet_port_add() {
    ln -s "$NVMET/subsystems/$NVMET_SUBNQN" "$NVMET/ports/$1/subsystems/$NVMET_SUBNQN"
}

# nvmet_w_secret FILE VALUE: nvmet_w for a secret: a failure names the attribute, never the value
nvmet_w_secret() {
    local err
    if ! err=$( { echo "$2" > "$1"; } 2>&1 ); then
        echo "nvmet: cannot write the secret to ${1#"$NVMET"/}: ${err##*: }" >&2
        return 1
    fi
}

# nvmet_host_key HOSTNQN HASH DHGROUP KEY [CTRLKEY]: DH-HMAC-CHAP for one host. Creates
# hosts/HOSTNQN with its secret (and the controller's, for bidirectional authentication), the
# HMAC ("hmac(sha256)", ...) and DH group ("null", "ffdhe2048", ...) the target insists on, and
# makes it the subsystem's allowed host: attr_allow_any_host goes to 0, so hosts without an
# entry are refused from then on.
nvmet_host_key() {
    local H="$NVMET/hosts/$1" S="$NVMET/subsystems/$NVMET_SUBNQN"
    [ -d "$H" ] || mkdir "$H" || return 1
    nvmet_w "$H/dhchap_hash" "$2" || return 1
    nvmet_w "$H/dhchap_dhgroup" "$3" || return 1
    nvmet_w_secret "$H/dhchap_key" "$4" || return 1
    if [ -n "${5:-}" ]; then nvmet_w_secret "$H/dhchap_ctrl_key" "$5" || return 1; fi
    # nvmet refuses an allowed_hosts link while any host is allowed
    nvmet_w "$S/attr_allow_any_host" 0 || return 1
    [ -L "$S/allowed_hosts/$1" ] || ln -s "$H" "$S/allowed_hosts/$1" || return 1
}

# nvmet_host_remove HOSTNQN: the host is no longer allowed and its entry (with its secrets) goes;
# with no allowed host left, any host may connect again
nvmet_host_remove() {
    local S="$NVMET/subsystems/$NVMET_SUBNQN"
    rm -f "$S/allowed_hosts/$1" || return 1
    [ ! -d "$NVMET/hosts/$1" ] || rmdir "$NVMET/hosts/$1" || return 1
    if [ -z "$(ls "$S/allowed_hosts")" ]; then nvmet_w "$S/attr_allow_any_host" 1 || return 1; fi
}

# nvmet_port_tls PORTID HOSTNQN KEY: NVMe/TCP TLS on the port for that host: the configured PSK KEY
# (NVMeTLSkey-1:..) goes into the kernel's .nvme keyring as nvme-cli derives it (identity
# "NVMe0R0<hh> HOSTNQN SUBNQN"), tlshd is started once to do the handshakes, and the port is made
# TLS 1.3 only (addr_tsas; nvmet takes it only while the port carries no subsystem). Kernels with
# CONFIG_NVME_TARGET_TCP_TLS (the trixie guest).
nvmet_port_tls() {
    local P="$NVMET/ports/$1" out relink=0
    if ! out=$(/usr/sbin/nvme check-tls-key --keydata="$3" --hostnqn="$2" --subsysnqn="$NVMET_SUBNQN" --insert 2>&1); then
        echo "nvmet: nvme check-tls-key --insert failed: $(echo "$out" | sed -E 's/NVMeTLSkey-1:[^ ]*/<key>/g')" >&2
        return 1
    fi
    if ! pidof tlshd >/dev/null 2>&1; then
        printf '[debug]\nloglevel=0\ntls=0\nnl=0\n[authenticate]\nkeyrings=.nvme\n' > /etc/tlshd.conf
        (setsid /usr/sbin/tlshd -s -c /etc/tlshd.conf </dev/null >/run/tlshd.log 2>&1 &)
    fi
    if nvmet_port_linked "$1"; then nvmet_port_remove "$1" || return 1; relink=1; fi
    nvmet_w "$P/addr_tsas" tls1.3 || return 1
    if [ "$relink" = 1 ]; then nvmet_port_add "$1" || return 1; fi
    echo "tsas=$(cat "$P/addr_tsas") treq=$(cat "$P/addr_treq")"
}

# nvmet_backing NSID DEVICE: tmpfs file of the namespace's size with its LBA 0 marker, on DEVICE
nvmet_backing() {
    local f="$NVMET_BACKING/ns$1.img"
    truncate -s "$(nvmet_var NVMET_NS_$1_SIZE_BYTES)" "$f" || return 1
    # a recognisable LBA 0 for readers (the rest of the namespace reads as zeros)
    printf '%s...' "$(nvmet_var NVMET_NS_$1_LBA0_PREFIX)" | dd of="$f" conv=notrunc 2>/dev/null || return 1
    losetup "$2" "$f" || return 1
    echo "$2"
}

nvmet_setup() {
    local S P p g n i
    nvmet_log "modprobe nvmet nvmet-tcp loop"
    # full path: busybox sh runs its own modprobe applet in preference to PATH
    /usr/sbin/modprobe nvmet && /usr/sbin/modprobe nvmet-tcp && /usr/sbin/modprobe loop || return 1
    [ -d "$NVMET" ] || mount -t configfs configfs /sys/kernel/config || return 1
    [ -d "$NVMET" ] || { echo "nvmet: $NVMET missing" >&2; return 1; }

    # backing files on their own tmpfs (sized for both namespaces plus slack)
    mkdir -p "$NVMET_BACKING"
    mount -t tmpfs -o size=$(( (NVMET_NS_1_SIZE_BYTES + NVMET_NS_2_SIZE_BYTES) / 1048576 + 16 ))m \
        tmpfs "$NVMET_BACKING" || return 1
    for n in 1 2; do
        i=0; while [ ! -b /dev/loop$((n - 1)) ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        nvmet_backing $n /dev/loop$((n - 1)) >/dev/null || return 1
    done

    nvmet_log "subsystem $NVMET_SUBNQN (allow any host), model $NVMET_MODEL, serial $NVMET_SERIAL"
    S=$NVMET/subsystems/$NVMET_SUBNQN
    mkdir "$S" || return 1
    nvmet_w "$S/attr_allow_any_host" 1 || return 1
    nvmet_w "$S/attr_model" "$NVMET_MODEL" || return 1
    nvmet_w "$S/attr_serial" "$NVMET_SERIAL" || return 1

    for p in 1 2; do
        P=$NVMET/ports/$p
        nvmet_log "port $p: $(nvmet_var NVMET_PORT_${p}_TRTYPE) $(nvmet_var NVMET_PORT_${p}_TRADDR):$(nvmet_var NVMET_PORT_${p}_TRSVCID)"
        mkdir "$P" || return 1
        nvmet_w "$P/addr_trtype" "$(nvmet_var NVMET_PORT_${p}_TRTYPE)" || return 1
        nvmet_w "$P/addr_adrfam" "$(nvmet_var NVMET_PORT_${p}_ADRFAM)" || return 1
        nvmet_w "$P/addr_traddr" "$(nvmet_var NVMET_PORT_${p}_TRADDR)" || return 1
        nvmet_w "$P/addr_trsvcid" "$(nvmet_var NVMET_PORT_${p}_TRSVCID)" || return 1
        # ANA group 1 exists on every port; group 2 is created
        mkdir "$P/ana_groups/2" || return 1
        for g in 1 2; do
            nvmet_ana_set $p $g "$(nvmet_var NVMET_PORT_${p}_GRP_${g}_STATE)" || return 1
        done
    done

    for n in 1 2; do
        nvmet_log "namespace $n: /dev/loop$((n - 1)), ANA group $(nvmet_var NVMET_NS_${n}_ANAGRP)"
        mkdir "$S/namespaces/$n" || return 1
        nvmet_w "$S/namespaces/$n/device_path" /dev/loop$((n - 1)) || return 1
        nvmet_w "$S/namespaces/$n/device_nguid" "$(nvmet_var NVMET_NS_${n}_NGUID)" || return 1
        nvmet_w "$S/namespaces/$n/device_uuid" "$(nvmet_var NVMET_NS_${n}_UUID)" || return 1
        nvmet_w "$S/namespaces/$n/ana_grpid" "$(nvmet_var NVMET_NS_${n}_ANAGRP)" || return 1
        nvmet_w "$S/namespaces/$n/enable" 1 || return 1
    done

    for p in 1 2; do nvmet_port_add $p || return 1; done
    return 0
}

# one line per namespace and port
nvmet_show() {
    local p g ns
    echo "nvmet configuration:"
    for ns in "$NVMET/subsystems/$NVMET_SUBNQN"/namespaces/*; do
        echo "  ns $(basename "$ns"): $(cat "$ns/device_path") ana_grpid=$(cat "$ns/ana_grpid")" \
             "enable=$(cat "$ns/enable") nguid=$(cat "$ns/device_nguid") uuid=$(cat "$ns/device_uuid")"
    done
    for p in "$NVMET"/ports/*; do
        printf '  port %s: %s %s:%s' "$(basename "$p")" "$(cat "$p/addr_trtype")" "$(cat "$p/addr_traddr")" "$(cat "$p/addr_trsvcid")"
        if nvmet_port_linked "$(basename "$p")"; then printf ' linked'; else printf ' unlinked'; fi
        for g in "$p"/ana_groups/*; do printf ' grp%s=%s' "$(basename "$g")" "$(cat "$g/ana_state")"; done
        echo
    done
}

# one-line state summary, e.g. "port1=linked grp1=optimized grp2=non-optimized port2=..."
nvmet_state_line() {
    local p g out=""
    for p in 1 2; do
        if nvmet_port_linked $p; then out="$out port$p=linked"; else out="$out port$p=unlinked"; fi
        for g in 1 2; do out="$out grp$g=$(cat "$NVMET/ports/$p/ana_groups/$g/ana_state")"; done
    done
    echo "${out# }"
}

nvmet_teardown() {
    local p g ns h
    for p in "$NVMET"/ports/*; do
        [ -d "$p" ] || continue
        rm -f "$p/subsystems/$NVMET_SUBNQN"
        for g in "$p"/ana_groups/*; do [ "$(basename "$g")" = 1 ] || rmdir "$g"; done
        rmdir "$p"
    done
    for ns in "$NVMET/subsystems/$NVMET_SUBNQN"/namespaces/*; do
        [ -d "$ns" ] || continue
        echo 0 > "$ns/enable"; rmdir "$ns"
    done
    for h in "$NVMET/subsystems/$NVMET_SUBNQN"/allowed_hosts/*; do [ -L "$h" ] && rm -f "$h"; done
    rmdir "$NVMET/subsystems/$NVMET_SUBNQN" 2>/dev/null
    for h in "$NVMET"/hosts/*; do [ -d "$h" ] && rmdir "$h"; done
    losetup -d /dev/loop0 2>/dev/null
    losetup -d /dev/loop1 2>/dev/null
    umount "$NVMET_BACKING" 2>/dev/null
    return 0
}
