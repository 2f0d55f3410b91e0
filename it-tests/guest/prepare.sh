#!/usr/bin/env bash
# prepare.sh - run by the it-tests build before the integration tests: sets the guest up
# (setup.sh: host packages, guest kernel and initramfs). Where that cannot be done (not root,
# no apt), it says why and lets the build go on, so the tests that need the guest skip with
# that reason - except on CI (CI=true or -Dnvmpath.it.requirePeers=true), where it fails.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REQUIRED="${1:-false}"
[ "${CI:-}" = "true" ] && REQUIRED=true
if "$HERE/setup.sh"; then
    exit 0
fi
rc=$?
if [ "$REQUIRED" = "true" ]; then
    echo "prepare.sh: guest setup failed (exit $rc): the integration tests need it" >&2
    exit "$rc"
fi
echo "prepare.sh: guest setup failed (exit $rc); tests that need the QEMU guest will be skipped" >&2
exit 0
