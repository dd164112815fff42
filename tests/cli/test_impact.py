"""`diff --base REF --contacts F`: the impact of a known change equals the difference of two
`simulate --format json` runs (before and after the edit), message for message.

Real git repositories in tmp dirs; the CLI as a user runs it (typer's runner). The expected
difference is computed here from the two `simulate` documents only, with the identity the
impact promises (docs/decisions/impact.md): contact, sequence, step and occurrence.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app

ROOT = Path(__file__).resolve().parents[2]
STOCK = ROOT / "sequences"
APP = ROOT / "examples" / "app-push"
DATA = {
    "shop": (ROOT / "examples" / "contacts.csv", ROOT / "examples" / "events.csv"),
    "app": (APP / "contacts.csv", APP / "events.csv"),
}
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(tmp_path: Path, source: Path, name: str) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "test@example.com")
    git(tmp_path, "config", "user.name", "Test")
    shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("tests", "*.csv"))
    git(tmp_path, "add", name)
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path / name


def invoke(*args: str, columns: int = 200) -> tuple[int, str, str]:
    _register()
    r = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": str(columns)})
    return r.exit_code, r.stdout, r.stderr


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def data_args(project: Path) -> list[str]:
    contacts, events = DATA[project.name]
    return ["--contacts", str(contacts), "--events", str(events), "--start", "2026-11-01"]


def simulate(project: Path) -> dict[str, Any]:
    code, out, err = invoke("simulate", str(project), *data_args(project), "--format", "json")
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


Key = tuple[str, str, str, int]


def sent(doc: dict[str, Any]) -> dict[Key, datetime]:
    """A simulate document's sent messages by (contact, sequence, step, occurrence)."""
    times: dict[tuple[str, str, str], list[datetime]] = defaultdict(list)
    for m in doc["messages"]:
        if m["status"] == "sent":
            times[(m["contact_id"], m["sequence"], m["step"])].append(
                datetime.fromisoformat(m["at"])
            )
    return {(*k, n): t for k, ts in times.items() for n, t in enumerate(sorted(ts), 1)}


def expected(before: dict[str, Any], after: dict[str, Any]) -> set[tuple[str, Key, int | None]]:
    a, b = sent(before), sent(after)
    out: set[tuple[str, Key, int | None]] = set()
    for k in a.keys() - b.keys():
        out.add(("removed", k, None))
    for k in b.keys() - a.keys():
        out.add(("added", k, None))
    for k in a.keys() & b.keys():
        if a[k] != b[k]:
            out.add(("moved", k, int((b[k] - a[k]).total_seconds())))
    return out


def impact_of(project: Path) -> dict[str, Any]:
    code, out, err = invoke("diff", str(project), *data_args(project), "--format", "json")
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    impact: dict[str, Any] = doc["impact"]
    return impact


def got(impact: dict[str, Any]) -> set[tuple[str, Key, int | None]]:
    return {
        (
            m["change"],
            (m["contact_id"], m["sequence"], m["step"], m["occurrence"]),
            m["shift_seconds"],
        )
        for m in impact["messages"]
    }


def check(project: Path, change: Any) -> dict[str, Any]:
    """Simulate, change, simulate again; the impact is exactly the difference."""
    before = simulate(project)
    change(project)
    after = simulate(project)
    want = expected(before, after)
    assert want, "the edit changes no message: the case tests nothing"
    impact = impact_of(project)
    assert got(impact) == want
    # the counts agree with the messages, step by step and in total
    kinds = Counter(kind for kind, _, _ in want)
    totals = impact["totals"]
    assert (totals["added"], totals["removed"], totals["moved"]) == (
        kinds["added"], kinds["removed"], kinds["moved"],
    )  # fmt: skip
    assert totals["base_sent"] == len(sent(before))
    assert totals["new_sent"] == len(sent(after))
    assert totals["contacts_affected"] == len({k[0] for _, k, _ in want})
    for seq in impact["sequences"]:
        for step in seq["steps"]:
            here = [w for w in want if w[1][1:3] == (seq["sequence"], step["step"])]
            assert step["added"] + step["removed"] + step["moved"] == len(here)
            shifts = sorted(s for kind, _, s in here if kind == "moved" and s is not None)
            if shifts:
                assert step["shift"]["min_seconds"] == shifts[0]
                assert step["shift"]["max_seconds"] == shifts[-1]
            else:
                assert step["shift"] is None
    return impact


def wait_2d_to_3d_shop(p: Path) -> None:
    edit(p / "welcome.yaml", "  - wait: 2d\n", "  - wait: 3d\n")


def remove_step_shop(p: Path) -> None:
    """vip-early-access (the last step) and the wait before it removed."""
    text = (p / "vip.yaml").read_text(encoding="utf-8")
    (p / "vip.yaml").write_text(text[: text.index("  - wait: 7d\n")], encoding="utf-8")


