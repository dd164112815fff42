"""Consent is checked at every marketing send, not only at entry (정보통신망법 제50조; Braze and
Customer.io check subscription state at send time): a contact who withdraws consent on one
channel mid-sequence gets nothing more there, and still gets the others. Transactional
messages are exempt. `simulate` and `run` agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from tests.builders import build_tree

_register()
runner = CliRunner()

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: "${UNSUBSCRIBE_SECRET}"
contacts:
  fields: {consent_email: bool, consent_sms: bool, vip: bool}
channels:
  email: {type: file, path: outbox/, medium: email}
  sms: {type: file, path: outbox/, medium: sms}
"""

PROMO = """
sequence: promo
trigger: {event: subscribed}
audience: "contact.vip"
steps:
  - send: day0
    channel: email
    subject: "(광고) day0"
    body: "(광고) day0"
  - wait: 1d
  - send: sms1
    channel: sms
    body: "(광고) sms1"
  - wait: 1d
  - send: day2
    channel: email
    subject: "(광고) day2"
    body: "(광고) day2"
"""

ORDERS = """
sequence: orders
trigger: {event: purchased}
ad: false
transactional: true
steps:
  - wait: 1d
  - send: shipped
    channel: sms
    body: "배송이 시작되었습니다"
"""

CONTACTS = (
    "id,email,phone,name,consent_email,consent_sms,vip\n"
    "c1,a@x.com,010-1111-2222,Kim,true,true,true\n"
    "c2,b@x.com,010-3333-4444,Lee,true,true,true\n"
)
EVENTS = (
    "contact_id,event,at\n"
    "c1,subscribed,2026-11-02T10:00:00+09:00\n"
    "c2,subscribed,2026-11-02T10:00:00+09:00\n"
    "c1,purchased,2026-11-02T10:30:00+09:00\n"
)


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UNSUBSCRIBE_SECRET", "a-test-secret")
    build_tree(
        tmp_path,
        {
            "p/journey.yaml": JOURNEY,
            "p/promo.yaml": PROMO,
            "p/orders.yaml": ORDERS,
            "contacts.csv": CONTACTS,
            "events.csv": EVENTS,
        },
    )
    return tmp_path


