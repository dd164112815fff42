"""The wheel carries the readers and simulate's partition compiled (pyproject's `compile`
list, docs/decisions/readers.md), as it does the engine (tests/engine/test_native.py)."""

from __future__ import annotations

import importlib
from importlib.machinery import EXTENSION_SUFFIXES

import pytest

from tests.engines import installed, listed_modules, need_compiled

PACKAGES = ("journeyctl/data", "journeyctl/simulate")


def test_the_readers_are_listed() -> None:
    assert {"contacts", "events", "source"} <= set(listed_modules("journeyctl/data"))
    assert "partition" in listed_modules("journeyctl/simulate")


@pytest.mark.parametrize("package", PACKAGES)
def test_the_wheel_runs_them_compiled(package: str) -> None:
    need_compiled()
    assert installed(), "the tests import journeyctl from the tree, not from the wheel"
    for name in listed_modules(package):
        module = importlib.import_module(f"{package.replace('/', '.')}.{name}")
        assert module.__file__ and module.__file__.endswith(tuple(EXTENSION_SUFFIXES)), name
