"""Golden validate cases: each file (or project folder) under tests/cases/validate/ is a real
mistake, with the exact diagnostics it must produce.

Single files carry them in a leading `# expect:` comment block; project folders in
`expected.txt`. Rewrite them with JOURNEYCTL_UPDATE_GOLDENS=1 and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from journeyctl.spec import validate_project
from journeyctl.spec.loader import load_project

CASES = Path(__file__).parents[1] / "cases" / "validate"
UPDATE = os.environ.get("JOURNEYCTL_UPDATE_GOLDENS") == "1"
_EXPECT_LINE = re.compile(r"^# (\S+:\d+:\d+: (error|warning)\[[a-z0-9-]+\]: .*)$")


def all_cases() -> list[Path]:
    files = sorted(p for p in CASES.glob("*.yaml"))
    dirs = sorted(p for p in CASES.iterdir() if p.is_dir())
    return files + dirs


def diagnostics_of(case: Path) -> list[str]:
    if case.is_dir():
        project = load_project(case, base=case, salvage=True)
    else:
        project = load_project(case.parent, only=[case], base=case.parent, salvage=True)
    return [str(d) for d in validate_project(project)]


def read_header(text: str) -> tuple[list[str], str]:
    """Split a case file into its expected lines and the rest (black's `# output` idea)."""
    lines = text.removeprefix("\ufeff").split("\n")
    assert lines[0] == "# expect:", "a case file starts with a `# expect:` block"
    expected = []
    for line in lines[1:]:
        match = _EXPECT_LINE.match(line)
        if match is None:
            break
        expected.append(match.group(1))
    return expected, "\n".join(lines[1 + len(expected) :])


def write_header(case: Path, body: str, bom: bool) -> None:
    # The header shifts line numbers, so iterate until the expectations describe themselves.
    expected: list[str] = []
    for _ in range(5):
        head = "\n".join(["# expect:", *(f"# {e}" for e in expected)])
        case.write_text(("\ufeff" if bom else "") + head + "\n" + body, encoding="utf-8")
        got = diagnostics_of(case)
        if got == expected:
            return
        expected = got
    raise AssertionError(f"{case.name}: expectations do not settle")


@pytest.mark.parametrize("case", all_cases(), ids=lambda p: p.name)
def test_case(case: Path) -> None:
    if case.is_dir():
        golden = case / "expected.txt"
        if UPDATE:
            got = diagnostics_of(case)
            golden.write_text("".join(f"{line}\n" for line in got), encoding="utf-8")
        expected = golden.read_text(encoding="utf-8").splitlines()
    else:
        raw = case.read_text(encoding="utf-8")
        expected, body = read_header(raw)
        if UPDATE:
            write_header(case, body, raw.startswith("\ufeff"))
            expected, _ = read_header(case.read_text(encoding="utf-8"))
    assert diagnostics_of(case) == expected


def test_corpus_is_big_enough() -> None:
    assert len(all_cases()) >= 40
