#!/usr/bin/env bash
# A base for the Dockerfile made from Debian's own repository, for machines that cannot pull
# the official python image (no Docker Hub): Debian bookworm (minbase) with its python3 (3.11),
# ca-certificates and tzdata, documentation left out as the slim images do, imported into the
# container engine. Then `--build-arg BASE=<tag>` builds on it (docs/decisions/image.md).
#   scripts/base_image.sh [TAG]        default TAG: localhost/debian-python:bookworm
# CONTAINER_ENGINE: podman (default) or docker. DEBIAN_MIRROR: the Debian mirror to use.
# Needs mmdebstrap (Debian package) and root, or mmdebstrap's unshare mode as another user.
set -euo pipefail
tag=${1:-localhost/debian-python:bookworm}
engine=${CONTAINER_ENGINE:-podman}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
command -v mmdebstrap >/dev/null || {
  echo "base_image.sh: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2
  exit 1
}
# The point release, its updates and its security fixes, as Debian's own images carry.
mmdebstrap --variant=minbase --format=tar \
  --include=python3,ca-certificates,tzdata \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  bookworm - \
  "deb $mirror bookworm main" \
  "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main" |
  "$engine" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$tag"
