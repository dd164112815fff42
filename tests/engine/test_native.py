"""The compiled engine (engine.native) is the same engine as its Python source.

`make` compiles the hot modules with mypyc; CI sets JOURNEYCTL_EXPECT_NATIVE=1, so there a
missing or stale build fails instead of silently testing only the Python engine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from journeyctl.engine import native

ROOT = Path(__file__).resolve().parents[2]
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


def _env(pure: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "JOURNEYCTL_PURE"}
    if pure:
        env["JOURNEYCTL_PURE"] = "1"
    return env


def _probe(pure: bool) -> tuple[bool, str, bool]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=_env(pure), capture_output=True, text=True,
        check=True,
    ).stdout.split()  # fmt: skip
    return out[0] == "True", out[1], out[2] == "True"


@pytest.fixture(scope="module")
def compiled() -> None:
    if native.built_digest() != native.source_digest():
        if os.environ.get("JOURNEYCTL_EXPECT_NATIVE"):
            pytest.fail("no current compiled engine: run `make native` (scripts/build_native.py)")
        pytest.skip("no current compiled engine here (`make native` builds it)")


def test_compiled_modules_load_and_pure_forces_source(compiled: None) -> None:
    is_native, where, native_model = _probe(pure=False)
    assert is_native and native_model and where.endswith(".so") and "_native" in where
    is_native, where, native_model = _probe(pure=True)
    assert not is_native and not native_model and where.endswith("advance.py")


def test_version_says_which_engine_runs(compiled: None) -> None:
    cmd = [sys.executable, "-m", "journeyctl", "--version"]
    fast = subprocess.run(cmd, cwd=ROOT, env=_env(False), capture_output=True, text=True)
    pure = subprocess.run(cmd, cwd=ROOT, env=_env(True), capture_output=True, text=True)
    assert (fast.returncode, pure.returncode) == (0, 0)
    assert "engine: compiled by mypyc" in fast.stdout
    assert "engine: pure Python" in pure.stdout


def test_compiled_and_pure_engines_simulate_the_same(compiled: None) -> None:
    fast = subprocess.run(SIMULATE, cwd=ROOT, env=_env(False), capture_output=True, check=True)
    pure = subprocess.run(SIMULATE, cwd=ROOT, env=_env(True), capture_output=True, check=True)
    assert b'"messages"' in fast.stdout and len(fast.stdout) > 100_000
    assert fast.stdout == pure.stdout


def test_a_stale_build_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An edited engine runs its source until rebuilt: the digest no longer matches."""
    monkeypatch.delenv("JOURNEYCTL_PURE", raising=False)
    digest = tmp_path / "SOURCES"
    monkeypatch.setattr(native, "DIGEST_FILE", digest)
    digest.write_text(native.source_digest() + "\n", encoding="ascii")
    path: list[str] = []
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert native.activate(path) and path[0].endswith(
        os.path.join("_native", "journeyctl", "engine")
    )
    monkeypatch.setenv("JOURNEYCTL_PURE", "0")  # only a set, non-zero value forces the source
    assert native.activate([])
    monkeypatch.setenv("JOURNEYCTL_PURE", "1")
    assert not native.activate([])
    monkeypatch.delenv("JOURNEYCTL_PURE")
    digest.write_text("0" * 64 + "\n", encoding="ascii")  # built from other sources
    path = []
    assert not native.activate(path) and path == []
    digest.unlink()  # no complete build
    assert not native.activate(path) and path == []
