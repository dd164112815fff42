"""Safe segment starts and the cross-sequence guard, as a user runs them.

`trigger: {segment: ..., existing: skip}`: contacts who already match when the sequence first
runs do not enter, only those who begin to match later (run: from the first tick that sees
the sequence, recorded in the database; simulate: from --start). `unless_in: [welcome]`: no
entry while active in welcome. `run` (CLI and run_once, real SQLite) equals `simulate`.
"""

from __future__ import annotations

import json
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.engine.model import Status
from journeyctl.simulate.replay import simulate
from journeyctl.spec.loader import load_project
from tests.e2e.project import START, population, write_project
from tests.e2e.test_run_equals_simulate import END, actual, predicted, ran, ticks

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret
contacts:
  fields: {last_active_at: datetime}
channels:
  email: {type: file, path: outbox/, medium: email}
"""

WINBACK = """
sequence: winback
trigger:
  segment: "days_since(contact.last_active_at) >= 30"
  check: "0 9 * * *"
  existing: skip
ad: false
steps:
  - send: comeback
    subject: "Come back"
    body: "cb"
"""

WELCOME = """
sequence: welcome
trigger: {event: subscribed}
ad: false
steps:
  - send: hello
    subject: "Hello"
    body: "hello"
  - wait: 3d
  - send: tips
    subject: "Tips"
    body: "tips"
"""

PROMO = """
sequence: promo
trigger: {event: promo_viewed}
unless_in: [welcome]
reentry: always
ad: false
steps:
  - send: promo
    subject: "Promo"
    body: "promo"