def _run(root: Path, now: str, contacts: str | None = None, events: str | None = None) -> None:
    args = ["run", str(root / "p"), "--db", str(root / "j.db"), "--now", now]
    for flag, name in (("--contacts", contacts), ("--events", events)):
        if name:
            args += [flag, str(root / name)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output


def _ledger(root: Path) -> dict[tuple[str, str], tuple[str, str | None]]:
    result = runner.invoke(
        app, ["messages", "--db", str(root / "j.db"), "--status", "all", "--format", "json"]
    )
    if result.exit_code != 0:  # `--status` is newer than this check: fall back to the db
        import sqlite3

        with sqlite3.connect(root / "j.db") as db:
            rows = db.execute("SELECT contact_id, step, status, reason FROM ledger").fetchall()
        return {(c, s): (st, r) for c, s, st, r in rows}
    return {
        (m["contact_id"], m["step"]): (m["status"], m["reason"]) for m in json.loads(result.stdout)
    }


def test_consent_withdrawn_on_one_channel_mid_sequence(proj: Path) -> None:
    _run(proj, "2026-11-02T10:00:00+09:00", "contacts.csv", "events.csv")
    # The next export: c1 no longer wants ad SMS; c2 is no longer in the audience.
    withdrawn = CONTACTS.replace("Kim,true,true,true", "Kim,true,false,true").replace(
        "Lee,true,true,true", "Lee,true,true,false"
    )
    (proj / "contacts.csv").write_text(withdrawn, encoding="utf-8")
    for now in (
        "2026-11-03T10:00:00+09:00",
        "2026-11-03T11:00:00+09:00",
        "2026-11-04T10:00:00+09:00",
    ):
        _run(proj, now, "contacts.csv")
    ledger = _ledger(proj)
    assert ledger[("c1", "day0")][0] == "sent"
    assert ledger[("c1", "sms1")] == ("skipped", "no_consent")
    assert ledger[("c1", "day2")][0] == "sent"  # email is fine
    assert ledger[("c1", "shipped")][0] == "sent"  # transactional: exempt
    assert ledger[("c2", "sms1")] == ("skipped", "audience")
    assert ledger[("c2", "day2")] == ("skipped", "audience")


def test_a_channel_unsubscribe_event_stops_that_channel_only_in_run_and_simulate(
    proj: Path,
) -> None:
    # No more SMS, email is fine: the event names the channel it withdraws.
    events = (
        "contact_id,event,at,channel\n"
        + "".join(line + ",\n" for line in EVENTS.splitlines()[1:])
        + "c1,unsubscribed,2026-11-02T12:00:00+09:00,sms\n"
    )
    (proj / "events.csv").write_text(events, encoding="utf-8")
    sim = runner.invoke(
        app,
        ["simulate", str(proj / "p"), "--contacts", str(proj / "contacts.csv"), "--events",
         str(proj / "events.csv"), "--start", "2026-11-02", "--days", "4", "--format", "json"],
    )  # fmt: skip
    assert sim.exit_code == 0, sim.output
    predicted = {
        (m["contact_id"], m["step"]): (m["status"], m["reason"])
        for m in json.loads(sim.stdout)["messages"]
    }
    assert predicted[("c1", "sms1")] == ("skipped", "unsubscribed")
    assert predicted[("c1", "day2")] == ("sent", None)
    assert predicted[("c2", "sms1")] == ("sent", None)

    _run(proj, "2026-11-02T10:00:00+09:00", "contacts.csv", "events.csv")
    for hour in range(11, 24 * 3, 1):
        day, h = divmod(hour, 24)
        _run(proj, f"2026-11-{2 + day:02d}T{h:02d}:00:00+09:00", events="events.csv")
    assert _ledger(proj) == predicted


@pytest.mark.parametrize(
    ("named", "email_after"),
    [("SMS ", ("sent", None)), ("Sms", ("sent", None)), ("text", ("skipped", "unsubscribed"))],
)
def test_a_channel_unsubscribe_never_fails_open(
    proj: Path, named: str, email_after: tuple[str, str | None]
) -> None:
    """Case and spaces do not matter; a name that is no channel or medium stops them all."""
    events = (
        "contact_id,event,at,channel\n"
        + "".join(line + ",\n" for line in EVENTS.splitlines()[1:])
        + f"c1,unsubscribed,2026-11-02T12:00:00+09:00,{named}\n"
    )
    (proj / "events.csv").write_text(events, encoding="utf-8")
    sim = runner.invoke(
        app,
        ["simulate", str(proj / "p"), "--contacts", str(proj / "contacts.csv"), "--events",
         str(proj / "events.csv"), "--start", "2026-11-02", "--days", "4", "--format", "json"],
    )  # fmt: skip
    assert sim.exit_code == 0, sim.output
    got = {
        (m["contact_id"], m["step"]): (m["status"], m["reason"])
        for m in json.loads(sim.stdout)["messages"]
    }
    assert got[("c1", "sms1")] == ("skipped", "unsubscribed")
    assert got[("c1", "day2")] == email_after


def test_a_string_consent_column_is_left_to_the_audience(proj: Path) -> None:
    (proj / "p/journey.yaml").write_text(
        JOURNEY.replace("consent_sms: bool", "consent_sms: string"), encoding="utf-8"
    )
    (proj / "contacts.csv").write_text(
        CONTACTS.replace(",true,true,true", ",true,Y,true"), encoding="utf-8"
    )
    sim = runner.invoke(
        app,
        ["simulate", str(proj / "p"), "--contacts", str(proj / "contacts.csv"), "--events",
         str(proj / "events.csv"), "--start", "2026-11-02", "--days", "4", "--format", "json"],
    )  # fmt: skip
    assert sim.exit_code == 0, sim.output
    sms = [m for m in json.loads(sim.stdout)["messages"] if m["step"] == "sms1"]
    assert sms and all(m["status"] == "sent" for m in sms)
