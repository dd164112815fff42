"""The two engines the differential tests compare: the one this process runs, and the other.

An editable install or a checkout runs the engine's Python source; a wheel built from the
repository runs its hot modules compiled by mypyc (hatch_build.py). CI runs the suite on both
(.ci/run): in the wheel's run it names the checkout the wheel was built from in
JOURNEYCTL_PURE_SOURCE, so a child process can run the same engine as Python source, and sets
JOURNEYCTL_EXPECT_NATIVE=1, so a wheel without its compiled modules fails instead of skipping.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

import journeyctl
from journeyctl.engine import NATIVE

ROOT = Path(__file__).resolve().parent.parent
EXPECT_NATIVE = os.environ.get("JOURNEYCTL_EXPECT_NATIVE", "") not in ("", "0")


def listed_modules(package: str = "journeyctl/engine") -> tuple[str, ...]:
    """The modules of `package` (the engine's unless named) pyproject.toml has the wheel
    build compile."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        hook = tomllib.load(f)["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["custom"]
    paths = [Path(path) for path in hook["compile"]]
    return tuple(sorted(p.stem for p in paths if p.parent.as_posix() == package))


def installed() -> bool:
    """journeyctl is imported from an installed wheel, not from the tree the tests are in."""
    return not Path(journeyctl.__file__).resolve().is_relative_to(ROOT)


def need_compiled() -> None:
    """Skip unless this process runs the compiled engine (fail where CI expects it)."""
    if not NATIVE:
        if EXPECT_NATIVE:
            pytest.fail("JOURNEYCTL_EXPECT_NATIVE=1 but the engine runs as Python source")
        pytest.skip("the engine runs as Python source here (CI's wheel run compares the two)")


def pure_env() -> dict[str, str]:
    """The environment of a child process that runs the engine as Python source."""
    env = dict(os.environ)
    if not NATIVE:
        return env  # this process's engine is the source already
    source = os.environ.get("JOURNEYCTL_PURE_SOURCE", "")
    if not (Path(source) / "journeyctl" / "engine" / "advance.py").is_file():
        message = "JOURNEYCTL_PURE_SOURCE names no checkout: the pure engine is not at hand"
        if EXPECT_NATIVE:
            pytest.fail(message)
        pytest.skip(message)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    return env
