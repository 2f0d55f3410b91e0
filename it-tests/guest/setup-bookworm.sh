#!/usr/bin/env bash
# setup.sh - prepare the QEMU guest of the nvmpath integration tests (used by run.sh).
#
# Installs the host tools with apt-get (Debian 12, as root), downloads (does not
# install) Debian's kernel and the guest's user-space packages, and builds
#   $NVMP_GUEST_CACHE/vmlinux         (uncompressed kernel for QEMU's PVH entry)
#   $NVMP_GUEST_CACHE/vmlinuz         (the bzImage, fallback)
#   $NVMP_GUEST_CACHE/initramfs.img   (newc cpio, zstd- or gzip-compressed)
# Idempotent: when the stamp matches, it returns in well under a second.
# Concurrent runs are serialised with flock on $NVMP_GUEST_CACHE/.lock.
#
# Environment:
#   NVMP_GUEST_CACHE   cache folder (default /var/cache/nvmpath-guest)
#   KERNEL_PKG         kernel package (default: what linux-image-amd64 depends on)
#   INITRAMFS_COMPRESS zstd (default) or gzip
#   FIO_FULL_LIBS=1    ship fio's real librbd/librados/libgfapi/libnbd (+~90 MB) instead of stubs
#   FORCE=1            rebuild the initramfs even if the stamp matches
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${NVMP_GUEST_CACHE:-/var/cache/nvmpath-guest}"
ARCH_TRIPLET=x86_64-linux-gnu

log() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (apt-get, depmod)"
mkdir -p "$CACHE"
# one setup at a time per cache (CI may start several builds); fd 9 stays open until exit
exec 9>"$CACHE/.lock"
flock -w 900 9 || die "another setup.sh holds $CACHE/.lock"
T0=$(date +%s.%N)

# ---------------------------------------------------------------- host tools
# command -> Debian package that provides it
# (gcc + libc6-dev build the fio stub libraries; xz-utils unpacks the kernel for vmlinux)
HOST_TOOLS="qemu-system-x86_64:qemu-system-x86 qemu-nbd:qemu-utils busybox:busybox-static
cpio:cpio depmod:kmod socat:socat readelf:binutils nm:binutils ldconfig:libc-bin zstd:zstd
xz:xz-utils gzip:gzip debugfs:e2fsprogs python3:python3 gcc:gcc flock:util-linux
apt-cache:apt dpkg-deb:dpkg timeout:coreutils"
APT_UPDATED=0
apt_update_once() {
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        apt-get update -qq >&2
        APT_UPDATED=1
    fi
}
missing_pkgs=()
for pair in $HOST_TOOLS; do
    cmd=${pair%%:*}; pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/sbin/$cmd" ] || missing_pkgs+=("$pkg")
done
# busybox must be the static build (it is copied into the guest)
if command -v busybox >/dev/null 2>&1 && readelf -l "$(command -v busybox)" 2>/dev/null | grep -q 'program interpreter'; then
    missing_pkgs+=(busybox-static)
