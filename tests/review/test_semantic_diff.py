"""The semantic diff on two project trees loaded by the normal loader (no git here)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from journeyctl.review.render import to_markdown, to_text
from journeyctl.review.semantic_diff import ProjectDiff, changed_lines, diff_projects
from journeyctl.review.sides import load_side

JOURNEY = """
timezone: Asia/Seoul
quiet_hours: {start: "21:00", end: "08:00"}
frequency_cap: {max: 2, per: 1d}
channels:
  email: {type: file, path: outbox/, medium: email}
  sms: {type: file, path: outbox/, medium: sms}
"""

WELCOME = """
sequence: welcome
trigger: {event: subscribed}
audience: "contact.consent_email"
exit_on: [unsubscribed]
goal: {event: purchased, within: 14d}
steps:
  - send: hello
    channel: email
    subject: "Welcome aboard"
    template: welcome/hello.html.j2
  - wait: 2d
  - send: day2
    channel: email
    subject: "Day two"
    template: welcome/day2.html.j2
  - wait: 3d
  - send: day7
    channel: email
    subject: "Day seven"
    template: welcome/day2.html.j2
"""

HELLO = "{% extends '_layout.html.j2' %}\n{% block content %}\nHello\nline two\nline three\n{% endblock %}\n"
LAYOUT = "<html>\n{% block content %}{% endblock %}\n</html>\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def base_files() -> dict[str, str]:
    return {
        "journey.yaml": JOURNEY,
        "welcome.yaml": WELCOME,
        "templates/_layout.html.j2": LAYOUT,
        "templates/welcome/hello.html.j2": HELLO,
        "templates/welcome/day2.html.j2": "Day 2 body\n",
    }


def compare(tmp_path: Path, edits: dict[str, str | None]) -> ProjectDiff:
    old_files = base_files()
    new_files = {**old_files, **{k: v for k, v in edits.items() if v is not None}}
    for k, v in edits.items():
        if v is None:
            new_files.pop(k)
    old = load_side(write(tmp_path / "old", old_files))
    new = load_side(write(tmp_path / "new", new_files))
    return diff_projects(old, new, base="main")


def summaries(d: ProjectDiff, sequence: str = "welcome") -> list[str]:
    return [c.summary for sd in d.sequences if sd.sequence == sequence for c in sd.changes]


def test_identical_projects_have_no_changes(tmp_path: Path) -> None:
    d = compare(tmp_path, {})
    assert not d.changed
    assert to_text(d) == "no changes against `main`\n"


def test_step_added_after_a_step_with_its_wait_and_day(tmp_path: Path) -> None:
    edited = WELCOME.replace(
        "  - wait: 3d\n",
        "  - wait: 2d\n  - send: day4\n    channel: email\n    subject: Day four\n"
        "    template: welcome/day2.html.j2\n  - wait: 1d\n",
    )
    d = compare(tmp_path, {"welcome.yaml": edited})
    assert summaries(d) == [
        "step `day4` added after `day2` (wait 2d; +4d after entry): send by email, subject 'Day four'",
        "timing: wait before `day7` 3d → 1d",
    ]
    assert d.sequences[0].status == "changed"
    assert d.sequences[0].old_version != d.sequences[0].new_version


def test_timing_change_says_old_and_new_and_the_day(tmp_path: Path) -> None:
    d = compare(tmp_path, {"welcome.yaml": WELCOME.replace("wait: 3d", "wait: 2d")})
    assert summaries(d) == [
        "timing: wait before `day7` 3d → 2d (now +4d after entry, was +5d after entry)"
    ]


def test_subject_and_template_copy_changes(tmp_path: Path) -> None:
    d = compare(
        tmp_path,
        {
            "welcome.yaml": WELCOME.replace('"Welcome aboard"', '"Welcome, friend"'),
            "templates/welcome/hello.html.j2": HELLO.replace("line two", "line 2").replace(
                "line three\n", "line three\nline four\nline five\n"
            ),
        },
    )
    assert summaries(d) == [
        "subject of `hello`: 'Welcome aboard' → 'Welcome, friend'",
        "template welcome/hello.html.j2 (`hello`): 3 line(s) changed",
    ]
    detail = d.sequences[0].changes[1].detail
    assert detail is not None
    assert "--- a/templates/welcome/hello.html.j2" in detail
    assert "-line two\n+line 2\n" in detail


def test_removed_step_exits_unless_migrated_and_rename_via_migrate(tmp_path: Path) -> None:
    removed = WELCOME.replace(
        '  - wait: 2d\n  - send: day2\n    channel: email\n    subject: "Day two"\n'
        "    template: welcome/day2.html.j2\n",
        "",
    )
    d = compare(tmp_path, {"welcome.yaml": removed})
    assert summaries(d)[0] == (
        "step `day2` removed (was after `hello`); contacts waiting at it exit with reason"
        " `step_removed`"
    )
    renamed = WELCOME.replace("send: day7", "send: last-call").replace(
        "steps:", "migrate: {day7: last-call}\nsteps:"
    )
    d = compare(tmp_path / "r", {"welcome.yaml": renamed})
    assert summaries(d) == [
        "step `day7` renamed to `last-call`; contacts waiting at it move along (migrate)"
    ]


def test_removed_step_mapped_by_migrate_onto_a_kept_step(tmp_path: Path) -> None:
    edited = WELCOME.replace(
        '  - wait: 2d\n  - send: day2\n    channel: email\n    subject: "Day two"\n'
        "    template: welcome/day2.html.j2\n",
        "",
    ).replace("steps:", "migrate: {day2: day7}\nsteps:")
    d = compare(tmp_path, {"welcome.yaml": edited})
    assert summaries(d)[0] == (
        "step `day2` removed (was after `hello`); contacts waiting at it move to `day7` (migrate)"
    )


def test_header_changes_trigger_audience_goal_exit_on_ad(tmp_path: Path) -> None:
    edited = (
        WELCOME.replace("event: subscribed", "event: signed_up")
        .replace('"contact.consent_email"', "\"contact.consent_email and contact.locale == 'ko'\"")
        .replace("within: 14d", "within: 7d")
        .replace("exit_on: [unsubscribed]", "exit_on: [unsubscribed, complained]")
        .replace("steps:", "ad: false\nsteps:")
    )
    d = compare(tmp_path, {"welcome.yaml": edited})
    assert summaries(d) == [
        "trigger: on event `subscribed` → on event `signed_up`",
        "audience: `contact.consent_email` → `contact.consent_email and contact.locale == 'ko'`",
        "goal: `purchased` within 2w → `purchased` within 1w",
        "exit_on: now also exits on `complained`",
        "ad: yes → no (no longer treated as advertising)",
    ]


def test_project_settings_and_secret_values_hidden(tmp_path: Path) -> None:
    journey = (
        JOURNEY.replace('start: "21:00"', 'start: "22:00"').replace("max: 2", "max: 3")
        + "unsubscribe_secret: hunter2\n"
    )
    d = compare(tmp_path, {"journey.yaml": journey})
    assert [c.summary for c in d.settings] == [
        "quiet_hours: 21:00–08:00 → 22:00–08:00",
        "frequency_cap: 2 per 1d → 3 per 1d",
        "unsubscribe_secret: none → (hidden)",
    ]
    assert "hunter2" not in to_text(d)


def test_shared_layout_change_is_listed_once_with_its_users(tmp_path: Path) -> None:
    d = compare(tmp_path, {"templates/_layout.html.j2": LAYOUT.replace("<html>", "<html lang=ko>")})
    assert d.sequences == []
    assert [c.summary for c in d.templates] == [
        "template _layout.html.j2: 1 line(s) changed — used by `welcome`"
    ]


def test_added_and_removed_sequences(tmp_path: Path) -> None:
    other = WELCOME.replace("sequence: welcome", "sequence: other")
    d = compare(tmp_path, {"other.yaml": other, "welcome.yaml": None})
    assert [(s.sequence, s.status) for s in d.sequences] == [
        ("other", "added"),
        ("welcome", "removed"),
    ]
    assert summaries(d, "other") == ["new sequence (on event `subscribed`; 3 message(s))"]
    assert summaries(d, "welcome") == [
        "sequence removed; its active enrollments exit with reason `sequence_removed`"
    ]


def test_step_moved_among_kept_steps(tmp_path: Path) -> None:
    swapped = textwrap.dedent(WELCOME)
    hello = swapped[swapped.index("  - send: hello") : swapped.index("  - wait: 2d")]
    day2 = swapped[swapped.index("  - send: day2") : swapped.index("  - wait: 3d")]
    swapped = swapped.replace(hello, "@@H").replace(day2, hello).replace("@@H", day2)
    d = compare(tmp_path, {"welcome.yaml": swapped})
    moved = [s for s in summaries(d) if "moved" in s]
    # either of the two swapped steps is the one that moved; exactly one is reported
    assert moved in (
        ["step `hello` moved: now after `day2` (was first)"],
        ["step `day2` moved: now first (was after `hello`)"],
    )
    assert "timing: wait before `hello` none → 2d (now +2d after entry, was at entry)" in summaries(
        d
    )


def test_markdown_has_mermaid_and_folded_diff(tmp_path: Path) -> None:
    d = compare(
        tmp_path,
        {"templates/welcome/hello.html.j2": HELLO.replace("Hello", "<b>Hi</b>")},
    )
    md = to_markdown(d, lambda sid: "flowchart TD\n  a --> b\n")
    assert "#### `welcome` — changed" in md
    assert "```mermaid\nflowchart TD\n  a --> b\n```" in md
    assert "<details><summary>template welcome/hello.html.j2 (hello): 1 line(s) changed" in md
    assert "+<b>Hi</b>" in md  # inside the ```diff fence: shown as text


def test_changed_lines_counts_an_edit_once() -> None:
    assert changed_lines("a\nb\nc\n", "a\nB\nc\n") == 1
    assert changed_lines("a\n", "a\nb\nc\n") == 2
    assert changed_lines("a\nb\n", "") == 2
