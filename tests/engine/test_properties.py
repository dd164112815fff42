"""Properties of the engine over random contacts and events (hypothesis)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeyctl.engine.advance import Assumptions
from journeyctl.engine.make import make_engine
from journeyctl.engine.model import Contact, Event, Status
from journeyctl.engine.timing import in_span, zone
from journeyctl.simulate.replay import simulate
from journeyctl.spec.project import Project
from tests.builders import at, make_project

JOURNEY = """
timezone: Asia/Seoul
quiet_hours: {start: "21:00", end: "08:00"}
frequency_cap: {max: 2, per: 1d}
compliance: [kr]
contacts:
  fields: {night_consent: bool}
channels:
  email: {type: file, path: outbox/, medium: email}
  sms: {type: file, path: outbox/, medium: sms}
"""

WELCOME = """
trigger: {event: subscribed}
exit_on: [unsubscribed]
goal: {event: purchased, within: 5d}
reentry: 2d
steps:
  - send: hello
    channel: email
    subject: "(광고) hi"
    body: hi
  - wait: 4h
  - send: sms-1
    channel: sms
    body: "(광고) x"
  - wait: 1d
  - branch:
      if: "opened('hello')"
      then: [{send: thanks, channel: email, subject: "(광고) t", body: t}]
      else:
        - split:
            a: {weight: 1, steps: [{send: offer-a, channel: email, subject: "(광고) a", body: a}]}
            b: {weight: 1, steps: [{send: offer-b, channel: sms, body: "(광고) b"}]}
  - wait_for: {event: purchased, timeout: 2d}
    on_timeout: [{send: last, channel: email, subject: "(광고) l", body: l}]
"""

CART = """
trigger: {event: cart_abandoned}
exit_on: [purchased]
reentry: always
steps:
  - wait: 1h
  - send: cart-1
    channel: email
    subject: "(광고) cart"
    body: c
  - wait: 23h
  - send: cart-2
    channel: sms
    body: "(광고) coupon"
"""

RECEIPT = """
trigger: {event: purchased}
ad: false
transactional: true
reentry: always
steps:
  - send: receipt
    channel: email
    subject: receipt
    body: r
"""

START = at("2026-11-01 00:00")
DAYS = 10
ZONES = ["Asia/Seoul", "America/New_York", "Europe/Berlin", "Bad/Zone", None]
NAMES = ["subscribed", "cart_abandoned", "purchased", "opened", "clicked", "unsubscribed"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root: Path = tmp_path_factory.mktemp("props")
    return make_project(root, {"welcome": WELCOME, "cart": CART, "receipt": RECEIPT}, JOURNEY)


contacts_st = st.lists(
    st.tuples(st.sampled_from(ZONES), st.booleans(), st.booleans()), min_size=1, max_size=6
)
events_st = st.lists(
    st.tuples(st.integers(0, 5), st.sampled_from(NAMES), st.integers(-3 * 24 * 60, DAYS * 24 * 60)),
    max_size=25,
)


def build(raw_contacts: list, raw_events: list) -> tuple[list[Contact], list[Event]]:
    contacts = [
        Contact(f"c{i}", email=f"c{i}@x.io", phone="010" if has_phone else None, timezone=tz,
                attrs={"night_consent": night})
        for i, (tz, night, has_phone) in enumerate(raw_contacts)
    ]  # fmt: skip
    events = [
        Event(f"c{i % len(contacts)}", name, START + timedelta(minutes=minute))
        for i, name, minute in raw_events
    ]
    return contacts, events


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(contacts_st, events_st, st.integers(0, 3))
def test_invariants(project: Project, raw_contacts: list, raw_events: list, seed: int) -> None:
    contacts, events = build(raw_contacts, raw_events)
    engine = make_engine(
        project, assumptions=Assumptions((("opened", 0.5), ("purchased", 0.1)), seed)
    )
    end = START + timedelta(days=DAYS)
    sim = simulate(project, contacts, events, START, end, engine=engine)
    qh = project.settings.quiet_hours
    assert qh is not None
    per = timedelta(days=1)
    by_contact: dict[str, list] = {}
    ended = {e.id: e.ended_at for e in sim.enrollments if e.ended_at is not None}
    for m in sim.messages:
        # every message lies inside [start, end)
        assert START <= m.at < end
        # an exited enrollment never sends again
        if m.enrollment_id in ended:
            assert m.at <= ended[m.enrollment_id]
        if m.status is not Status.SENT or not m.is_marketing:
            continue
        tz = zone(next(c.timezone for c in contacts if c.id == m.contact_id), "Asia/Seoul")
        # no marketing message inside quiet hours, in the contact's (or fallback) zone
        assert not in_span(m.at.astimezone(tz).time(), qh.start, qh.end), m
        by_contact.setdefault(m.contact_id, []).append(m.at)
    # the cap is never exceeded in any window of `per`
    for times in by_contact.values():
        times.sort()
        for i, t in enumerate(times):
            assert sum(1 for u in times[: i + 1] if u > t - per) <= 2
    # same inputs, same seed -> same output
    again = simulate(project, contacts, events, START, end, engine=make_engine(
        project, assumptions=Assumptions((("opened", 0.5), ("purchased", 0.1)), seed)))  # fmt: skip
    assert [(m.key, m.at, m.status) for m in again.messages] == [
        (m.key, m.at, m.status) for m in sim.messages
    ]
