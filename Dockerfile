# journeyctl as a container: the compiled wheel (hatch_build.py) on a slim Python, run as a
# non-root user, `journeyctl` the entrypoint, state on a volume. docs/run.md shows its use.
#   docker build -t journeyctl .
#   docker run --rm -e UNSUBSCRIBE_SECRET -v journeyctl-state:/var/lib/journeyctl \
#     -v "$PWD:/project:ro" journeyctl run /project --db /var/lib/journeyctl/journey.db

# Build: the C compiler mypyc needs, only here. The wheels of the dependencies too, so the
# runtime stage installs offline from exactly what was built.
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps -w /wheels . \
 && pip wheel --no-cache-dir -w /wheels /wheels/journeyctl-*.whl

# Runtime: no compiler, no sources, no pip cache.
FROM python:3.11-slim
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels journeyctl \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/journeyctl journeyctl \
 && mkdir -p /var/lib/journeyctl \
 && chown journeyctl:journeyctl /var/lib/journeyctl
# The stock library as the default project (`journeyctl init` writes the same files); mount
# your own over /project. Its file outbox (outbox/) is the one place in it the user writes.
COPY --chown=root:root sequences /project
RUN rm -rf /project/outbox && mkdir /project/outbox && chown journeyctl:journeyctl /project/outbox
USER journeyctl
WORKDIR /var/lib/journeyctl
VOLUME ["/var/lib/journeyctl"]
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
ENTRYPOINT ["journeyctl"]
CMD ["--help"]
