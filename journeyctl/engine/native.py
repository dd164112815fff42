"""Which engine runs: its hot modules compiled by mypyc, or their Python source.

A wheel built from the repository (`pip install .`, `pipx install .`, `python -m build`)
carries the modules listed in pyproject.toml (`[tool.hatch.build.targets.wheel.hooks.custom]`,
built by hatch_build.py) as extension modules beside their `.py`; the import system prefers
the extension, so nothing is decided here at start. An editable install or a checkout runs the
source. The compiled modules are the same source, so there is still one engine (the tests
compare the two: tests/engine/test_native.py).
"""

from __future__ import annotations

import os
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

HERE = Path(__file__).parent


def compiled_modules() -> tuple[str, ...]:
    """The engine modules present as extension modules (these are the ones imported)."""
    names = []
    for name in os.listdir(HERE):
        for suffix in EXTENSION_SUFFIXES:
            if name.endswith(suffix):
                names.append(name[: -len(suffix)])
                break
    return tuple(sorted(names))
