#!/usr/bin/env bash
# Builds every image of the project, online or offline:
#   nvmpath/nvmpath     the gateway and the project's target (deploy/docker/Dockerfile)
#   nvmpath/prometheus  Prometheus from Debian's package, for the compose stack (deploy/prometheus/Dockerfile)
# Each on the base image BASE (default debian:bookworm-slim). When BASE is not given and that image is
# neither here nor pullable (no registry in reach), the base is made from Debian's packages
# (docker/make-base.sh: debootstrap + docker import) as nvmpath/debian:bookworm-slim, once.
#
# Usage: deploy/build-images.sh [--only nvmpath|prometheus]
# Environment: BASE, DOCKER (default docker), JAVA_HOME (a JDK >= 21 with jmods; default Temurin 25),
#              NVMPATH_TAG (default: the project version).
set -euo pipefail
deploy="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$deploy")"
docker=${DOCKER:-docker}
only=
[[ ${1:-} == --only ]] && only=${2:?--only nvmpath|prometheus}

log() { echo "build-images: $*" >&2; }
# docker build, its output shown only when it fails
build() {
  local out
  if ! out=$("$docker" build "$@" 2>&1); then
    printf '%s\n' "$out" >&2; log "docker build $* failed"; exit 1
  fi
}

"$docker" info >/dev/null 2>&1 || { log "no Docker daemon answers ($docker info failed)"; exit 1; }

# ---- the base -----------------------------------------------------------------------------------
if [[ -z ${BASE:-} ]]; then
  BASE=debian:bookworm-slim
  if ! "$docker" image inspect "$BASE" >/dev/null 2>&1 && ! timeout 60 "$docker" pull -q "$BASE" >/dev/null 2>&1; then
    BASE=nvmpath/debian:bookworm-slim
    if ! "$docker" image inspect "$BASE" >/dev/null 2>&1; then
      log "no registry answers for debian:bookworm-slim: making $BASE from Debian's packages"
      DOCKER=$docker "$deploy/docker/make-base.sh" "$BASE" bookworm
    fi
  fi
fi
log "base image $BASE"

version=$(sed -n 's|^  <version>\(.*\)</version>|\1|p' "$root/pom.xml" | head -1)
tag=${NVMPATH_TAG:-$version}

# ---- nvmpath/nvmpath ----------------------------------------------------------------------------
build_nvmpath() {
  local jdk
  . "$root/bin/find-jdk"
  jdk=$(nvmpath_find_jdk 21 jdk) || { log "no JDK 21 or newer found (set JAVA_HOME to one)"; exit 1; }
  # jlink links from jmods/ or, on JDKs built with a linkable run-time (JEP 493, as Temurin 25), from the JDK itself
  [[ -x $jdk/bin/jlink ]] || { log "no JDK with jlink at $jdk (set JAVA_HOME to a JDK >= 21)"; exit 1; }
  local jar="$root/server/target/nvmpath.jar"
  if [[ ! -f $jar ]] || [[ -n $(find "$root"/pom.xml "$root"/*/pom.xml "$root"/*/src/main -newer "$jar" -print -quit) ]]; then
    log "building $jar"
    (cd "$root" && ./mvnw -q -B -DskipTests -pl server -am package)
  fi
  local ctx="$deploy/target/docker"
  rm -rf "$ctx"; mkdir -p "$ctx/bin"
  # the modules the gateway uses (jdeps --print-module-deps, less java.desktop: Jackson uses
  # java.beans only when present); jdk.crypto.ec for TLS on JDKs that still ship it apart
  local modules=java.base,java.logging,java.naming,java.net.http,java.sql,jdk.jfr,jdk.management,jdk.unsupported
  "$jdk/bin/java" --list-modules | grep -q "^jdk.crypto.ec@" && modules+=,jdk.crypto.ec
  log "jlink $modules from $jdk"
  "$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
    --compress=zip-6 --output "$ctx/runtime"
  cp "$jar" "$ctx/nvmpath.jar"
  # Netty's native transports (io_uring, epoll) as files of the image, found on java.library.path: from
  # the jar they would be unpacked into /tmp, which a read-only container mounts noexec
  mkdir -p "$ctx/native"
  (cd "$ctx" && "$jdk/bin/jar" xf nvmpath.jar META-INF/native/ && mv META-INF/native/*.so native/ && rm -rf META-INF)
  cp "$root/bin/jvm-options" "$deploy"/docker/bin/* "$ctx/bin/"
  cp -r "$deploy/docker/etc" "$ctx/etc"
  cp "$deploy/docker/Dockerfile" "$ctx/Dockerfile"
  build --build-arg "BASE=$BASE" --build-arg "VERSION=$version" -t "nvmpath/nvmpath:$tag" -t nvmpath/nvmpath:latest "$ctx"
  log "nvmpath/nvmpath:$tag ($("$docker" image inspect -f '{{.Size}}' nvmpath/nvmpath:latest | awk '{printf "%.1f MB", $1/1e6}'))"
}

# ---- nvmpath/prometheus -------------------------------------------------------------------------
build_prometheus() {
  build --build-arg "BASE=$BASE" -t nvmpath/prometheus:latest "$deploy/prometheus"
  log "nvmpath/prometheus:latest ($("$docker" image inspect -f '{{.Size}}' nvmpath/prometheus:latest | awk '{printf "%.1f MB", $1/1e6}'))"
}

[[ -z $only || $only == nvmpath ]] && build_nvmpath
[[ -z $only || $only == prometheus ]] && build_prometheus
# what earlier builds left untagged
"$docker" image prune -f --filter label=org.opencontainers.image.title=nvmpath >/dev/null
"$docker" image prune -f --filter label=org.opencontainers.image.title=nvmpath-prometheus >/dev/null
exit 0
