"""The compiled engine (a wheel's mypyc modules) is the same engine as its Python source.

The wheel build compiles the modules pyproject.toml lists (hatch_build.py); an editable install
runs the source. CI runs this suite on both (.ci/run, tests/engines.py): in the wheel's run it
sets JOURNEYCTL_EXPECT_NATIVE=1, so a wheel without its compiled modules fails there instead of
silently testing only the Python engine, and compares the two engines' output.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES

import pytest

from journeyctl.engine import NATIVE, native
from tests.engines import (
    EXPECT_NATIVE,
    ROOT,
    installed,
    listed_modules,
    need_compiled,
    pure_env,
)

SIMULATE = [
    sys.executable, "-m", "journeyctl", "simulate", "sequences",
    "--contacts", "examples/contacts.csv", "--events", "examples/events.csv",
    "--start", "2026-11-01", "--days", "30", "--assume", "opened=0.4,clicked=0.1",
    "--seed", "7", "--format", "json",
]  # fmt: skip
# The outbox and the readers' builders check the model's fields at import: in the pure run
# those checks see the declared types (compiled classes report optional hints as `type`).
PROBE = (
    "import journeyctl.engine as e, journeyctl.engine.advance as a, journeyctl.channels.outbox,"
    " journeyctl.data.build as b; print(e.NATIVE, a.__file__, b.NATIVE_MODEL)"
)


def _probe(env: dict[str, str] | None) -> tuple[bool, str, bool]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
        check=True,
    ).stdout.split()  # fmt: skip
    return out[0] == "True", out[1], out[2] == "True"


def test_the_wheel_runs_every_listed_module_compiled() -> None:
    need_compiled()
    assert installed(), "the tests import journeyctl from the tree, not from the wheel"
    assert native.compiled_modules() == listed_modules()
    for name in listed_modules():
        module = __import__(f"journeyctl.engine.{name}", fromlist=["_"])
        assert module.__file__ and module.__file__.endswith(tuple(EXTENSION_SUFFIXES)), name


def test_the_source_runs_without_compiled_modules() -> None:
    """An editable install or a checkout runs its source: the build never writes the tree."""
    if EXPECT_NATIVE or installed():
        pytest.skip("the tests run an installed wheel here")
    assert native.compiled_modules() == ()
    assert not NATIVE


def test_compiled_modules_load_and_the_source_runs_pure() -> None:
    need_compiled()
    is_native, where, native_model = _probe(None)
    assert is_native and native_model and where.endswith(tuple(EXTENSION_SUFFIXES))
    assert not where.startswith(str(ROOT))
    is_native, where, native_model = _probe(pure_env())
    assert not is_native and not native_model and where.endswith("advance.py")


def test_version_says_which_engine_runs() -> None:
    cmd = [sys.executable, "-m", "journeyctl", "--version"]
    this = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert this.returncode == 0, this.stderr
    expected = "engine: compiled by mypyc" if NATIVE else "engine: pure Python"
    assert expected in this.stdout
    assert NATIVE or not EXPECT_NATIVE
    if NATIVE:
        pure = subprocess.run(cmd, cwd=ROOT, env=pure_env(), capture_output=True, text=True)
        assert pure.returncode == 0, pure.stderr
        assert "engine: pure Python" in pure.stdout


def test_compiled_and_pure_engines_simulate_the_same() -> None:
    need_compiled()
    fast = subprocess.run(SIMULATE, cwd=ROOT, capture_output=True, check=True)
    pure = subprocess.run(SIMULATE, cwd=ROOT, env=pure_env(), capture_output=True, check=True)
    assert b'"messages"' in fast.stdout and len(fast.stdout) > 100_000
    assert fast.stdout == pure.stdout
