"""Hypothesis profiles of the fuzz suite (issue 14, item 2).

The normal run is short and derandomized (the same examples on every machine, so CI is not
flaky); `JOURNEYCTL_FUZZ=long` explores with fresh random examples, thousands per property:

    JOURNEYCTL_FUZZ=long .venv/bin/pytest tests/fuzz

`JOURNEYCTL_FUZZ_EXAMPLES=N` overrides the number of examples of either profile.
Profiles are applied per test (`tests.fuzz.support.fuzz`), never loaded globally, so the rest
of the suite keeps its own hypothesis settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SHORT = "journeyctl-fuzz-short"
LONG = "journeyctl-fuzz-long"

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def _examples(default: int) -> int:
    return int(os.environ.get("JOURNEYCTL_FUZZ_EXAMPLES", default))


settings.register_profile(
    SHORT,
    max_examples=_examples(100),
    derandomize=True,
    deadline=None,  # 2 slow shared cores: a time limit per example would be flaky
    suppress_health_check=_SLOW_OK,
    database=None,
    print_blob=True,
)
settings.register_profile(
    LONG,
    max_examples=_examples(3000),
    derandomize=False,
    deadline=None,
    suppress_health_check=_SLOW_OK,
    database=None,
    print_blob=True,
)
