#!/usr/bin/env bash
# run.sh SCRIPT [-- extra qemu args]
#
# Boots the nvmpath test guest (Debian kernel + busybox initramfs built by setup.sh)
# and runs SCRIPT inside it with busybox sh as the init's payload. The guest's
# console goes to stdout; the guest powers off when SCRIPT ends, and run.sh exits
# with SCRIPT's exit code (parsed from the "GUEST-EXIT <rc>" console line).
# Exit 124: the hard timeout hit; 125: no GUEST-EXIT line (guest crashed, or QEMU
# failed to start, e.g. a host forward port in use); 130: stopped by SIGINT/SIGTERM
# (QEMU is killed by its PID); 2: usage or set-up error.
#
# Environment (all optional):
#   GUEST_FLAVOUR     bookworm (default, kernel 6.1) | trixie (kernel 6.12): which build of
#                     setup.sh to boot, by its default cache folder
#   NVMP_GUEST_CACHE  cache folder from setup.sh (default /var/cache/nvmpath-guest, or
#                     /var/cache/nvmpath-guest-trixie for GUEST_FLAVOUR=trixie); wins over GUEST_FLAVOUR
#   GUEST_TIMEOUT     hard timeout in seconds for the whole VM (default 300)
#   GUEST_ACCEL       auto | kvm | tcg (default auto: KVM if /dev/kvm is usable, else TCG)
#   GUEST_CPUS        vCPUs (default 2)      GUEST_MEM  MiB of RAM (default 1536)
#   GUEST_CPU         QEMU -cpu model (default host under KVM, max under TCG)
#   HOSTFWD           "HPORT:GPORT ..."  host 127.0.0.1:HPORT -> guest 10.0.2.15:GPORT (tcp)
#   GUESTFWD          "GPORT[:HPORT] ..." guest connects to $GUESTFWD_ADDR:GPORT,
#                     QEMU connects it to host 127.0.0.1:HPORT (socat per connection)
#   GUESTFWD_ADDR     virtual address for GUESTFWD (default 10.0.2.100, inside slirp)
#   GUEST_FILES       extra host files copied into the guest's /payload/ (space separated)
#   GUEST_ENV         "VAR=value ..." exported in the guest before SCRIPT runs
#   GUEST_LOG         also write the console log (CR stripped) to this file
#   GUEST_APPEND      extra kernel command line
#
# Network: QEMU user-mode networking with restrict=on: the guest reaches nothing
# but the explicit forwards; host-side ends are always 127.0.0.1.
set -uo pipefail

usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 2; }
[ $# -ge 1 ] || usage
case "$1" in -h|--help) usage;; esac
SCRIPT=$1; shift
[ -f "$SCRIPT" ] || { echo "run.sh: no such script: $SCRIPT" >&2; exit 2; }
if [ $# -gt 0 ]; then
    [ "$1" = "--" ] || usage
    shift
fi
EXTRA_QEMU=("$@")

case "${GUEST_FLAVOUR:-bookworm}" in
    bookworm) DEFAULT_CACHE=/var/cache/nvmpath-guest ;;
    trixie)   DEFAULT_CACHE=/var/cache/nvmpath-guest-trixie ;;
    *) echo "run.sh: unknown GUEST_FLAVOUR '${GUEST_FLAVOUR}' (bookworm, trixie)" >&2; exit 2 ;;
esac
CACHE="${NVMP_GUEST_CACHE:-$DEFAULT_CACHE}"
TIMEOUT="${GUEST_TIMEOUT:-300}"
CPUS="${GUEST_CPUS:-2}"
MEM="${GUEST_MEM:-1536}"
ACCEL="${GUEST_ACCEL:-auto}"
GFWD_ADDR="${GUESTFWD_ADDR:-10.0.2.100}"

# vmlinux (uncompressed ELF, PVH entry) skips the bzImage's xz decompressor: ~4 s less under TCG
if [ -s "$CACHE/vmlinux" ]; then KERNEL_IMG="$CACHE/vmlinux"; else KERNEL_IMG="$CACHE/vmlinuz"; fi
for f in vmlinuz initramfs.img; do
    [ -s "$CACHE/$f" ] || { echo "run.sh: $CACHE/$f missing: run setup.sh ${GUEST_FLAVOUR:-} first" >&2; exit 2; }