def new_branch_shop(p: Path) -> None:
    edit(
        p / "welcome.yaml",
        "  - wait: 2d\n  - send: popular-picks",
        "  - branch:\n"
        "      if: \"contact.locale == 'en'\"\n"
        "      then:\n"
        "        - send: english-tips\n"
        "          channel: email\n"
        '          subject: "(광고) Tips for your first week"\n'
        "          template: welcome/popular-picks.html.j2\n"
        "        - wait: 1d\n"
        "      else:\n"
        "        - wait: 2d\n"
        "  - wait: 2d\n  - send: popular-picks",
    )


def wait_2d_to_3d_app(p: Path) -> None:
    edit(p / "onboarding.yaml", "  - wait: 2d\n", "  - wait: 3d\n")


def remove_step_app(p: Path) -> None:
    text = (p / "onboarding.yaml").read_text(encoding="utf-8")
    start = text.index("  - wait: 1d\n  - send: setup-reminder")
    end = text.index("  - wait: 2d\n")
    (p / "onboarding.yaml").write_text(text[:start] + text[end:], encoding="utf-8")


def new_branch_app(p: Path) -> None:
    edit(
        p / "onboarding.yaml",
        "  - wait: 2d\n  - send: first-workout",
        "  - branch:\n"
        "      if: \"contact.locale == 'en'\"\n"
        "      then:\n"
        "        - send: english-check-in\n"
        "          channel: push\n"
        '          subject: "How is it going?"\n'
        '          body: "Two minutes to finish set-up."\n'
        "      else:\n"
        "        - wait: 1d\n"
        "  - wait: 2d\n  - send: first-workout",
    )


CASES = [
    ("shop", STOCK, wait_2d_to_3d_shop),
    ("shop", STOCK, remove_step_shop),
    ("shop", STOCK, new_branch_shop),
    ("app", APP, wait_2d_to_3d_app),
    ("app", APP, remove_step_app),
    ("app", APP, new_branch_app),
]


@pytest.mark.parametrize(
    ("name", "source", "change"), CASES, ids=[f"{n}-{c.__name__}" for n, _, c in CASES]
)
def test_impact_equals_the_difference_of_two_simulate_runs(
    tmp_path: Path, name: str, source: Path, change: Any
) -> None:
    check(make_repo(tmp_path, source, name), change)


def test_the_wait_moves_messages_by_a_day(tmp_path: Path) -> None:
    impact = check(make_repo(tmp_path, STOCK, "shop"), wait_2d_to_3d_shop)
    (welcome,) = [s for s in impact["sequences"] if s["sequence"] == "welcome"]
    steps = {s["step"]: s for s in welcome["steps"]}
    assert steps["popular-picks"]["moved"] > 0
    assert steps["popular-picks"]["shift"]["median_seconds"] == 86400
    assert steps["hello"]["moved"] == steps["hello"]["added"] == steps["hello"]["removed"] == 0


def test_a_renamed_step_with_migrate_keeps_its_messages(tmp_path: Path) -> None:
    """`migrate: {old: new}`: the same messages under the new id, nothing added or removed."""
    project = make_repo(tmp_path, STOCK, "shop")
    edit(project / "welcome.yaml", "  - send: popular-picks", "  - send: popular-now")
    edit(project / "welcome.yaml", "ad: true", "migrate: {popular-picks: popular-now}\nad: true")
    impact = impact_of(project)
    assert not impact["changed"] and impact["messages"] == []
    (welcome,) = [s for s in impact["sequences"] if s["sequence"] == "welcome"]
    step = next(s for s in welcome["steps"] if s["step"] == "popular-now")
    assert (step["status"], step["base_step"]) == ("same", "popular-picks")
    assert step["base_sent"] == step["new_sent"] > 0
    # without migrate the rename is a removed step and an added one
    edit(project / "welcome.yaml", "migrate: {popular-picks: popular-now}\n", "")
    impact = impact_of(project)
    kinds = Counter(m["change"] for m in impact["messages"])
    assert kinds["added"] == kinds["removed"] > 0 and kinds["moved"] == 0


def test_text_at_80_columns_and_markdown(tmp_path: Path) -> None:
    project = make_repo(tmp_path, STOCK, "shop")
    wait_2d_to_3d_shop(project)
    code, out, _ = invoke("diff", str(project), *data_args(project), columns=80)
    assert code == 0
    assert "impact: 320 contacts, 30 days from 2026-11-01, both versions on the same data" in out
    assert "\n  step                 popular-picks\n" in out  # one block per row at 80 columns
    assert "  shift median / max   +1d / +1d\n" in out
    section = out[out.index("impact: ") :]  # the semantic diff above keeps its own lines
    assert max(len(line) for line in section.splitlines()) <= 80 and "…" not in out
    code, wide, _ = invoke("diff", str(project), *data_args(project), columns=160)
    assert "│ welcome  │ popular-picks    │" in wide  # a grid when it fits
    code, md, _ = invoke("diff", str(project), *data_args(project), "--format", "markdown")
    assert md.startswith("### journeyctl diff: 1 sequence(s) changed against `HEAD`\n")
    assert "### journeyctl impact: 320 contacts, 30 days from 2026-11-01" in md
    assert "| sequence | step | sent before → after | added | removed | moved |" in md
    assert "\n| welcome | popular-picks | " in md


