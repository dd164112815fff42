"""`journeyctl plan` completes the picture (issue 17): waits that contacts already waiting
keep, `--window`, suggested `migrate:` lines, and the last run's clock as the default; `status`
too. As a user runs it, on a db filled by `run` (the world of test_plan.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from journeyctl.store.sqlite import SqliteStore
from tests.cli.test_plan import NOW, NUDGE, cli, world, write

__all__ = ["world"]  # the fixture, shared with test_plan.py

# Only the wait before `fourth` changes (1d -> 3d): c4 waits there since 11-03 10:00.
NUDGE_LONGER_WAIT = NUDGE.replace(
    "  - wait: 1d\n  - send: fourth", "  - wait: 3d\n  - send: fourth"
)


def plan(proj: Path, db: Path, *args: str) -> tuple[int, str, str]:
    return cli("plan", str(proj), "--db", str(db), *args)


def test_a_changed_wait_shows_who_keeps_the_old_due_time_and_why(
    world: tuple[Path, Path],
) -> None:
    proj, db = world
    write(proj, {"nudge.yaml": NUDGE_LONGER_WAIT})
    (proj / "winback.yaml").unlink()
    code, out, err = plan(proj, db, "--now", NOW)
    assert code == 0, out + err
    lines = out.splitlines()
    i = lines.index(
        "  at `fourth`: 1 contact(s) already waiting keep their due time; the wait before it is now 3d"
    )
    assert lines[i + 1 : i + 3] == [
        "    c4: due 2026-11-04 10:00 KST (the new wait would give 2026-11-06 10:00 KST)",
        "    rule: a wait is timed when it is reached: contacts already waiting keep their due"
        " time; those who reach it from now on wait 3d",
    ]
    code, out, _ = plan(proj, db, "--now", NOW, "--format", "json")
    nudge = next(s for s in json.loads(out)["sequences"] if s["sequence"] == "nudge")
    assert nudge["waits"] == [
        {
            "step": "fourth",
            "kind": "wait",
            "wait": "3d",
            "contacts": 1,
            "rule": "a wait is timed when it is reached: contacts already waiting keep their"
            " due time; those who reach it from now on wait 3d",
            "examples": [
                {
                    "contact_id": "c4",
                    "due_at": "2026-11-04T10:00:00+09:00",
                    "new_due_at": "2026-11-06T10:00:00+09:00",
                }
            ],
        }
    ]


def test_window_lists_messages_that_far_ahead(world: tuple[Path, Path]) -> None:
    proj, db = world
    code, out, _ = plan(proj, db, "--now", NOW, "--format", "json")
    assert json.loads(out)["window"] == "24h"
    assert len(json.loads(out)["messages"]["planned"]) == 4
    code, out, err = plan(proj, db, "--now", NOW, "--window", "3d")
    assert code == 0, err
    assert (
        "messages for these contacts in the next 3d (2026-11-03 10:05 KST → 2026-11-06 10:05 KST; no --base): 8"
        in out
    )
    code, _, err = plan(proj, db, "--window", "soon")
    assert code == 2 and "--window" in err


def test_removed_step_suggests_a_migrate_line(world: tuple[Path, Path]) -> None:
    proj, db = world
    code, out, _ = plan(proj, db, "--now", NOW)
    assert code == 0
    # Without a base, a similarly named step is suggested for `third`? None is: it is unknown.
    assert (
        "  `third` is gone: to keep its contacts in flight, add `migrate: {third: <step id>}`"
        in out.splitlines()
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_removed_step_suggests_where_its_flow_went_on_with_base(
    world: tuple[Path, Path],
) -> None:
    proj, db = world
    code, out, _ = plan(proj, db, "--now", NOW, "--base", "main")
    assert code == 0
    assert (
        "  suggested: `migrate: {second: second-v2, third: fourth}` keeps the contacts at"
        " `third` in flight (without it they exit step_removed)"
    ) in out.splitlines()
    code, out, _ = plan(proj, db, "--now", NOW, "--base", "main", "--format", "json")
    nudge = next(s for s in json.loads(out)["sequences"] if s["sequence"] == "nudge")
    assert nudge["migrate"] == {"third": "fourth"}
    assert nudge["migrate_line"] == "migrate: {second: second-v2, third: fourth}"


def test_clock_defaults_to_the_last_run_and_says_so(world: tuple[Path, Path]) -> None:
    proj, db = world
    code, out, _ = plan(proj, db)
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == (
        "clock: 2026-11-03 10:05 KST, the last run's (from the database; --now to change)"
    )
    code, out, _ = plan(proj, db, "--format", "json")
    doc = json.loads(out)
    assert (doc["now"], doc["clock"]) == ("2026-11-03T10:05:00+09:00", "last run")
    code, out, err = cli("status", "--db", str(db), "--format", "json")
    assert code == 0
    assert err == (
        "clock: 2026-11-03 10:05 KST, the last run's (from the database; --now to change)\n"
    )
    code, out, err = cli("status", "--db", str(db), "--now", NOW)
    assert code == 0 and "clock:" not in err


def test_status_says_a_real_runs_clock_to_the_minute_as_plan_does(
    world: tuple[Path, Path],
) -> None:
    """A run from cron has a clock with seconds and microseconds; the note is for people."""
    proj, db = world
    code, out, err = cli(
        "run", str(proj), "--db", str(db), "--now", "2026-11-03T10:06:07.123456+09:00"
    )
    assert code == 0, out + err
    code, _, err = cli("status", str(proj), "--db", str(db))
    assert code == 0
    assert err == (
        "clock: 2026-11-03 10:06 KST, the last run's (from the database; --now to change)\n"
    )
    code, out, _ = plan(proj, db)
    assert "clock: 2026-11-03 10:06 KST, the last run's" in out
    # the `last run:` line said only when it ran (today), beside a clock note saying 11-03
    code, out, _ = cli("status", str(proj), "--db", str(db))
    lines = out.splitlines()
    i = next(i for i, x in enumerate(lines) if x.startswith("last run: "))
    assert lines[i + 1] == "  its clock: 2026-11-03 10:06 (--now)"
    # a run on the wall clock says nothing more
    code, out, err = cli("run", str(proj), "--db", str(db))
    assert code in (0, 1), out + err
    code, out, _ = cli("status", str(proj), "--db", str(db))
    assert "its clock" not in out


def test_without_runs_the_wall_clock_is_said(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    write(proj, {"journey.yaml": "timezone: Asia/Seoul\n", "nudge.yaml": NUDGE})
    db = tmp_path / "journey.db"
    SqliteStore(db).close()  # a database no run has used yet
    code, out, _ = plan(proj, db)
    assert code == 0
    assert out.splitlines()[1].endswith(", the wall clock (no run in the database yet)")
    code, _, err = cli("status", "--db", str(db))
    assert code == 0 and "clock:" not in err
