#!/usr/bin/env bash
# Makes a minimal Debian base image from Debian's packages, for machines that reach Debian's mirror
# but no image registry: debootstrap --variant=minbase, trimmed the way the debian:*-slim images are
# (no documentation, manual pages or locales, now or for packages installed later), then
# `docker import`. Usage: make-base.sh IMAGE [SUITE] — e.g. make-base.sh nvmpath/debian:bookworm-slim bookworm
set -euo pipefail
image=${1:?usage: make-base.sh IMAGE [SUITE]}
suite=${2:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
docker=${DOCKER:-docker}
command -v debootstrap >/dev/null || { echo "make-base.sh: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "make-base.sh: debootstrap needs root" >&2; exit 1; }

root=$(mktemp -d /var/tmp/nvmpath-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "make-base.sh: debootstrap --variant=minbase $suite from $mirror" >&2
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1 \
  || { tail -20 "$root.log" >&2; echo "make-base.sh: debootstrap failed (log: $root.log)" >&2; exit 1; }
rm -f "$root.log"

# what debian:*-slim leaves out, also for packages installed later in a Dockerfile
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
CFG
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
CFG
echo 'APT::Install-Recommends "false";' >"$root/etc/apt/apt.conf.d/docker-no-recommends"
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$root"/usr/share/{man,info,locale,lintian}/* "$root"/var/cache/apt/archives/*.deb \
       "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/* 2>/dev/null || true
# the mirror the image's apt uses, as the debian images list it
printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  "$mirror" "$suite" "$suite" >"$root/etc/apt/sources.list.d/debian.sources"
rm -f "$root/etc/apt/sources.list"
: >"$root/etc/machine-id"

tar -C "$root" --numeric-owner -c . | "$docker" import \
  -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' -m "debootstrap --variant=minbase $suite, slimmed" - "$image" >/dev/null
echo "make-base.sh: $image ($("$docker" image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))" >&2
