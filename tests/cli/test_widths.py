"""Every command a person reads in a terminal, at 60, 80 and 99 columns, on the stock library
and examples/ (Korean subjects and names): no line wider than the terminal (Hangul counted as
two cells) and no value cut to `…` (issue 20: tables wrap or turn into one block per row
below 100 columns; prose wraps with a hanging indent)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from journeyctl.cli import _register, app

ROOT = Path(__file__).resolve().parents[2]
CONTACTS = str(ROOT / "examples" / "contacts.csv")
EVENTS = str(ROOT / "examples" / "events.csv")
WIDTHS = (60, 80, 99)
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def invoke(args: list[str], columns: int) -> tuple[int, str, str]:
    _register()
    env = {"COLUMNS": str(columns), "NO_COLOR": "1", "UNSUBSCRIBE_SECRET": "s" * 32}
    r = CliRunner().invoke(app, args, env=env)
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """The stock library in a git repository, a database after two ticks, then an edit (a
    wait made a day longer) so `diff` and `plan` have something to show."""
    root = tmp_path_factory.mktemp("widths")
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "t@example.com"],
                 ["config", "user.name", "T"]):  # fmt: skip
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    shop = root / "shop"
    shutil.copytree(ROOT / "sequences", shop)
    subprocess.run(["git", "add", "."], cwd=root, check=True, capture_output=True)
    subprocess.run(["git", "commit", "-qm", "stock"], cwd=root, check=True, capture_output=True)
    db = str(root / "j.db")
    data = ["--contacts", CONTACTS, "--events", EVENTS]
    for now in ("2026-11-05T10:00:00+09:00", "2026-11-12T10:00:00+09:00"):
        code, _, err = invoke(["run", str(shop), "--db", db, *data, "--now", now], 200)
        assert code == 0, err
    passing_tests = invoke(["test", str(shop)], 80)
    assert passing_tests[0] == 0, passing_tests[1]
    welcome = shop / "welcome.yaml"
    welcome.write_text(
        welcome.read_text(encoding="utf-8").replace("  - wait: 2d\n", "  - wait: 3d\n", 1),
        encoding="utf-8",
    )
    period = [*data, "--start", "2026-11-01"]
    return {
        "validate": ["validate", str(shop)],
        "simulate": ["simulate", str(shop), *period],
        "status": ["status", "--db", db],
        "messages": ["messages", "--db", db],
        "report": ["report", "--db", db],
        "plan": ["plan", str(shop), "--db", db],
        "diff": ["diff", str(shop), *period],
        "explain": ["explain", str(shop), *period, "c0001"],
        "explain --db": ["explain", str(shop), "--db", db, "c0001"],
        "test": ["test", str(shop), "--file", str(shop / "tests" / "birthday.yaml")],
        # failing since the edit: expected and actual timelines
        "test (failing)": ["test", str(shop), "--file", str(shop / "tests" / "welcome.yaml")],
    }


COMMANDS = ("validate", "simulate", "status", "messages", "report", "plan", "diff", "explain",
            "explain --db", "test", "test (failing)")  # fmt: skip
# Not here: `graph` prints Mermaid or DOT source (code to paste, never wrapped) and the JSON
# and CSV formats (data).


@pytest.mark.parametrize("name", COMMANDS)
def test_fits_60_80_and_99_columns(setup: dict[str, list[str]], name: str) -> None:
    for width in WIDTHS:
        code, out, err = invoke(setup[name], width)
        assert code in (0, 1), err
        assert "…" not in out, f"{name} at {width}: a value cut short"
        wide = [line for line in out.splitlines() if cell_len(line) > width]
        assert not wide, f"{name} at {width} columns: {len(wide)} line(s) too wide: {wide[:3]}"
        if name == "test (failing)" and width < 90:  # columns need 86
            assert code == 1 and "      actual    2026-11-05T10:00+09:00" in out.splitlines()
        if name == "messages":
            assert "장바구니에" in out  # Korean subjects are shown, wrapped, not cut


def test_the_checks_can_fail() -> None:
    """The measure counts Hangul as two cells: a line of 40 syllables is 80 wide."""
    assert cell_len("가" * 40) == 80
