#!/usr/bin/env bash
# setup.sh [FLAVOUR] - prepare a QEMU guest of the nvmpath integration tests (used by run.sh).
#
# FLAVOUR (or GUEST_FLAVOUR) picks which guest is built; each has its own cache, stamp and lock:
#   bookworm  (default) Debian 12, kernel 6.1: setup-bookworm.sh, /var/cache/nvmpath-guest
#   trixie    Debian 13, kernel 6.12 (NVMe in-band authentication, NVMe/TCP TLS):
#             setup-trixie.sh, /var/cache/nvmpath-guest-trixie
# NVMP_GUEST_CACHE overrides the cache folder of the flavour being built. The other
# variables (FORCE, KERNEL_PKG, ...) are described in the flavour's script.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FLAVOUR="${1:-${GUEST_FLAVOUR:-bookworm}}"
case "$FLAVOUR" in
    bookworm|trixie) exec "$HERE/setup-$FLAVOUR.sh" ;;
    *) echo "setup.sh: unknown guest flavour '$FLAVOUR' (bookworm, trixie)" >&2; exit 2 ;;
esac
