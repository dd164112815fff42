#!/usr/bin/env bash
# CI's image job (.ci/run): build the Dockerfile and start the product in it
# (scripts/smoke_image.sh). With docker where its daemon answers. Otherwise with podman, which
# needs no daemon, from the OS packages, on a base made from Debian's repository
# (scripts/base_image.sh): CI machines may not reach Docker Hub (docs/decisions/image.md).
# IMAGE_BASE=docker.io/library/python:3.11-slim (or any base) skips making the local one.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  exec scripts/smoke_image.sh
fi
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v mmdebstrap >/dev/null; then
  if ! command -v apt-get >/dev/null; then
    echo "ci: no docker daemon and no apt-get to install podman: the image is not built here"
    exit 0
  fi
  $SUDO apt-get install -y -qq --no-install-recommends podman runc mmdebstrap >/dev/null ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends podman runc mmdebstrap >/dev/null; }
fi
# This engine's settings for CI, in a file of its own (nothing of the machine's is changed):
# runc, because crun refuses a machine whose cgroups mix v1 and v2 controllers; limits that a
# root without CAP_SYS_RESOURCE may set (podman's default asks for more and the container
# fails to start).
conf=$(mktemp)
trap 'rm -f "$conf"' EXIT
cat >"$conf" <<'EOF'
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
EOF
base=${IMAGE_BASE:-}
if [ -z "$base" ]; then
  base=localhost/debian-python:bookworm
  SECONDS=0
  log=$(mktemp)
  $SUDO env CONTAINERS_CONF="$conf" scripts/base_image.sh "$base" >"$log" 2>&1 ||
    { cat "$log"; rm -f "$log"; exit 1; }
  rm -f "$log"
  echo "ci: the base image $base from Debian's repository took ${SECONDS}s"
fi
# pip in the build trusts what this machine trusts (a TLS-intercepting proxy's CA, say),
# through the Dockerfile's optional build secret `ca`.
build=(--build-arg "BASE=$base")
ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
[ -s "$ca" ] && build+=(--secret "id=ca,src=$ca")
SECONDS=0
$SUDO env CONTAINERS_CONF="$conf" CONTAINER_ENGINE=podman scripts/smoke_image.sh "${build[@]}"
echo "ci: the image built and smoke-tested with podman in ${SECONDS}s"