fi
# headers and crt files for the stub libraries
[ -f /usr/include/stdio.h ] && [ -f /usr/lib/$ARCH_TRIPLET/crti.o ] || missing_pkgs+=(libc6-dev)
if [ ${#missing_pkgs[@]} -gt 0 ]; then
    apt_update_once
    log "apt-get install ${missing_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >&2
fi
export PATH="$PATH:/usr/sbin:/sbin"

# ------------------------------------------------------------ what to build
# User-space packages for the guest: downloaded and extracted, never installed.
GUEST_PKGS="nbd-client nvme-cli libnvme1 fio e2fsprogs kmod libc6"
# Kernel modules wanted in the guest (dependencies are added automatically).
GUEST_MODULES="virtio_pci virtio_net configfs nbd loop null_blk ext4 nvme_core nvme_fabrics nvme_tcp
nvmet nvmet_tcp crc32c_generic crc32c_intel libcrc32c 9p 9pnet_virtio"

KERNEL_PKG_FILE="$CACHE/kernel-pkg"
if [ -n "${KERNEL_PKG:-}" ]; then
    :
elif [ -s "$KERNEL_PKG_FILE" ] && [ -z "${FORCE:-}" ]; then
    KERNEL_PKG=$(cat "$KERNEL_PKG_FILE")
else
    apt_update_once
    KERNEL_PKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    [ -n "$KERNEL_PKG" ] || die "cannot resolve linux-image-amd64 to a versioned kernel package"
fi

STAMP_WANT=$( { cat "${BASH_SOURCE[0]}" "$HERE/guest-init.sh"; echo "$KERNEL_PKG ${INITRAMFS_COMPRESS:-zstd} ${FIO_FULL_LIBS:-0}"; } | sha256sum | cut -c1-16)
if [ -z "${FORCE:-}" ] && [ -s "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$STAMP_WANT" ] \
   && [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/initramfs.img" ]; then
    log "up to date: $CACHE (kernel $(cat "$CACHE/kver"), $(du -h "$CACHE/initramfs.img" | cut -f1) initramfs)"
    exit 0
fi

# --------------------------------------------------------------- downloads
DEBS="$CACHE/debs"
mkdir -p "$DEBS"
have_deb() { compgen -G "$DEBS/${1}_*.deb" >/dev/null; }
download() {   # download packages not yet in $DEBS
    local want=() p
    for p in "$@"; do have_deb "$p" || want+=("$p"); done
    [ ${#want[@]} -eq 0 ] && return 0
    apt_update_once
    log "apt-get download ${#want[@]} package(s): ${want[*]}"
    (cd "$DEBS" && apt-get download -q -o APT::Sandbox::User=root "${want[@]}" >&2)
}

# library closure of the user-space packages (Depends/PreDepends, lib* only)
CLOSURE_FILE="$CACHE/closure.txt"
if [ ! -s "$CLOSURE_FILE" ] || [ -n "${FORCE:-}" ]; then
    apt_update_once
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances $GUEST_PKGS 2>/dev/null \
      | grep -v '^[ <]' | sed 's/:amd64$//' | sort -u \
      | grep -E '^lib' | grep -vE '^(libperl|libpython|libc6-|libgcc-s1-|libc-dev)' > "$CLOSURE_FILE.tmp"
    mv "$CLOSURE_FILE.tmp" "$CLOSURE_FILE"
fi
# shellcheck disable=SC2046,SC2086  # word splitting of the package lists is intended
download "$KERNEL_PKG" $GUEST_PKGS $(cat "$CLOSURE_FILE")

# ------------------------------------------------------------- extraction
SYSROOT="$CACHE/sysroot"      # all user-space debs, extracted
KROOT="$CACHE/kernel"         # kernel deb, extracted
if [ ! -f "$SYSROOT/.done" ] || [ -n "${FORCE:-}" ]; then
    log "extracting user-space packages"
    rm -rf "$SYSROOT"; mkdir -p "$SYSROOT"
    for d in "$DEBS"/*.deb; do
        case "$(basename "$d")" in linux-image-*) continue;; esac
        dpkg-deb -x "$d" "$SYSROOT"
    done
    touch "$SYSROOT/.done"
fi
if [ ! -f "$KROOT/.done" ] || [ "$(cat "$KROOT/.pkg" 2>/dev/null)" != "$KERNEL_PKG" ]; then
    log "extracting $KERNEL_PKG"
    rm -rf "$KROOT"; mkdir -p "$KROOT"
    dpkg-deb -x "$(ls "$DEBS/${KERNEL_PKG}"_*.deb | head -1)" "$KROOT"
    echo "$KERNEL_PKG" > "$KROOT/.pkg"
    touch "$KROOT/.done"
fi
KVER=$(ls "$KROOT/lib/modules" | head -1)
[ -n "$KVER" ] || die "no modules in $KERNEL_PKG"
[ -f "$KROOT/lib/modules/$KVER/modules.dep" ] || depmod -b "$KROOT" "$KVER"

# --------------------------------------------------------------- initramfs
STAGE="$CACHE/stage"
log "building initramfs in $STAGE (kernel $KVER)"
rm -rf "$STAGE"
mkdir -p "$STAGE"/usr/{bin,sbin,lib/$ARCH_TRIPLET,lib64} "$STAGE"/{proc,sys,dev,run,tmp,mnt,root,etc/nvme,var/tmp}
ln -s usr/bin "$STAGE/bin"; ln -s usr/sbin "$STAGE/sbin"
ln -s usr/lib "$STAGE/lib"; ln -s usr/lib64 "$STAGE/lib64"
chmod 1777 "$STAGE/tmp" "$STAGE/var/tmp"

# busybox + applet links (real tools copied below overwrite the links)
cp "$(command -v busybox)" "$STAGE/usr/bin/busybox"
for a in $(busybox --list); do
    [ "$a" = busybox ] && continue
    ln -sf /usr/bin/busybox "$STAGE/usr/bin/$a"
done

# libraries: resolve DT_NEEDED recursively, sysroot first, then the host
LIBDIRS_SYS="$SYSROOT/usr/lib/$ARCH_TRIPLET $SYSROOT/lib/$ARCH_TRIPLET $SYSROOT/usr/lib $SYSROOT/lib"
LIBDIRS_HOST="/usr/lib/$ARCH_TRIPLET /lib/$ARCH_TRIPLET /usr/lib /lib"
declare -A DONE_LIBS=()
find_lib() {   # $1: soname  $2: extra dirs (RUNPATH/RPATH of the requester, guest paths)
    local d
    for d in $(for r in ${2:-}; do echo "$SYSROOT$r"; done) $LIBDIRS_SYS ${2:-} $LIBDIRS_HOST; do
        [ -e "$d/$1" ] && { echo "$d/$1"; return 0; }
    done
    return 1
}
add_libs_of() {   # $1: ELF file (on the build host); libraries are copied flat into /usr/lib/<triplet>
    local lib path dyn rpath
    dyn=$(readelf -d "$1" 2>/dev/null)
    rpath=$(sed -n 's/.*Library r[a-z]*path: \[\(.*\)\]/\1/p' <<<"$dyn" | tr ':' ' ' | sed 's/\$ORIGIN[^ ]*//g')
    for lib in $(sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' <<<"$dyn"); do
        [ -n "${DONE_LIBS[$lib]:-}" ] && continue
        DONE_LIBS[$lib]=1
        if [ -n "${STUB_LIBS[$lib]:-}" ]; then
            cp "${STUB_LIBS[$lib]}" "$STAGE/usr/lib/$ARCH_TRIPLET/$lib"
            continue
        fi
        path=$(find_lib "$lib" "$rpath") || die "library $lib (needed by $1) not found"
        cp -L "$path" "$STAGE/usr/lib/$ARCH_TRIPLET/$lib"
        add_libs_of "$path"
    done
}
# fio links librbd, librados, libgfapi and libnbd (its rbd, rados, gfapi and nbd
# engines, unused here); their closure (ceph-common, boost, libxml2, icu, ...) is
# ~90 MB and costs seconds of initramfs unpacking under TCG. Unless FIO_FULL_LIBS=1
# (or gcc/nm are missing), those four are replaced by stubs that export the symbols
# fio imports (each prints an error and exits 78): those four engines fail in the
# guest, every other fio engine (libaio, io_uring, psync, null, ...) works.
declare -A STUB_LIBS=()
make_stub_libs() {   # $1: the fio binary
    local fio=$1 lib real dir="$CACHE/stubs" vers
    mkdir -p "$dir"
    for lib in librbd.so.1 librados.so.2 libgfapi.so.0 libnbd.so.0; do
        real=$(find_lib "$lib" "/usr/lib/$ARCH_TRIPLET/ceph") || continue
        # symbols fio imports that the real library defines (name@VERSION or name)
        nm -D --defined-only "$real" | awk '{print $3}' | sed 's/@.*//' | sort -u > "$dir/$lib.defs"
        nm -D --undefined-only "$fio" | awk '{print $2}' \
          | awk -F@ 'NR==FNR{d[$1]=1; next} ($1 in d){print}' "$dir/$lib.defs" - | sort -u > "$dir/$lib.syms"
        {
            echo '/* generated by setup.sh: stub of '"$lib"' for fio. Calling any of these'
            echo '   means an engine that needs the real library: fail loudly, never hang. */'
            echo '#include <stdio.h>'
            echo '#include <unistd.h>'
            echo 'static void stub(const char *f) { fprintf(stderr, "nvmpath-guest: %s() called but '"$lib"' is a stub (rebuild with FIO_FULL_LIBS=1 setup.sh)\n", f); _exit(78); }'
            awk -F@ '{printf "long %s(void) { stub(\"%s\"); return -1; }\n", $1, $1}' "$dir/$lib.syms"
        } > "$dir/$lib.c"
        # version script: one node per version seen in fio's references
        vers=$(awk -F@ 'NF>1{print $2}' "$dir/$lib.syms" | sort -u)
        if [ -n "$vers" ]; then
            local prev="" v
            : > "$dir/$lib.map"
            for v in $vers; do
                { echo "$v {"; echo "  global:"
                  awk -F@ -v v="$v" '$2==v{printf "    %s;\n", $1}' "$dir/$lib.syms"
                  [ -z "$prev" ] && echo "  local: *;"
                  echo "}${prev:+ $prev};"; } >> "$dir/$lib.map"
                prev=$v
            done
            gcc -shared -fPIC -O1 -o "$dir/$lib" -Wl,-soname,"$lib" -Wl,--version-script="$dir/$lib.map" "$dir/$lib.c" || return 1
        else
            gcc -shared -fPIC -O1 -o "$dir/$lib" -Wl,-soname,"$lib" "$dir/$lib.c" || return 1
        fi
        [ -s "$dir/$lib" ] || return 1
        STUB_LIBS[$lib]="$dir/$lib"
    done
}
if [ "${FIO_FULL_LIBS:-0}" != 1 ] && command -v gcc >/dev/null && command -v nm >/dev/null; then
    make_stub_libs "$SYSROOT/usr/bin/fio" || { log "warning: stub generation failed, using the real libraries"; STUB_LIBS=(); }
fi

add_bin() {   # $1: path inside sysroot (e.g. usr/sbin/nvme)  $2: dest (e.g. usr/sbin/nvme)
    local src="$SYSROOT/$1"
    [ -e "$src" ] || die "missing $1 in the extracted packages"
    rm -f "$STAGE/$2"
    cp -L "$src" "$STAGE/$2"
    add_libs_of "$src"
}
add_bin sbin/nbd-client     usr/sbin/nbd-client
add_bin usr/sbin/nvme       usr/sbin/nvme
add_bin usr/bin/fio         usr/bin/fio
add_bin sbin/mke2fs         usr/sbin/mke2fs
add_bin sbin/e2fsck         usr/sbin/e2fsck
add_bin sbin/tune2fs        usr/sbin/tune2fs
add_bin sbin/dumpe2fs       usr/sbin/dumpe2fs
add_bin bin/kmod            usr/bin/kmod
for t in mkfs.ext4 mkfs.ext3 mkfs.ext2; do ln -sf mke2fs "$STAGE/usr/sbin/$t"; done
ln -sf e2fsck "$STAGE/usr/sbin/fsck.ext4"
for t in modprobe insmod rmmod lsmod depmod modinfo; do
    rm -f "$STAGE/usr/bin/$t" "$STAGE/usr/sbin/$t"
    ln -s ../bin/kmod "$STAGE/usr/sbin/$t"
done
cp "$SYSROOT/etc/mke2fs.conf" "$STAGE/etc/mke2fs.conf"
# dynamic loader
LDSO=$(find_lib ld-linux-x86-64.so.2) || die "ld-linux-x86-64.so.2 not found"
cp -L "$LDSO" "$STAGE/usr/lib/$ARCH_TRIPLET/ld-linux-x86-64.so.2"
ln -sf ../lib/$ARCH_TRIPLET/ld-linux-x86-64.so.2 "$STAGE/usr/lib64/ld-linux-x86-64.so.2"
echo "/usr/lib/$ARCH_TRIPLET" > "$STAGE/etc/ld.so.conf"
ldconfig -r "$STAGE" 2>/dev/null || log "warning: ldconfig -r failed (loader default paths will be used)"

# kernel modules: closure via modprobe --show-depends on the extracted kernel
MODDST="$STAGE/usr/lib/modules/$KVER"
mkdir -p "$MODDST"
missing_mods=()
for m in $GUEST_MODULES; do
    out=$(modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" 2>/dev/null) || { missing_mods+=("$m"); continue; }
    while read -r kind path _; do
        [ "$kind" = insmod ] || continue
        rel=${path#"$KROOT/lib/modules/$KVER/"}
        mkdir -p "$MODDST/$(dirname "$rel")"
        cp "$path" "$MODDST/$rel"
    done <<<"$out"
done
[ ${#missing_mods[@]} -eq 0 ] || log "note: modules not available (built in or absent): ${missing_mods[*]}"
cp "$KROOT/lib/modules/$KVER"/modules.{builtin,builtin.modinfo,order} "$MODDST/" 2>/dev/null || true
depmod -b "$STAGE" "$KVER"

# /etc basics and the init
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$STAGE/etc/passwd"
printf 'root:x:0:\n' > "$STAGE/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$STAGE/etc/hosts"
echo nvmpath-guest > "$STAGE/etc/hostname"
install -m 0755 "$HERE/guest-init.sh" "$STAGE/init"
echo "$KVER" > "$STAGE/etc/nvmpath-kver"

# initramfs.img is a compressed newc cpio: zstd by default (the kernel unpacks it
# ~1.4x faster than gzip under TCG), INITRAMFS_COMPRESS=gzip for a plain cpio.gz.
if [ "${INITRAMFS_COMPRESS:-zstd}" = zstd ] && command -v zstd >/dev/null \
   && grep -q '^CONFIG_RD_ZSTD=y' "$KROOT/boot/config-$KVER"; then
    COMPRESS=(zstd -q -T0 -10)
else
    COMPRESS=(gzip -6)
fi
log "packing initramfs (${COMPRESS[0]})"
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | "${COMPRESS[@]}") \
    > "$CACHE/initramfs.img.tmp"
mv "$CACHE/initramfs.img.tmp" "$CACHE/initramfs.img"
echo "${COMPRESS[0]}" > "$CACHE/initramfs.format"
cp "$KROOT/boot/vmlinuz-$KVER" "$CACHE/vmlinuz"
# Uncompressed vmlinux for QEMU's PVH entry (CONFIG_PVH=y): skips the bzImage's
# decompressor, ~4 s per boot under TCG. run.sh falls back to vmlinuz without it.
extract_vmlinux() {   # $1: bzImage  $2: output
    local fmt magic cmd off
    for fmt in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
        magic=${fmt#*:}
        case ${fmt%%:*} in xz) cmd="xz -dc --single-stream";; zstd) cmd="zstd -dcq";; gzip) cmd="gzip -dc";; esac
        for off in $(LC_ALL=C grep -obUaP "$magic" "$1" | cut -d: -f1 | head -3); do
            tail -c +$((off + 1)) "$1" | $cmd > "$2.tmp" 2>/dev/null
            if readelf -h "$2.tmp" 2>/dev/null | grep -q 'Type: *EXEC'; then mv "$2.tmp" "$2"; return 0; fi
        done
    done
    rm -f "$2.tmp"; return 1
}
rm -f "$CACHE/vmlinux"
if grep -q '^CONFIG_PVH=y' "$KROOT/boot/config-$KVER"; then
    extract_vmlinux "$CACHE/vmlinuz" "$CACHE/vmlinux" || log "note: no vmlinux extracted, run.sh boots the bzImage"
fi
echo "$KVER" > "$CACHE/kver"
echo "$KERNEL_PKG" > "$KERNEL_PKG_FILE"
echo "$STAMP_WANT" > "$CACHE/stamp"
T1=$(date +%s.%N)
log "done in $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}')s: kernel $KVER," \
    "initramfs $(du -h "$CACHE/initramfs.img" | cut -f1) ($(du -sh "$STAGE" | cut -f1) unpacked)"
