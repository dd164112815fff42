"""`journeyctl report` end to end: `run` writes a real SQLite db, `report` reads it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.cli.report import to_csv
from journeyctl.reporting.report import MessageRow, build_report
from journeyctl.spec.models import ReportThresholds

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret  # `run` refuses to start without one
report: {min_recipients: 1, open_rate_min: 0.5}
contacts:
  fields: {consent_email: bool}
channels:
  email: {type: file, path: outbox/, medium: email}
"""
NUDGE = """
sequence: nudge
trigger: {event: subscribed}
exit_on: [unsubscribed]
ad: false
steps:
  - send: first
    subject: First
    body: "Hi"
  - wait: 1d
  - send: second
    subject: Second
    body: "Again"
"""


def cli(*args: str) -> tuple[int, str, str]:
    _register()
    r = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})
    return r.exit_code, r.stdout, r.stderr


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def make_db(tmp_path: Path) -> tuple[Path, Path]:
    proj = tmp_path / "proj"
    write(proj, {"journey.yaml": JOURNEY, "nudge.yaml": NUDGE})
    write(
        tmp_path,
        {
            "contacts.csv": "id,email,name,consent_email\nc1,a@example.com,A,true\n"
            "c2,b@example.com,B,true\nc3,c@example.com,C,true\n",
            "ev1.csv": "contact_id,event,at\n"
            + "".join(f"c{i},subscribed,2026-11-02T10:00:00+09:00\n" for i in (1, 2, 3)),
            # no message reference: they count for the latest message before them (`first`)
            "ev2.csv": "contact_id,event,at\nc1,opened,2026-11-02T11:00:00+09:00\n"
            "c1,clicked,2026-11-02T11:05:00+09:00\nc2,unsubscribed,2026-11-02T12:00:00+09:00\n",
        },
    )
    db = tmp_path / "journey.db"
    code, out, err = cli("run", str(proj), "--db", str(db), "--contacts", str(tmp_path / "contacts.csv"),
                         "--events", str(tmp_path / "ev1.csv"), "--now", "2026-11-02T10:05:00+09:00")  # fmt: skip
    assert code == 0, out + err
    code, out, err = cli("run", str(proj), "--db", str(db), "--events", str(tmp_path / "ev2.csv"),
                         "--now", "2026-11-03T10:05:00+09:00")  # fmt: skip
    assert code == 0, out + err
    return proj, db


def test_report_json_from_a_real_database(tmp_path: Path) -> None:
    proj, db = make_db(tmp_path)
    code, out, _ = cli("report", str(proj), "--db", str(db), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    got = [(s["step"], s["sent"], s["delivered"], s["opened"], s["clicked"], s["unsubscribed"])
           for s in doc["steps"]]  # fmt: skip
    assert got == [("first", 3, 3, 1, 1, 1), ("second", 2, 2, 0, 0, 0)]
    assert doc["thresholds"]["open_rate_min"] == 0.5
    assert [a["rule"] for a in doc["advice"]] == [
        "low-open-rate", "high-unsubscribe-rate", "low-open-rate", "low-click-rate",
    ]  # fmt: skip


def test_report_table_and_since(tmp_path: Path) -> None:
    proj, db = make_db(tmp_path)
    code, out, _ = cli("report", str(proj), "--db", str(db))
    assert code == 0
    assert "advice: nudge `first`: open rate 33.3% is under 50.0% — rework the subject line" in out
    code, out, _ = cli("report", str(proj), "--db", str(db), "--since", "2026-11-03",
                       "--format", "csv")  # fmt: skip
    assert out.splitlines() == [
        "sequence,step,variant,sent,delivered,opened,clicked,goals,unsubscribed,bounced,"
        "open_rate,click_rate,goal_rate,unsubscribe_rate",
        "nudge,second,,2,2,0,0,0,0,0,0.0,0.0,0.0,0.0",
    ]


def test_missing_db_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = cli("report", str(tmp_path), "--db", str(tmp_path / "nope.db"))
    assert code == 2
    assert "does not exist" in err


def test_csv_cells_are_safe_from_formula_injection() -> None:
    from datetime import UTC, datetime

    row = MessageRow(
        "k", "c1", "=cmd|' /C calc'!A0", "+step", "e1", datetime(2026, 1, 1, tzinfo=UTC), "sent"
    )
    text = to_csv(build_report([row], [], [], ReportThresholds()))
    assert text.splitlines()[1].startswith("'=cmd|' /C calc'!A0,'+step,")