done
QEMU=$(command -v qemu-system-x86_64) || { echo "run.sh: qemu-system-x86_64 not installed (setup.sh)" >&2; exit 2; }

is_port() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

# ---- network: user-mode (slirp), restricted, loopback-only host side
NETDEV="user,id=n0,restrict=on,net=10.0.2.0/24,host=10.0.2.2"
for fw in ${HOSTFWD:-}; do
    h=${fw%%:*}; g=${fw#*:}
    is_port "$h" && is_port "$g" || { echo "run.sh: bad HOSTFWD entry '$fw' (want HPORT:GPORT)" >&2; exit 2; }
    NETDEV+=",hostfwd=tcp:127.0.0.1:$h-:$g"
done
if [ -n "${GUESTFWD:-}" ]; then
    command -v socat >/dev/null || { echo "run.sh: GUESTFWD needs socat (setup.sh installs it)" >&2; exit 2; }
    [[ "$GFWD_ADDR" =~ ^10\.0\.2\.[0-9]+$ ]] || { echo "run.sh: GUESTFWD_ADDR must be inside 10.0.2.0/24 (slirp)" >&2; exit 2; }
fi
for fw in ${GUESTFWD:-}; do
    g=${fw%%:*}; h=${fw#*:}
    is_port "$g" && is_port "$h" || { echo "run.sh: bad GUESTFWD entry '$fw' (want GPORT[:HPORT])" >&2; exit 2; }
    NETDEV+=",guestfwd=tcp:$GFWD_ADDR:$g-cmd:socat -lf /dev/null - TCP:127.0.0.1:$h"
done

# ---- accelerator
kvm_ok() {   # /dev/kvm usable by QEMU? (starts and quits an empty KVM machine, ~0.1 s)
    [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
    # Hardware KVM (kvm_intel / kvm_amd) only. A software KVM such as kvm_pvm (seen on
    # Firecracker-nested hosts) accepts KVM_CREATE_VM, but there the Debian bzImage made
    # no progress past its decompressor in 150 s, and the PVH vmlinux died after ~60 s
    # with "KVM internal error ... emulation failure" on a lock cmpxchg16b; TCG boots in
    # about 4 s.
    if [ ! -d /sys/module/kvm_intel ] && [ ! -d /sys/module/kvm_amd ]; then
        KVM_WHY="/dev/kvm is not hardware KVM (modules: $(cd /sys/module && echo kvm*)); set GUEST_ACCEL=kvm to force"
        return 1
    fi
    printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' \
      | timeout 20 "$QEMU" -accel kvm -machine none -nodefaults -no-user-config -display none \
          -qmp stdio >/dev/null 2>&1
}
case "$ACCEL" in
    auto) KVM_WHY="no usable /dev/kvm"
          if kvm_ok; then ACCEL=kvm; else ACCEL=tcg; echo "run.sh: using TCG: $KVM_WHY" >&2; fi ;;
    kvm|tcg) ;;
    *) echo "run.sh: GUEST_ACCEL must be auto, kvm or tcg" >&2; exit 2 ;;
esac
# CPU model: GUEST_CPU, else -cpu host under KVM (kvm_pvm refuses QEMU's
# IA32_ARCH_CAPABILITIES value, hence arch-capabilities=off there), -cpu max under TCG
if [ "$ACCEL" = kvm ]; then
    CPU_DEF=host; [ -d /sys/module/kvm_pvm ] && CPU_DEF=host,arch-capabilities=off
    ACCEL_ARGS=(-accel kvm -cpu "${GUEST_CPU:-$CPU_DEF}")
else
    ACCEL_ARGS=(-accel tcg -cpu "${GUEST_CPU:-max}")
fi
ACCEL_DESC=$ACCEL