def test_no_change_in_messages_says_so(tmp_path: Path) -> None:
    project = make_repo(tmp_path, STOCK, "shop")
    edit(project / "welcome.yaml", "웰컴 시퀀스", "환영 시퀀스")  # a comment only
    code, out, _ = invoke("diff", str(project), *data_args(project))
    assert code == 0
    assert "no message changes against `HEAD`: the same " in out


def test_usage_errors(tmp_path: Path) -> None:
    project = make_repo(tmp_path, STOCK, "shop")
    contacts, _ = DATA["shop"]
    code, _, err = invoke("diff", str(project), "--contacts", str(contacts))
    assert code == 2 and "--contacts needs --start DATE" in err
    code, _, err = invoke("diff", str(project), "--start", "2026-11-01")
    assert code == 2 and "--events and --start go with --contacts" in err


@pytest.mark.browser
def test_the_impact_page_in_a_browser(tmp_path: Path) -> None:
    """Offline (file://), no console errors, both flows drawn with their numbers, the chart
    drawn, the table's numbers those of the JSON, a screenshot that is not blank."""
    from tests.browser import browser, pixels, visit

    browser()  # skips (or fails under JOURNEYCTL_EXPECT_BROWSER=1) before any work
    (tmp_path / "repo").mkdir()
    project = make_repo(tmp_path / "repo", STOCK, "shop")
    wait_2d_to_3d_shop(project)
    page = tmp_path / "impact.html"
    code, _, err = invoke("diff", str(project), *data_args(project), "--format", "html",
                          "--out", str(page))  # fmt: skip
    assert code == 0, err
    impact = impact_of(project)
    (welcome,) = [s for s in impact["sequences"] if s["sequence"] == "welcome"]
    picks = next(s for s in welcome["steps"] if s["step"] == "popular-picks")
    shot = tmp_path / "impact.png"

    v = visit(
        page.as_uri(),
        {
            "flows": "[...document.querySelectorAll('#seq-welcome pre.mermaid svg')].length",
            "nodes": "document.querySelectorAll('#seq-welcome svg .node').length",
            "after": "document.querySelector('#seq-welcome [data-side] + [data-side] svg')"
            ".textContent",
            "charts": "[...document.querySelectorAll('canvas[data-chart]')]"
            ".filter(c => window.Chart && Chart.getChart(c)).length",
            "row": '[...document.querySelectorAll(\'#seq-welcome tr[data-step="popular-picks"]'
            " td')].map(td => td.textContent)",
            "sides": "[...document.querySelectorAll('#seq-welcome [data-side] h3')]"
            ".map(h => h.textContent)",
        },
        screenshot=shot,
    )
    assert v.errors == [] and v.ready
    assert all(url.startswith("file://") for url in v.requests), v.requests
    assert v.values["flows"] == 2 and v.values["nodes"] > 10
    assert v.values["sides"] == ["변경 전", "변경 후"]  # the stock library is Korean
    assert f"변경 후 {picks['new_sent']}" in v.values["after"]
    assert f"시각 변경 {picks['moved']}" in v.values["after"]
    assert v.values["charts"] == 1
    assert v.values["row"] == [
        "popular-picks", str(picks["base_sent"]), str(picks["new_sent"]), str(picks["added"]),
        str(picks["removed"]), str(picks["moved"]), str(picks["contacts_affected"]), "+1d / +1d",
    ]  # fmt: skip
    _, _, px = pixels(shot.read_bytes())
    assert len(set(px[:: max(1, len(px) // 5000)])) > 20  # not a blank page


def test_the_github_actions_example_posts_the_impact(tmp_path: Path) -> None:
    """The example workflow's review step, run by bash as the runner would (journeyctl on
    PATH, the workflow's env): the comment it writes carries the diff and the impact, and the
    page it attaches is written."""
    import os
    import sys

    import yaml

    workflow = yaml.safe_load((ROOT / "examples/github-actions/journeyctl.yml").read_text("utf-8"))
    (step,) = [s for s in workflow["jobs"]["review"]["steps"] if "diff" in s.get("run", "")]
    project = make_repo(tmp_path, STOCK, "sequences")
    git(tmp_path, "branch", "base")
    wait_2d_to_3d_shop(project)
    contacts, events = DATA["shop"]
    env = {
        **os.environ,
        **{k: str(v) for k, v in workflow["env"].items()},
        "CONTACTS": str(contacts),
        "EVENTS": str(events),
        "BASE": "base",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    proc = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    comment = (tmp_path / "journeyctl-review.md").read_text("utf-8")
    assert comment.startswith("### journeyctl diff: 1 sequence(s) changed against `base`")
    assert "### journeyctl impact: 320 contacts, 30 days from 2026-11-01" in comment
    assert "\n| welcome | popular-picks | 20 → 18 | 0 | 2 | 18 | 20 | +1d / +1d |\n" in comment
    assert (tmp_path / "journeyctl-impact.html").read_text("utf-8").startswith("<!doctype html>")
