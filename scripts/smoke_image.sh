#!/usr/bin/env bash
# Build the image (Dockerfile) and start the product in it as docs/run.md shows: the version
# with the compiled engine, `validate` on the stock sequences, the non-root user, and a `run`
# on the example data that delivers to the file outbox, its state and outbox on volumes that
# other containers then read. CI runs it through
# scripts/ci_image.sh. CONTAINER_ENGINE=podman uses podman; arguments go to the build, e.g.
#   scripts/smoke_image.sh --build-arg BASE=localhost/debian-python:bookworm
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${CONTAINER_ENGINE:-docker}
tag=journeyctl:smoke
volume=journeyctl-smoke-$$
outbox=journeyctl-smoke-outbox-$$
trap '$engine volume rm -f "$volume" "$outbox" >/dev/null 2>&1 || true' EXIT

$engine build -t "$tag" "$@" .
# (Not `tee /dev/stderr`: reopening stderr truncates a log file that CI's output goes to.)
version=$($engine run --rm "$tag" --version)
echo "$version"
grep -q "engine: compiled by mypyc" <<<"$version"
$engine run --rm "$tag" validate /project
test "$($engine run --rm --entrypoint id "$tag" -u)" != 0
$engine volume create "$volume" >/dev/null
$engine volume create "$outbox" >/dev/null
# A real tick on the example data (mounted read-only): state on one volume, the file outbox on
# another, both read back by other containers.
ran=$($engine run --rm -e UNSUBSCRIBE_SECRET=smoke-test-only -v "$volume:/var/lib/journeyctl" \
  -v "$outbox:/project/outbox" -v "$PWD/examples:/data:ro" "$tag" \
  run /project --db /var/lib/journeyctl/journey.db --contacts /data/contacts.csv \
  --events /data/events.csv --now 2026-11-01T10:00:00+09:00)
echo "$ran"
grep -Eq ' [1-9][0-9]* delivered' <<<"$ran"
# The state outlived its container: a reading command refuses a database that does not exist.
status=$($engine run --rm -v "$volume:/var/lib/journeyctl" "$tag" \
  status /project --db /var/lib/journeyctl/journey.db)
echo "$status"
grep -q "order-updates" <<<"$status"
# What was delivered is in the outbox volume, one JSON line per message.
lines=$($engine run --rm -v "$outbox:/outbox:ro" --entrypoint sh "$tag" -c 'cat /outbox/*.jsonl | wc -l')
echo "outbox: $lines message(s)"
test "$lines" -gt 0
echo "image smoke test: passed"
