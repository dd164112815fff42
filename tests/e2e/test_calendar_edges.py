"""Contact values at the calendar's edge (years 1 and 9999, often placeholders for "unknown")
are located data errors at import, and never an exception in the engine (issue: a birthday
9999-12-31 made every run exit 3, "year 10000 is out of range")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.engine.model import Contact, Status
from journeyctl.simulate.replay import simulate
from journeyctl.spec.loader import load_project
from tests.builders import KST, build_tree

_register()
runner = CliRunner()

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: "${UNSUBSCRIBE_SECRET}"
contacts:
  fields: {birthday: date, signup_at: datetime}
channels:
  email: {type: file, path: outbox/, medium: email}
"""
BIRTHDAY = """
sequence: birthday
trigger:
  date: {field: birthday, every: year, at: "09:00", offset: -7d}
steps:
  - {send: hb, channel: email, subject: "hb", body: "hb"}
"""
SIGNUP = """
sequence: anniversary
trigger:
  date: {field: signup_at, every: year, at: "09:00"}
steps:
  - {send: an, channel: email, subject: "an", body: "an"}
"""
CONTACTS = (
    "id,email,birthday,signup_at\n"
    "c1,a@x.com,9999-12-31,9999-12-31T23:00:00-05:00\n"
    "c2,b@x.com,0001-01-01,0001-01-01T00:00:00+09:00\n"
    "c3,c@x.com,1990-11-10,2020-11-05T10:00:00+09:00\n"
)


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UNSUBSCRIBE_SECRET", "a-test-secret")
    build_tree(
        tmp_path,
        {
            "p/journey.yaml": JOURNEY,
            "p/birthday.yaml": BIRTHDAY,
            "p/signup.yaml": SIGNUP,
            "contacts.csv": CONTACTS,
        },
    )
    return tmp_path


def test_edge_years_are_located_data_errors(proj: Path) -> None:
    result = runner.invoke(
        app, ["validate", str(proj / "p"), "--contacts", str(proj / "contacts.csv")]
    )
    assert result.exit_code == 1
    assert "contacts.csv:2:3: error[bad-date]: column birthday: '9999-12-31' is outside" in (
        result.stderr
    )
    assert "contacts.csv:3:4: error[bad-datetime]" in result.stderr
    assert "leave the cell empty" in result.stderr

    run = runner.invoke(
        app,
        ["run", str(proj / "p"), "--db", str(proj / "j.db"), "--now", "2026-11-01T10:00:00+09:00",
         "--contacts", str(proj / "contacts.csv"), "--skip-invalid"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output  # the good contact is imported and runs
    assert "internal error" not in run.output


def test_the_engine_never_raises_on_an_edge_date(proj: Path) -> None:
    project = load_project(proj / "p")
    start = datetime(2026, 11, 1, tzinfo=KST)
    contacts = [
        Contact("c1", "a@x.com", attrs={"birthday": date(9999, 12, 31),
                                         "signup_at": datetime(9999, 12, 31, 23, tzinfo=UTC)}),
        Contact("c2", "b@x.com", attrs={"birthday": date(1, 1, 1),
                                         "signup_at": datetime(1, 1, 1, tzinfo=UTC)}),
        Contact("c3", "c@x.com", attrs={"birthday": date(1990, 11, 10),
                                         "signup_at": datetime(2020, 11, 5, 1, tzinfo=UTC)}),
    ]  # fmt: skip
    sim = simulate(project, contacts, [], start, start + timedelta(days=30))
    sent = sorted((m.contact_id, m.step) for m in sim.messages if m.status is Status.SENT)
    assert sent == [("c3", "an"), ("c3", "hb")]
