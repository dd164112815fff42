# journeyctl as a container: the compiled wheel (hatch_build.py) on a slim Python, run as a
# non-root user, `journeyctl` the entrypoint, state on a volume. docs/run.md shows its use.
#   docker build -t journeyctl .
#   docker run --rm -e UNSUBSCRIBE_SECRET -v journeyctl-state:/var/lib/journeyctl \
#     -v "$PWD:/project:ro" journeyctl run /project --db /var/lib/journeyctl/journey.db
#
# BASE: any Debian-based image with Python >= 3.11 as `python3`. The default is the official
# python:3.11-slim, named in full so that podman needs no short-name alias. Where Docker Hub is
# out of reach, scripts/base_image.sh makes a base from Debian's own repository (bookworm's
# python3) and `--build-arg BASE=localhost/debian-python:bookworm` builds on it
# (docs/decisions/image.md).
ARG BASE=docker.io/library/python:3.11-slim

# Build: the C compiler mypyc needs, only here, and the journeyctl venv the runtime stage
# copies (the same BASE, so its interpreter is at the same path there).
FROM ${BASE} AS build
# What this base's Python lacks to build: always gcc; the venv module (ensurepip) and the C
# headers only where Python is Debian's package (python:3.11-slim carries both).
RUN set -eu; packages="gcc libc6-dev"; \
    python3 -c 'import ensurepip' 2>/dev/null || packages="$packages python3-venv"; \
    test -e "$(python3 -c 'import sysconfig; print(sysconfig.get_path("include"))')/Python.h" \
      || packages="$packages python3-dev"; \
    apt-get update \
 && apt-get install -y --no-install-recommends $packages \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Behind a proxy that intercepts TLS, pip needs its CA to reach PyPI: give the bundle as the
# build secret `ca` (`--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt`, docs/run.md);
# a secret is mounted for this step only, nothing of it stays in the image.
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
 && python3 -m venv /opt/journeyctl \
 && /opt/journeyctl/bin/pip wheel --no-cache-dir --no-deps -w /wheels . \
 && /opt/journeyctl/bin/pip install --no-cache-dir /wheels/journeyctl-*.whl

# Runtime: no compiler, no sources, no pip cache: the venv built above.
FROM ${BASE}
COPY --from=build /opt/journeyctl /opt/journeyctl
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/journeyctl journeyctl \
 && mkdir -p /var/lib/journeyctl \
 && chown journeyctl:journeyctl /var/lib/journeyctl
# The stock library as the default project (`journeyctl init` writes the same files); mount
# your own over /project. Its file outbox (outbox/) is the one place in it the user writes.
COPY --chown=root:root sequences /project
RUN rm -rf /project/outbox && mkdir /project/outbox && chown journeyctl:journeyctl /project/outbox
USER journeyctl
WORKDIR /var/lib/journeyctl
VOLUME ["/var/lib/journeyctl"]
ENV PATH=/opt/journeyctl/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
ENTRYPOINT ["journeyctl"]
CMD ["--help"]