"""

# On 2026-11-01 (--start): old1 inactive for 40 days (already matching), new1 for 27 days
# (matches from 2026-11-04), and new2 for 10 days (not within 10 days; from 2026-11-21).
CONTACTS = (
    "id,email,last_active_at\n"
    "old1,old1@example.com,2026-09-22T12:00:00+09:00\n"
    "new1,new1@example.com,2026-10-05T12:00:00+09:00\n"
    "new2,new2@example.com,2026-10-22T12:00:00+09:00\n"
)


def cli(*args: str) -> tuple[int, str, str]:
    _register()
    r = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})
    return r.exit_code, r.stdout, r.stderr


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def shop(tmp_path: Path, files: dict[str, str]) -> Path:
    proj = tmp_path / "proj"
    write(proj / "journey.yaml", JOURNEY)
    for name, text in files.items():
        write(proj / name, text)
    write(tmp_path / "contacts.csv", CONTACTS)
    return proj


def simulated(tmp_path: Path, proj: Path, *extra: str) -> dict[str, object]:
    code, out, err = cli("simulate", str(proj), "--contacts", str(tmp_path / "contacts.csv"),
                         "--start", "2026-11-01", "--days", "10", "--format", "json", *extra)  # fmt: skip
    assert code == 0, err
    doc: dict[str, object] = json.loads(out)
    return doc


def sent(messages: object) -> set[tuple[str, str, str]]:
    assert isinstance(messages, list)
    return {(m["contact_id"], m["step"], m["at"]) for m in messages if m["status"] == "sent"}


def test_existing_skip_enrolls_only_new_matches_in_simulate_and_run(tmp_path: Path) -> None:
    proj = shop(tmp_path, {"winback.yaml": WINBACK})
    code, out, err = cli("validate", str(proj))
    assert code == 0, out + err
    doc = simulated(tmp_path, proj)
    want = {("new1", "comeback", "2026-11-04T09:00:00+09:00")}
    assert sent(doc["messages"]) == want
    # The default enrolls everyone matching at the first check (old1 on day 1).
    write(proj / "winback.yaml", WINBACK.replace("  existing: skip\n", ""))
    assert sent(simulated(tmp_path, proj)["messages"]) == want | {
        ("old1", "comeback", "2026-11-01T09:00:00+09:00")
    }
    write(proj / "winback.yaml", WINBACK)
    db = tmp_path / "j.db"
    t = "2026-11-01T00:00:00+09:00"
    code, out, err = cli("run", str(proj), "--db", str(db), "--contacts",
                         str(tmp_path / "contacts.csv"), "--now", t)  # fmt: skip
    assert code == 0, out + err
    for day in range(1, 11):
        for hour in ("08:30", "20:30"):
            code, out, err = cli("run", str(proj), "--db", str(db),
                                 "--now", f"2026-11-{day:02d}T{hour}:00+09:00")  # fmt: skip
            assert code == 0, out + err
    code, out, _ = cli("messages", "--db", str(db), "--format", "json")
    assert sent(json.loads(out)) == want


def test_existing_skip_counts_from_the_first_tick_that_sees_the_sequence(tmp_path: Path) -> None:
    """A database that ran for days before win-back was added: its first tick (11-05 08:00)
    is its start. old1 and new1 match already then; nobody is mailed at once."""
    proj = shop(tmp_path, {"welcome.yaml": WELCOME})
    db = tmp_path / "j.db"
    code, out, err = cli("run", str(proj), "--db", str(db), "--contacts",
                         str(tmp_path / "contacts.csv"), "--now", "2026-11-01T00:00:00+09:00")  # fmt: skip
    assert code == 0, out + err
    write(proj / "winback.yaml", WINBACK)
    for now in ("2026-11-05T08:00:00+09:00", "2026-11-05T10:00:00+09:00",
                "2026-11-15T10:00:00+09:00"):  # fmt: skip
        code, out, err = cli("run", str(proj), "--db", str(db), "--now", now)
        assert code == 0, out + err
    code, out, _ = cli("messages", "--db", str(db), "--format", "json")
    assert json.loads(out) == []
    # new2 begins to match on 11-21 (30 calendar days): it enters at that morning's check.
    code, out, err = cli("run", str(proj), "--db", str(db), "--now", "2026-11-21T10:00:00+09:00")
    assert code == 0, out + err
    code, out, _ = cli("messages", "--db", str(db), "--format", "json")
    assert sent(json.loads(out)) == {("new2", "comeback", "2026-11-21T09:00:00+09:00")}


def test_unless_in_guards_entry_while_active_elsewhere(tmp_path: Path) -> None:
    proj = shop(tmp_path, {"welcome.yaml": WELCOME, "promo.yaml": PROMO})
    write(
        tmp_path / "events.csv",
        "contact_id,event,at\n"
        "old1,subscribed,2026-11-02T10:00:00+09:00\n"
        "old1,promo_viewed,2026-11-03T10:00:00+09:00\n"  # in welcome: no promo
        "new1,promo_viewed,2026-11-03T11:00:00+09:00\n"
        "old1,promo_viewed,2026-11-06T10:00:00+09:00\n",  # welcome completed on 11-05
    )
    code, out, err = cli("simulate", str(proj), "--contacts", str(tmp_path / "contacts.csv"),
                         "--events", str(tmp_path / "events.csv"), "--start", "2026-11-01",
                         "--days", "10", "--format", "json")  # fmt: skip
    assert code == 0, err
    promos = {(c, a) for c, s, a in sent(json.loads(out)["messages"]) if s == "promo"}
    assert promos == {("new1", "2026-11-03T11:00:00+09:00"), ("old1", "2026-11-06T10:00:00+09:00")}
    db = tmp_path / "j.db"
    code, out, err = cli("run", str(proj), "--db", str(db), "--contacts",
                         str(tmp_path / "contacts.csv"), "--now", "2026-11-01T00:00:00+09:00")  # fmt: skip
    assert code == 0, out + err
    for day in range(2, 11):
        code, out, err = cli("run", str(proj), "--db", str(db), "--events",
                             str(tmp_path / "events.csv"), "--now", f"2026-11-{day:02d}T12:00:00+09:00")  # fmt: skip
        assert code == 0, out + err
    code, out, _ = cli("messages", "--db", str(db), "--format", "json")
    assert sent(json.loads(out)) == sent(json.loads(simulated_events(tmp_path, proj)))


def simulated_events(tmp_path: Path, proj: Path) -> str:
    code, out, err = cli("simulate", str(proj), "--contacts", str(tmp_path / "contacts.csv"),
                         "--events", str(tmp_path / "events.csv"), "--start", "2026-11-01",
                         "--days", "10", "--format", "json")  # fmt: skip
    assert code == 0, err
    return json.dumps(json.loads(out)["messages"])


def test_unless_in_names_are_validated(tmp_path: Path) -> None:
    proj = shop(
        tmp_path, {"welcome.yaml": WELCOME, "promo.yaml": PROMO.replace("[welcome]", "[welcom]")}
    )
    code, out, _ = cli("validate", str(proj), "--format", "json")
    assert code == 1
    (d,) = [d for d in json.loads(out)["diagnostics"] if d["severity"] == "error"]
    assert d["code"] == "unknown-sequence"
    assert (
        d["message"]
        == "unless_in: no sequence 'welcom' in this project (sequences: promo, welcome)"
    )
    assert d["hint"] == "did you mean 'welcome'?"
    assert d["path"].endswith("promo.yaml") and (d["line"], d["col"]) == (3, 13)


@pytest.mark.parametrize(
    ("cadence", "seed"), [(timedelta(hours=3), 0), (None, 4)], ids=["3h", "random"]
)
def test_run_equals_simulate_with_existing_skip_and_a_segment_guard(
    tmp_path: Path, cadence: timedelta | None, seed: int
) -> None:
    """The e2e fixture with win-back `existing: skip` and `unless_in: [welcome]`."""
    root = write_project(tmp_path / "project")
    path = root / "winback.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace('  check: "0 10 * * *"\n', '  check: "0 10 * * *"\n  existing: skip\n')
    path.write_text(text.replace("steps:\n", "unless_in: [welcome]\nsteps:\n", 1), encoding="utf-8")
    contacts, events = population()
    want_sent, want_skipped = predicted(root, contacts, events)
    sim = simulate(load_project(root), contacts, events, START, END)
    entered = {e.contact_id for e in sim.enrollments if e.sequence == "winback"}
    matching_at_start = {c.id for c in contacts if (START - c.attrs["last_active_at"]).days >= 30}
    assert entered and not entered & matching_at_start
    assert any(m.sequence == "winback" and m.status is Status.SENT for m in sim.messages)
    db = tmp_path / "journey.db"
    ran(root, db, contacts, events, ticks(cadence, seed))
    got_sent, got_skipped, _ = actual(db)
    assert got_sent == want_sent
    assert got_skipped == want_skipped


def crowd(tmp_path: Path, n: int = 120) -> Path:
    """`n` contacts, all inactive for 40 days on 2026-11-01: win-back matches every one."""
    path = tmp_path / "crowd.csv"
    path.write_text(
        "id,email,last_active_at\n"
        + "".join(f"k{i:03d},k{i}@example.com,2026-09-22T12:00:00+09:00\n" for i in range(n)),
        encoding="utf-8",
    )
    return path


def test_simulate_warns_when_a_first_check_enrolls_a_crowd(tmp_path: Path) -> None:
    proj = shop(tmp_path, {"winback.yaml": WINBACK.replace("  existing: skip\n", "")})
    people = crowd(tmp_path)
    args = ["simulate", str(proj), "--contacts", str(people), "--start", "2026-11-01",
            "--days", "3", "--format", "json"]  # fmt: skip
    code, out, err = cli(*args)
    assert code == 0
    assert (
        "warning: winback enrolls 120 contact(s) at once at its first check "
        "(2026-11-01T09:00+09:00): everyone who matches already; add `existing: skip`"
    ) in err
    assert json.loads(out)["summary"]["winback"]["entered"] == 120
    write(proj / "winback.yaml", WINBACK)  # existing: skip: nobody enters, nothing to warn of
    code, out, err = cli(*args)
    assert code == 0 and "warning" not in err
    assert json.loads(out)["summary"]["winback"]["entered"] == 0


def test_plan_warns_before_a_new_segment_sequence_enrolls_a_crowd(tmp_path: Path) -> None:
    proj = shop(tmp_path, {"welcome.yaml": WELCOME})
    db = tmp_path / "j.db"
    code, out, err = cli("run", str(proj), "--db", str(db), "--contacts", str(crowd(tmp_path)),
                         "--now", "2026-11-01T00:00:00+09:00")  # fmt: skip
    assert code == 0, out + err
    write(proj / "winback.yaml", WINBACK.replace("  existing: skip\n", ""))
    args = ["plan", str(proj), "--db", str(db), "--now", "2026-11-01T08:00:00+09:00"]
    code, out, err = cli(*args, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    (seq,) = [s for s in doc["sequences"] if s["sequence"] == "winback"]
    assert seq["status"] == "added" and seq["matching_now"] == 120
    assert len(doc["warnings"]) == 1 and "winback enrolls 120 contact(s)" in doc["warnings"][0]
    code, out, _ = cli(*args)
    assert "warning: winback enrolls 120 contact(s) at once at its first check" in out
    assert "winback (new): enrolls contacts when" in out and "120 contact(s) match now" in out
    write(proj / "winback.yaml", WINBACK)
    code, out, _ = cli(*args, "--format", "json")
    assert json.loads(out)["warnings"] == []
