"""The inlined parts of a page: the vendored libraries and the pages' own script and style."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent
LIBRARIES = {"chart": "vendor/chart.umd.min.js", "mermaid": "vendor/mermaid.min.js"}


@lru_cache(maxsize=8)
def asset(relative: str) -> str:
    """A file of the package as text, made safe to sit inside a <script> or <style>."""
    text = (HERE / relative).read_text(encoding="utf-8")
    # An end tag inside an inlined script would close it early; the vendored builds have
    # none, and a future version that has one fails here instead of breaking pages.
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"{relative} contains an end tag and cannot be inlined as is")
    return text


def library(name: str) -> str:
    return asset(LIBRARIES[name])
