"""Projects and runs for the pages' tests: the stock library over examples/ (Korean), and a
small English project with an A/B split, a goal and responses, run into a real SQLite file."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from journeyctl.cli import _register, app

ROOT = Path(__file__).resolve().parents[2]
STOCK, EXAMPLES = ROOT / "sequences", ROOT / "examples"
SIM_ARGS = ("--contacts", str(EXAMPLES / "contacts.csv"), "--events",
            str(EXAMPLES / "events.csv"), "--start", "2026-11-01", "--days", "30")  # fmt: skip


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    _register()
    r = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200", **(env or {})})
    return r.exit_code, r.stdout, r.stderr


def simulate_stock(out: Path) -> dict[str, object]:
    """The stock library's month as a page at `out`; returns the same run's JSON."""
    code, _, err = cli("simulate", str(STOCK), *SIM_ARGS, "--format", "html", "--out", str(out))
    assert code == 0, err
    code, text, err = cli("simulate", str(STOCK), *SIM_ARGS, "--format", "json")
    assert code == 0, err
    return json.loads(text)  # type: ignore[no-any-return]


JOURNEY = """
timezone: UTC
unsubscribe_secret: test-only-unsubscribe-secret
report: {min_recipients: 1, open_rate_min: 0.5}
contacts:
  fields: {consent_email: bool}
channels:
  email: {type: file, path: outbox/, medium: email}
"""
PROMO = """
sequence: promo
trigger: {event: subscribed}
goal: {event: purchased}
ad: false
steps:
  - split:
      a: {weight: 50, steps: [{send: offer-a, subject: "Offer A", body: "A"}]}
      b: {weight: 50, steps: [{send: offer-b, subject: "Offer B", body: "B"}]}
  - wait: 1d
  - send: reminder
    subject: Reminder
    body: "Again"
"""


def report_db(tmp: Path, contacts: int = 40) -> tuple[Path, Path]:
    """`run` twice over an English project: offers on day 1, reminders on day 2, with opens,
    clicks and purchases in between. Returns (project, database)."""
    proj = tmp / "proj"
    proj.mkdir()
    (proj / "journey.yaml").write_text(textwrap.dedent(JOURNEY).lstrip(), encoding="utf-8")
    (proj / "promo.yaml").write_text(textwrap.dedent(PROMO).lstrip(), encoding="utf-8")
    ids = [f"p{i:03d}" for i in range(contacts)]
    with (tmp / "contacts.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "email", "consent_email"])
        w.writerows([cid, f"{cid}@example.com", "true"] for cid in ids)
    with (tmp / "ev1.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["contact_id", "event", "at"])
        w.writerows([cid, "subscribed", "2026-11-02T09:00:00+00:00"] for cid in ids)
    with (tmp / "ev2.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["contact_id", "event", "at"])
        for i, cid in enumerate(ids):
            if i % 2 == 0:
                w.writerow([cid, "opened", "2026-11-02T12:00:00+00:00"])
            if i % 5 == 0:
                w.writerow([cid, "clicked", "2026-11-02T12:05:00+00:00"])
            if i % 4 == 0:
                w.writerow([cid, "purchased", "2026-11-02T15:00:00+00:00"])
    db = tmp / "journey.db"
    code, out, err = cli("run", str(proj), "--db", str(db), "--contacts", str(tmp / "contacts.csv"),
                         "--events", str(tmp / "ev1.csv"), "--now", "2026-11-02T09:05:00+00:00")  # fmt: skip
    assert code == 0, out + err
    code, out, err = cli("run", str(proj), "--db", str(db), "--events", str(tmp / "ev2.csv"),
                         "--now", "2026-11-03T10:00:00+00:00")  # fmt: skip
    assert code == 0, out + err
    return proj, db
