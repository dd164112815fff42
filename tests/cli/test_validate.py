"""`journeyctl validate` through typer's CliRunner: exit codes, renderings, --strict, --contacts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from tests.builders import build_tree

_register()
REPO = Path(__file__).parents[2]
DOCS = REPO / "docs" / "diagnostics.md"
CASES = REPO / "tests" / "cases" / "validate"

CLEAN = {
    "journey.yaml": """
        unsubscribe_secret: "${UNSUBSCRIBE_SECRET}"
        contacts:
          fields: {orders: int}
        """,
    "hello.yaml": """
        trigger: {event: subscribed}
        ad: false
        steps:
          - send: hello
            subject: "{{ contact.name }}님, 환영합니다"
            body: hello
        """,
}


def run(*args: str) -> object:
    return CliRunner().invoke(app, ["validate", *args], env={"NO_COLOR": "1", "COLUMNS": "200"})


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_clean_project_exits_0(in_tmp: Path) -> None:
    build_tree(in_tmp / "proj", CLEAN)
    result = run("proj")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "0 error(s), 0 warning(s)\n"
    assert result.stdout == ""


def test_text_rendering_has_caret_under_korean_text_and_hint(in_tmp: Path) -> None:
    build_tree(
        in_tmp / "proj",
        {
            "hello.yaml": """
                trigger: {event: subscribed}
                ad: false
                steps:
                  - send: hello
                    subject: "[환영] {{ contact.nick }}님"
                    body: hello
                """
        },
    )
    result = run("proj")
    assert result.exit_code == 1
    assert result.stderr == (
        "proj/hello.yaml:5:23: error[undeclared-field]: contact field 'nick' is not declared\n"
        '        subject: "[환영] {{ contact.nick }}님"\n'
        "                            ^\n"  # 환영 is two columns wide each
        "  hint: declare it in journey.yaml under contacts.fields (e.g. nick: string)\n"
        "1 error(s), 0 warning(s)\n"
    )


def test_all_problems_of_all_files_in_one_pass(in_tmp: Path) -> None:
    build_tree(
        in_tmp / "proj",
        {
            "a.yaml": "trigger: {event: subscribed}\nsteps:\n  - wait: 3 days\n",
            "b.yaml": "trigger: {event: subscribed}\nstpes: []\n",
        },
    )
    result = run("proj", "--format", "json")
    codes = [(d["path"], d["code"]) for d in json.loads(result.stdout)["diagnostics"]]
    assert codes == [
        ("proj/a.yaml", "bad-duration"),
        ("proj/b.yaml", "unknown-key"),  # `stpes`; the missing `steps` follows from it
    ]


def test_json_shape_is_stable(in_tmp: Path) -> None:
    build_tree(
        in_tmp / "proj", {"w.yaml": "trigger: {event: subscribed}\nsteps:\n  - wait: 3 days\n"}
    )
    result = run("proj", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "ok": False,
        "errors": 1,
        "warnings": 0,
        "diagnostics": [
            {
                "path": "proj/w.yaml",
                "line": 3,
                "col": 11,
                "severity": "error",
                "code": "bad-duration",
                "message": "'3 days' is not a duration",
                "hint": "use 30m, 4h, 2d, 1w or 1d12h",
            }
        ],
    }


def test_github_annotations(in_tmp: Path) -> None:
    build_tree(
        in_tmp / "proj", {"w.yaml": "trigger: {event: subscribed}\nsteps:\n  - wait: 3 days\n"}
    )
    result = run("proj", "--format", "github")
    assert result.exit_code == 1
    assert result.stdout == (
        "::error file=proj/w.yaml,line=3,col=11,title=bad-duration::"
        "'3 days' is not a duration (use 30m, 4h, 2d, 1w or 1d12h)\n"
    )


def test_strict_fails_on_warnings(in_tmp: Path) -> None:
    build_tree(
        in_tmp / "proj",
        {
            "w.yaml": """
                trigger: {event: subscribe}
                ad: false
                steps:
                  - send: hello
                    subject: hi
                    body: hello
                """
        },
    )
    assert run("proj").exit_code == 0
    strict = run("proj", "--strict")
    assert strict.exit_code == 1
    assert "warning[suspicious-event]" in strict.stderr


def test_single_sequence_file(in_tmp: Path) -> None:
    build_tree(in_tmp / "proj", CLEAN)
    assert run("proj/hello.yaml").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [("missing-dir",), ("proj", "--format", "xml"), ("proj", "proj", "--contacts", "c.csv")],
)
def test_usage_errors_exit_2(in_tmp: Path, args: tuple[str, ...]) -> None:
    build_tree(in_tmp / "proj", CLEAN)
    (in_tmp / "c.csv").write_text("id\nc1\n", encoding="utf-8")
    assert run(*args).exit_code == 2


BILLING = {
    "journey.yaml": """
        contacts:
          fields: {orders: int}
        """,
    "bill.yaml": """
        trigger: {event: purchased}
        ad: false
        transactional: true
        steps:
          - send: bill
            subject: "{{ contact.name }}, {{ contact.city }}"
            body: "{{ contact.orders + 1 }}"
        """,
}


def test_contacts_render_every_message_and_list_who_breaks(in_tmp: Path) -> None:
    build_tree(in_tmp / "proj", BILLING)
    (in_tmp / "c.csv").write_text(
        "id,name,city,orders\nc1,Kim,Seoul,3\nc2,Lee,Busan,\nc3,Park,,\n", encoding="utf-8"
    )
    # without the file, `city` is undeclared; the file has it as a column, so it is a string
    assert "error[undeclared-field]: contact field 'city'" in run("proj").stderr
    result = run("proj", "--contacts", "c.csv", "--format", "json")
    assert result.exit_code == 1
    got = [
        f"{d['path']}:{d['line']}:{d['col']}: {d['severity']}[{d['code']}]: {d['message']}"
        for d in json.loads(result.stdout)["diagnostics"]
    ]
    assert got == [
        "proj/bill.yaml:7:12: error[render-error]: body of step 'bill' fails for 2 contact(s)"
        " (c2, c3): TypeError: unsupported operand type(s) for +: 'NoneType' and 'int'"
    ]


def test_contacts_names_at_most_five_ids(in_tmp: Path) -> None:
    build_tree(in_tmp / "proj", BILLING)
    rows = "".join(f"c{i},N{i},X,\n" for i in range(1, 8))
    (in_tmp / "c.csv").write_text("id,name,city,orders\n" + rows, encoding="utf-8")
    result = run("proj", "--contacts", "c.csv", "--format", "json")
    (diag,) = json.loads(result.stdout)["diagnostics"]
    assert diag["message"].startswith(
        "body of step 'bill' fails for 7 contact(s) (c1, c2, c3, c4, c5, ...): TypeError"
    )


def test_contacts_field_neither_declared_nor_column_is_an_error(in_tmp: Path) -> None:
    files = dict(BILLING)
    files["bill.yaml"] = files["bill.yaml"].replace("contact.city", "contact.town")
    build_tree(in_tmp / "proj", files)
    (in_tmp / "c.csv").write_text("id,name,city,orders\nc1,Kim,Seoul,3\n", encoding="utf-8")
    result = run("proj", "--contacts", "c.csv", "--format", "json")
    assert [d["code"] for d in json.loads(result.stdout)["diagnostics"]] == ["undeclared-field"]
    # the render only runs on a project without errors: nothing else is reported


def test_contacts_clean_file_passes_and_cp949_is_read(in_tmp: Path) -> None:
    build_tree(in_tmp / "proj", BILLING)
    (in_tmp / "c.csv").write_bytes("id,name,city,orders\nc1,김하나,서울,3\n".encode("cp949"))
    result = run("proj", "--contacts", "c.csv", "--encoding", "cp949")
    assert result.exit_code == 0, result.stderr


def test_bad_contacts_file_is_located(in_tmp: Path) -> None:
    build_tree(in_tmp / "proj", BILLING)
    (in_tmp / "c.csv").write_text("name,orders\nKim,3\n", encoding="utf-8")
    result = run("proj", "--contacts", "c.csv")
    assert result.exit_code == 1
    assert re.search(r"c\.csv:1:\d+: error\[", result.stderr), result.stderr


def test_stock_library_and_app_example_validate_clean() -> None:
    for project in (REPO / "sequences", *sorted((REPO / "examples").glob("*/journey.yaml"))):
        root = project if project.is_dir() else project.parent
        result = run(str(root), "--strict")
        assert result.exit_code == 0, result.stderr


def test_every_code_is_documented_and_exercised() -> None:
    documented = set(re.findall(r"^### `([a-z0-9-]+)`", DOCS.read_text(encoding="utf-8"), re.M))
    golden = set()
    for path in [*CASES.glob("*.yaml"), *CASES.glob("*/expected.txt")]:
        golden |= set(re.findall(r"(?:error|warning)\[([a-z0-9-]+)\]", path.read_text("utf-8-sig")))
    # need --contacts: asserted in this file and in test_validate_empty_values.py
    exercised_here = {"render-error", "empty-personalisation"}
    assert documented == golden | exercised_here
