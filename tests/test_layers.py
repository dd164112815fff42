"""The package layout keeps its directions: the [tool.importlinter] contract in pyproject.toml
(cli -> shell -> engine/store/channels -> spec/data -> helpers, never back)."""

from __future__ import annotations

from pathlib import Path

import pytest
from importlinter import cli  # the dev extra: a missing linter fails here, it is not skipped

ROOT = Path(__file__).resolve().parent.parent


def test_imports_only_point_down_the_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code = cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    assert code == 0, "an import points up the layers: see the lint-imports report above"
