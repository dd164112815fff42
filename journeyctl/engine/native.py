"""The engine's hot modules, compiled to C by mypyc where a compiler is at hand.

`make` builds them (scripts/build_native.py) into `_native/`, beside a digest of the very
sources and interpreter they were built from. They are used only while that digest matches:
an edited engine never runs stale machine code, it runs its Python source until rebuilt.
The compiled modules are the same source, so there is still one engine; `JOURNEYCTL_PURE=1`
forces the Python one (tests compare the two outputs); `JOURNEYCTL_PURE=0` does not.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

# What mypyc compiles: the modules `simulate` and `run` spend their time in. model.py too: its
# dataclasses become C types whose attributes compiled code reads directly (bench/RESULTS.md).
COMPILED = (
    "advance", "agenda", "draw", "evaluate", "facts", "fastexpr", "horizon", "instant", "model",
    "plan", "render", "rules", "steps", "timing", "trace", "triggers", "wire",
)  # fmt: skip
GROUP = "journeyctl_engine"  # the compiled modules' shared library: `journeyctl_engine__mypyc`
HERE = Path(__file__).parent
NATIVE_DIR = HERE / "_native"
DIGEST_FILE = NATIVE_DIR / "SOURCES"


def sources() -> list[Path]:
    return [HERE / f"{name}.py" for name in COMPILED]


def source_digest() -> str:
    """Changes when any compiled module's source or the interpreter changes."""
    h = hashlib.sha256(sys.version.encode())
    for path in sources():
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def built_digest() -> str | None:
    """The digest the present build was made from (None: no complete build)."""
    try:
        return DIGEST_FILE.read_text(encoding="ascii").strip()
    except OSError:
        return None


def activate(package_path: list[str]) -> bool:
    """Put the compiled modules first on the engine package's path, if they are current."""
    if os.environ.get("JOURNEYCTL_PURE", "0") not in ("", "0"):
        return False
    if built_digest() != source_digest():
        return False
    # The shared library is a top-level module: ours first, whatever else is installed.
    sys.path.insert(0, str(NATIVE_DIR))
    package_path.insert(0, str(NATIVE_DIR / "journeyctl" / "engine"))
    return True
