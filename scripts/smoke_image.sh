#!/usr/bin/env bash
# Build the image (Dockerfile) and start the product in it as docs/run.md shows: the version
# with the compiled engine, `validate` on the stock sequences, the non-root user, and a `run`
# whose state lands on a volume that a second container then reads. CI runs it through
# scripts/ci_image.sh. CONTAINER_ENGINE=podman uses podman; arguments go to the build, e.g.
#   scripts/smoke_image.sh --build-arg BASE=localhost/debian-python:bookworm
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${CONTAINER_ENGINE:-docker}
tag=journeyctl:smoke
volume=journeyctl-smoke-$$
trap '$engine volume rm -f "$volume" >/dev/null 2>&1 || true' EXIT

$engine build -t "$tag" "$@" .
# (Not `tee /dev/stderr`: reopening stderr truncates a log file that CI's output goes to.)
version=$($engine run --rm "$tag" --version)
echo "$version"
grep -q "engine: compiled by mypyc" <<<"$version"
$engine run --rm "$tag" validate /project
test "$($engine run --rm --entrypoint id "$tag" -u)" != 0
$engine volume create "$volume" >/dev/null
$engine run --rm -e UNSUBSCRIBE_SECRET=smoke-test-only -v "$volume:/var/lib/journeyctl" "$tag" \
  run /project --db /var/lib/journeyctl/journey.db --now 2026-11-01T10:00:00+09:00
# The state outlived its container: a reading command refuses a database that does not exist.
$engine run --rm -v "$volume:/var/lib/journeyctl" "$tag" \
  status /project --db /var/lib/journeyctl/journey.db
echo "image smoke test: passed"