# ---- payload: a second cpio archive appended to the base initramfs
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nvmpath-guest.XXXXXX")
cleanup() { rm -rf "$TMP"; }
on_signal() {
    echo "run.sh: interrupted, stopping QEMU" >&2
    local qpid="" tpid="" i
    [ -s "$TMP/qemu.pid" ] && qpid=$(cat "$TMP/qemu.pid")
    [ -s "$TMP/timeout.pid" ] && tpid=$(cat "$TMP/timeout.pid")
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
    # timeout(1) forwards TERM to QEMU (covers a QEMU that has not written its pidfile
    # yet) and SIGKILLs it 5 s later (-k 5)
    [ -n "$tpid" ] && kill "$tpid" 2>/dev/null
    for i in $(seq 1 70); do
        { [ -z "$qpid" ] || ! kill -0 "$qpid" 2>/dev/null; } && { [ -z "$tpid" ] || ! kill -0 "$tpid" 2>/dev/null; } && break
        sleep 0.1
    done
    cleanup; exit 130
}
trap cleanup EXIT
trap on_signal INT TERM

mkdir -p "$TMP/root/payload"
cp "$SCRIPT" "$TMP/root/payload/script.sh"
for f in ${GUEST_FILES:-}; do
    [ -f "$f" ] || { echo "run.sh: GUEST_FILES: no such file $f" >&2; exit 2; }
    cp "$f" "$TMP/root/payload/"
done
: > "$TMP/root/payload/env.sh"
for kv in ${GUEST_ENV:-}; do
    k=${kv%%=*}; v=${kv#*=}
    [[ "$k" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "run.sh: bad GUEST_ENV entry '$kv'" >&2; exit 2; }
    printf "%s='%s'\n" "$k" "${v//\'/\'\\\'\'}" >> "$TMP/root/payload/env.sh"
done
(cd "$TMP/root" && find . -mindepth 1 | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$TMP/payload.cpio.gz"
cat "$CACHE/initramfs.img" "$TMP/payload.cpio.gz" > "$TMP/initrd.cpio.gz"

LOG="$TMP/console.log"
# the flavour's own kernel parameters, when its setup wrote any (the trixie flavour does)
CACHE_APPEND=""; [ -s "$CACHE/cmdline" ] && CACHE_APPEND=$(head -1 "$CACHE/cmdline")
APPEND="console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init${CACHE_APPEND:+ $CACHE_APPEND} ${GUEST_APPEND:-}"
QARGS=(-nodefaults -no-user-config -machine q35 "${ACCEL_ARGS[@]}"
       -smp "$CPUS" -m "$MEM" -display none -serial stdio -monitor none -no-reboot
       -kernel "$KERNEL_IMG" -initrd "$TMP/initrd.cpio.gz" -append "$APPEND"
       -netdev "$NETDEV" -device virtio-net-pci,netdev=n0
       -pidfile "$TMP/qemu.pid" "${EXTRA_QEMU[@]}")

echo "run.sh: accel=$ACCEL_DESC cpus=$CPUS mem=${MEM}M timeout=${TIMEOUT}s hostfwd='${HOSTFWD:-}' guestfwd='${GUESTFWD:-}'" >&2
T0=$(date +%s.%N)
{ timeout -k 5 "$TIMEOUT" "$QEMU" "${QARGS[@]}" </dev/null 2>&1 & echo $! > "$TMP/timeout.pid"
  wait $!; echo $? > "$TMP/qemu.rc"; } \
    | sed -u 's/\r$//' | tee "$LOG" &
wait $!
T1=$(date +%s.%N)
[ -n "${GUEST_LOG:-}" ] && cp "$LOG" "$GUEST_LOG"
QRC=$(cat "$TMP/qemu.rc" 2>/dev/null || echo 1)
ELAPSED=$(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}')

EXITLINE=$(grep -a -E '^GUEST-EXIT [0-9]+$' "$LOG" | tail -1)
if [ "$QRC" = 124 ] || [ "$QRC" = 137 ]; then
    echo "run.sh: TIMEOUT after ${TIMEOUT}s (qemu killed), elapsed ${ELAPSED}s" >&2
    exit 124
fi
if [ -z "$EXITLINE" ]; then
    echo "run.sh: no GUEST-EXIT line (qemu rc=$QRC), elapsed ${ELAPSED}s" >&2
    exit 125
fi
RC=${EXITLINE#GUEST-EXIT }
echo "run.sh: guest script exit code $RC, qemu rc=$QRC, wall ${ELAPSED}s" >&2
exit "$RC"
