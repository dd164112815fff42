"""`journeyctl test` end to end: a project with tests/*.yaml, passing, failing and invalid."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app

STOCK = Path(__file__).resolve().parents[2] / "sequences"

JOURNEY = """
timezone: Asia/Seoul
quiet_hours: {start: "21:00", end: "08:00"}
frequency_cap: {max: 2, per: 1d}
contacts:
  fields: {consent_email: bool, orders: int}
channels:
  email: {type: file, path: outbox/, medium: email}
"""

NUDGE = """
sequence: nudge
trigger: {event: subscribed}
audience: "contact.consent_email"
ad: false
steps:
  - send: first
    subject: First
    body: "Hi {{ contact.name }}"
  - wait: 1d
  - send: second
    subject: Second
    body: "Again"
"""

PASSING = """
name: two messages a day apart
contacts:
  - {id: c1, email: a@example.com, name: A, consent_email: true, orders: 3}
events:
  - {contact_id: c1, event: subscribed, at: "2026-11-02T10:00:00+09:00"}
start: 2026-11-01
days: 5
expect:
  messages:
    - {contact: c1, step: first, at: "2026-11-02T10:00:00+09:00"}
    - {contact: c1, step: second, at: "2026-11-03T10:00:00+09:00"}
  enrollments:
    - {contact: c1, sequence: nudge, outcome: completed}
"""


def project(tmp_path: Path, tests: dict[str, str]) -> Path:
    files = {"journey.yaml": JOURNEY, "nudge.yaml": NUDGE}
    files.update({f"tests/{k}": v for k, v in tests.items()})
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    _register()
    result = CliRunner().invoke(app, ["test", *args], env={"NO_COLOR": "1", "COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_passing_test(tmp_path: Path) -> None:
    root = project(tmp_path, {"nudge.yaml": PASSING})
    code, out, _ = run(str(root))
    assert code == 0
    assert out.splitlines() == [
        f"PASS {root.name}/tests/nudge.yaml: two messages a day apart",
        "1 passed, 0 failed",
    ]


def test_failure_prints_expected_and_actual_side_by_side(tmp_path: Path) -> None:
    wrong = PASSING.replace("2026-11-03T10:00", "2026-11-03T11:00").replace(
        "outcome: completed", "outcome: goal"
    )
    root = project(tmp_path, {"nudge.yaml": wrong})
    code, out, _ = run(str(root))
    assert code == 1
    assert out.splitlines() == [
        f"FAIL {root.name}/tests/nudge.yaml: two messages a day apart",
        "",
        "      contact  step          expected                actual",
        "      c1       nudge/first   2026-11-02T10:00+09:00  2026-11-02T10:00+09:00",
        "  ✗   c1       nudge/second  2026-11-03T11:00+09:00  2026-11-03T10:00+09:00",
        "",
        "  - enrollment of c1 in `nudge`: expected goal, got completed",
        "0 passed, 1 failed",
    ]


def test_unexpected_message_and_absent(tmp_path: Path) -> None:
    only_first = PASSING.replace(
        '    - {contact: c1, step: second, at: "2026-11-03T10:00:00+09:00"}\n', ""
    ).replace("  enrollments:", "  absent:\n    - {contact: c1, step: second}\n  enrollments:")
    root = project(tmp_path, {"nudge.yaml": only_first})
    code, out, _ = run(str(root))
    assert code == 1
    assert "  ✗   c1       nudge/second  —                       2026-11-03T10:00+09:00" in out
    assert "  - expected no `second` for c1, but it was sent at 2026-11-03T10:00+09:00" in out


def test_several_tests_in_a_list_and_json(tmp_path: Path) -> None:
    body = textwrap.indent(textwrap.dedent(PASSING).lstrip(), "  ")
    listed = "- " + body[2:] + "- " + body[2:].replace("two messages", "again")
    root = project(tmp_path, {"nudge.yaml": listed})
    code, out, _ = run(str(root), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["ok"] is True
    assert [t["name"].split(": ", 1)[1] for t in doc["tests"]] == [
        "two messages a day apart",
        "again a day apart",
    ]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("days: 5", "days: 5\nextra: 1"),
            "tests/nudge.yaml:8:1: error[unknown-key]: unknown key 'extra'",
        ),
        (
            ("step: second", "step: secnd"),
            "tests/nudge.yaml:11:27: error[unknown-step]: no step 'secnd' in any sequence",
        ),
        (
            ('at: "2026-11-03T10:00:00+09:00"', 'at: "tomorrow"'),
            "tests/nudge.yaml:11:39: error[bad-datetime]: 'tomorrow' is not a date or datetime",
        ),
        (
            ("orders: 3", "orders: many"),
            "tests/nudge.yaml:3:74: error[bad-int]: orders: 'many' is not an int",
        ),
        (
            ("contact_id: c1", "contact_id: c9"),
            "tests/nudge.yaml:5:18: error[unknown-contact]: event for contact 'c9', which is not"
            " in this test's contacts",
        ),
    ],
)
def test_invalid_test_files_are_located(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    root = project(tmp_path, {"nudge.yaml": PASSING.replace(*edit)})
    code, out, err = run(str(root))
    assert code == 1
    assert f"{root.name}/{expected}" in err.splitlines()
    assert out.splitlines()[-1] == "0 passed, 0 failed, 1 problem(s) in test files"


def test_no_tests_is_a_usage_error(tmp_path: Path) -> None:
    root = project(tmp_path, {})
    code, _, err = run(str(root))
    assert code == 2
    assert "no tests" in err


def test_stock_library_tests_pass() -> None:
    code, out, _ = run(str(STOCK))
    assert code == 0, out
    assert "FAIL" not in out
    assert out.splitlines()[-1].endswith(" passed, 0 failed")
