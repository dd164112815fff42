"""`journeyctl diff` end to end on a real git repository: init, commit, edit, diff."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.store.sqlite import SqliteStore

STOCK = Path(__file__).resolve().parents[2] / "sequences"
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose `shop/` project is the stock library, committed."""
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "test@example.com")
    git(tmp_path, "config", "user.name", "Test")
    shutil.copytree(STOCK, tmp_path / "shop", ignore=shutil.ignore_patterns("tests"))
    git(tmp_path, "add", "shop")
    git(tmp_path, "commit", "-q", "-m", "stock")
    return tmp_path / "shop"


def run(*args: str) -> tuple[int, str, str]:
    _register()
    # wide enough for the longest change line: text wraps to COLUMNS (cli.tables.fit)
    result = CliRunner().invoke(app, ["diff", *args], env={"NO_COLOR": "1", "COLUMNS": "400"})
    return result.exit_code, result.stdout, result.stderr


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_no_changes_exit_zero_even_with_exit_code(repo: Path) -> None:
    code, out, _ = run(str(repo), "--exit-code")
    assert (code, out) == (0, "no changes against `HEAD`\n")


def test_welcome_edit_in_words_and_exit_code(repo: Path) -> None:
    edit(repo / "welcome.yaml", "  - wait: 3d\n", "  - wait: 2d\n")
    edit(repo / "welcome.yaml", "다른 분들이 자주 보는 콘텐츠 3선", "가장 인기 있는 콘텐츠 3선")
    code, out, _ = run(str(repo), "--base", "main")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "1 sequence(s) changed against `main`"
    assert lines[2].startswith("welcome (changed, version ")
    assert lines[3] == (
        "  ~ subject of `popular-picks`: '(광고) {{ '3 things other members love' if contact.locale"
        " == 'en' else '다른 분들이 자주 보는 콘텐츠 3선' }}' → '(광고) {{ '3 things other members"
        " love' if contact.locale == 'en' else '가장 인기 있는 콘텐츠 3선' }}'"
    )
    assert lines[4] == (
        "  ~ timing: wait before `branch-1` 3d → 2d (now +6d after entry, was +7d after entry)"
    )
    assert run(str(repo), "--exit-code")[0] == 1


def test_markdown_for_a_pr_comment(repo: Path) -> None:
    edit(
        repo / "welcome.yaml",
        "  - wait: 3d\n",
        "  - wait: 1d\n  - send: day5-tip\n    channel: email\n"
        '    subject: "(광고) 하루마켓 사용 팁"\n    template: welcome/popular-picks.html.j2\n'
        "  - wait: 2d\n",
    )
    edit(repo / "templates/welcome/hello.html.j2", "첫 구매 10% 쿠폰 받기", "첫 구매 15% 쿠폰 받기")
    code, out, _ = run(str(repo), "--format", "markdown")
    assert code == 0
    assert out.startswith("### journeyctl diff: 1 sequence(s) changed against `HEAD`\n")
    assert (
        "- step `day5-tip` added after `subscriber-picks` (wait 1d; +5d after entry): send by"
        " email, subject '(광고) 하루마켓 사용 팁'" in out
    )
    assert "- template welcome/hello.html.j2 (`hello`): 1 line(s) changed" in out
    assert "```diff\n--- a/templates/welcome/hello.html.j2" in out
    assert "+{% set cta_label" in out and "첫 구매 15% 쿠폰 받기" in out
    assert "```mermaid\nflowchart TD\n" in out
    assert "send day5-tip" in out  # the new step is in the diagram


def test_json_and_committed_history(repo: Path) -> None:
    edit(repo / "win-back.yaml", "- send: last-call", "- send: final-call")
    edit(repo / "win-back.yaml", "ad: true\n", "ad: true\nmigrate: {last-call: final-call}\n")
    git(repo, "commit", "-q", "-am", "rename")
    code, out, _ = run(str(repo), "--base", "HEAD~1", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["changed"] is True and doc["base"] == "HEAD~1"
    (seq,) = doc["sequences"]
    assert seq["sequence"] == "win-back"
    assert [c["summary"] for c in seq["changes"]] == [
        "step `last-call` renamed to `final-call`; contacts waiting at it move along (migrate)"
    ]
    # the working tree equals HEAD now
    assert run(str(repo), "--exit-code")[0] == 0


def test_new_project_at_base_shows_every_sequence_added(tmp_path: Path, repo: Path) -> None:
    git(repo, "commit", "-q", "--allow-empty", "-m", "empty")
    other = repo.parent / "app"
    shutil.copytree(repo, other)
    code, out, _ = run(str(other), "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert {s["status"] for s in doc["sequences"]} == {"added"}
    assert "welcome" in {s["sequence"] for s in doc["sequences"]}


def test_unknown_ref_and_not_a_repository(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    code, _, err = run(str(repo), "--base", "no-such-branch")
    assert code == 2
    assert "--base no-such-branch: not a commit in this repository" in err
    outside = tmp_path_factory.mktemp("plain")
    shutil.copy(repo / "journey.yaml", outside / "journey.yaml")
    code, _, err = run(str(outside))
    assert code == 2
    assert "not inside a git repository" in err
    # plan --base reads the history the same way; the message names the option, not `diff`
    db = outside / "j.db"
    SqliteStore(db).close()
    r = CliRunner().invoke(app, ["plan", str(outside), "--db", str(db), "--base", "HEAD"])
    assert r.exit_code == 2 and "--base compares the files with a git ref" in r.stderr
    assert "`diff`" not in r.stderr


def test_working_tree_that_does_not_load_is_an_error_with_location(repo: Path) -> None:
    edit(repo / "welcome.yaml", "  - wait: 3d\n", "  - wait: 3 days\n")
    code, _, err = run(str(repo))
    assert code == 1
    assert "welcome.yaml:" in err and "bad-duration" in err
