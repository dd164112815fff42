"""Segment horizons: a skipped check would have read the same value (engine.horizon)."""

from __future__ import annotations

from bisect import insort
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError

from journeyctl.data.contacts import read_contacts
from journeyctl.data.events import read_events
from journeyctl.data.instants import parse_instant
from journeyctl.engine.facts import NEVER, Facts
from journeyctl.engine.fastexpr import fast_compile
from journeyctl.engine.horizon import horizon_compile
from journeyctl.engine.make import make_engine
from journeyctl.engine.model import ContactState, Event
from journeyctl.engine.timing import zone
from journeyctl.simulate.replay import simulate
from journeyctl.spec import load_valid_project
from tests.builders import contact

ROOT = Path(__file__).resolve().parents[2]

CONDITIONS = [
    "days_since(contact.last_active_at) >= 30",
    "days_since(contact.last_active_at) > 29.5",
    "days_since(contact.last_active_at) < 10",
    "days_since(contact.last_active_at) <= 10",
    "days_since(contact.last_active_at) == 14",
    "days_since(contact.last_active_at) != 14",
    "days_since(contact.birthday) >= 100",
    "days_since(contact.last_active_at) + 1 > 20",
    "days_since(last_event('purchased')) >= 3",
    "event_count('purchased', within='7d') == 0",
    "event_count('purchased', within='2d') >= 1",
    "event_count('clicked', within='1d12h') < 2",
    "event_count('purchased', within='7d') == 1",
    "event_count('clicked', within='2d') >= 2",
    "event_count('purchased') >= 2 and days_since(contact.last_active_at) >= 5",
    "days_since(contact.last_active_at) >= 30 and event_count('purchased', within='30d') == 0"
    " and event_count('clicked', within='30d') == 0",
    "contact.vip or event_count('clicked', within='3d') > 0",
    "not (event_count('purchased', within='5d') > 0)",
    "(days_since(contact.last_active_at) >= 7) if contact.vip else"
    " (event_count('purchased', within='10d') == 0)",
    "now.hour >= 9",
]
ZONES = ["Asia/Seoul", "America/New_York", "Europe/Berlin", "America/Santiago", "Pacific/Apia"]
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, ContactState, datetime]:
    tz = draw(st.sampled_from(ZONES))
    last = T0 + timedelta(minutes=draw(st.integers(-60 * 24 * 60, 60 * 24 * 30)))
    birthday = date(1990, 1, 1) + timedelta(days=draw(st.integers(0, 12000)))
    c = contact("c1", tz, last_active_at=last, birthday=birthday, vip=draw(st.booleans()))
    offsets = draw(
        st.lists(st.integers(-60 * 24 * draw(st.sampled_from([3, 10, 40])), 0), max_size=8)
    )
    names = draw(st.lists(st.sampled_from(["purchased", "clicked"]), min_size=8, max_size=8))
    state = ContactState(contact=c, cursor=T0)
    state.events = sorted(
        (Event("c1", n, T0 + timedelta(minutes=m)) for n, m in zip(names, offsets, strict=False)),
        key=lambda e: e.at,
    )
    return draw(st.sampled_from(CONDITIONS)), state, T0


def plain(source: str, state: ContactState, t: datetime) -> Any:
    from journeyctl.engine.facts import Scope

    fast = fast_compile(source)
    assert fast is not None
    tz = zone(state.contact.timezone, "UTC")
    return fast(Scope(Facts(state, t, None, tz), {"contact": state.contact.as_template_value()}))


NEW_EVENTS = st.lists(
    st.tuples(st.sampled_from(["purchased", "clicked"]), st.integers(0, 60 * 24 * 120)),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(cases(), st.lists(st.integers(1, 60 * 24 * 120), min_size=1, max_size=25), NEW_EVENTS)
def test_value_holds_until_the_horizon(
    case: tuple[str, ContactState, datetime],
    later: list[int],
    arriving: list[tuple[str, int]],
) -> None:
    source, state, t = case
    compiled = horizon_compile(source)
    assert compiled is not None, source
    tz = zone(state.contact.timezone, "UTC")
    scope = {"contact": state.contact.as_template_value()}
    try:
        expected = plain(source, state, t)
    except TypeError:  # e.g. days_since of no event compared with a number
        with pytest.raises(TypeError):
            compiled(scope, Facts(state, t, None, tz))
        return  # the engine notes the error and checks again at the next fire
    value, horizon, reads = compiled(scope, Facts(state, t, None, tz))
    assert value == expected  # the same value as the plain evaluation
    for minutes in later:
        c = t + timedelta(minutes=minutes)
        if c < horizon:
            assert plain(source, state, c) == value, (source, c, horizon)
    # Events arriving later leave the value alone until the horizon when they are not of a
    # kind the evaluation read (`and`/`or` cut a part short, or another event name).
    snap = compiled.snapshot(state, reads, horizon, None)
    for name, minutes in arriving:
        insort(state.events, Event("c1", name, t + timedelta(minutes=minutes)), key=lambda e: e.at)
    if not compiled.unchanged(state, snap):
        return
    for minutes in later:
        c = t + timedelta(minutes=minutes)
        if c < horizon:
            seen = [e for e in state.events if e.at <= c]
            at_c = ContactState(contact=state.contact, cursor=c, events=seen)
            assert plain(source, at_c, c) == value, (source, c, horizon, arriving)


def test_a_part_cut_short_reads_nothing() -> None:
    source = "days_since(contact.last_active_at) >= 30 and event_count('purchased') == 0"
    compiled = horizon_compile(source)
    assert compiled is not None
    tz = zone("Asia/Seoul", "UTC")
    recent = ContactState(contact=contact("c1", "Asia/Seoul", last_active_at=T0))
    scope = {"contact": recent.contact.as_template_value()}
    reads = compiled(scope, Facts(recent, T0, None, tz))[2]
    assert compiled.event_names(reads) == frozenset()
    quiet = ContactState(
        contact=contact("c1", "Asia/Seoul", last_active_at=T0 - timedelta(days=40))
    )
    scope = {"contact": quiet.contact.as_template_value()}
    reads = compiled(scope, Facts(quiet, T0, None, tz))[2]
    assert compiled.event_names(reads) == frozenset({"purchased"})
    # Only purchases matter to it: a click leaves the snapshot valid, a purchase does not.
    snap = compiled.snapshot(quiet, reads, T0, None)
    quiet.events.append(Event("c1", "clicked", T0))
    assert compiled.unchanged(quiet, snap)
    assert snap.n_events == 1  # brought up to date
    quiet.events.append(Event("c1", "purchased", T0))
    assert not compiled.unchanged(quiet, snap)


def test_horizons_are_refined_not_just_daily() -> None:
    # Inactive since 10 days: `>= 30` cannot become true before day 30 (early by the margin).
    state = ContactState(
        contact=contact("c1", "Asia/Seoul", last_active_at=T0 - timedelta(days=10))
    )
    compiled = horizon_compile("days_since(contact.last_active_at) >= 30")
    assert compiled is not None
    tz = zone("Asia/Seoul", "UTC")
    value, horizon, _ = compiled(
        {"contact": state.contact.as_template_value()}, Facts(state, T0, None, tz)
    )
    assert value is False
    assert T0 + timedelta(days=19) < horizon <= T0 + timedelta(days=20)
    # Once true it stays true while nothing new happens.
    state.contact.attrs["last_active_at"] = T0 - timedelta(days=40)
    assert compiled({"contact": state.contact.as_template_value()}, Facts(state, T0, None, tz)) == (
        True,
        NEVER,
        0,
    )


@pytest.mark.parametrize(
    "source",
    [
        "contact.name | upper == 'A'",  # a filter
        "range(3) | length > 1",
        "now.strftime('%H') == '09'",  # a method call: the sandbox's
        "event_count('purchased') is divisibleby(2)",  # a test with arguments
        "days_since(contact.signup_at) > 3 and contact.tags[1:]",  # a slice
    ],
)
def test_unsupported_forms_are_checked_on_every_fire(source: str) -> None:
    assert horizon_compile(source) is None


def test_a_private_attribute_of_now_is_refused_as_the_sandbox_refuses_it() -> None:
    compiled = horizon_compile("now.__class__")
    assert compiled is not None  # `now`: compiled, with a horizon of at once
    state = ContactState(contact=contact("c1", "Asia/Seoul"))
    value, horizon, _ = compiled({"contact": {}}, Facts(state, T0, None, zone("UTC", "UTC")))
    assert horizon == T0
    with pytest.raises(SecurityError):
        str(value)  # the sandbox's Undefined for an unsafe attribute, not the class


def test_simulation_with_horizons_equals_checking_every_fire() -> None:
    # The whole stock library over the examples, with and without skipping: identical output.
    project = load_valid_project(ROOT / "sequences")
    contacts = read_contacts(ROOT / "examples/contacts.csv", project.settings).items
    events = read_events(ROOT / "examples/events.csv", project.settings).items
    start = parse_instant("2026-11-01", project.settings.timezone)
    end = start + timedelta(days=60)

    def run(horizons: bool = True) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        engine = make_engine(project)
        if not horizons:  # on the plans, so the compiled engine too checks at every fire
            for plan in engine.sequences:
                plan.horizon = None
        sim = simulate(project, contacts, events, start, end, engine=engine)
        msgs = sorted(
            (m.contact_id, m.sequence, m.step, m.at, m.status, m.subject) for m in sim.messages
        )
        enrs = sorted((e.id, e.outcome, e.ended_at, e.reason) for e in sim.enrollments)
        return msgs, enrs

    with_horizons = run()
    assert run(horizons=False) == with_horizons
    assert len(with_horizons[0]) > 1000  # a real workload, segment enrollments included
    assert any(m[1] == "win-back" for m in with_horizons[0])


SEGMENT_JOURNEY = """
timezone: Asia/Seoul
channels:
  email: {type: file, path: outbox/, medium: email}
"""
BUYERS = """
trigger:
  segment: "event_count('purchased') >= 1"
  check: "0 9 * * *"
ad: false
steps:
  - send: thanks
    channel: email
    subject: "thanks"
    body: "thanks"
"""


@pytest.mark.parametrize("when", ["2026-11-03 09:00", "2026-11-03 08:59", "2026-11-03 09:01"])
def test_an_event_at_a_skipped_check_time_is_checked_at_that_time(
    tmp_path: Path, when: str
) -> None:
    # The first check (false, no horizon end) lets every later fire be skipped; a purchase
    # arriving exactly at a fire must still be seen by that fire, as checking every fire does.
    from tests.builders import at, event, make_project

    project = make_project(tmp_path, {"buyers": BUYERS}, SEGMENT_JOURNEY)
    start = at("2026-11-01 00:00")
    people = [contact("c1", "Asia/Seoul")]
    bought = [event("c1", "purchased", at(when))]

    def sends(horizons: bool = True) -> list[datetime]:
        engine = make_engine(project)
        if not horizons:  # on the plans, so the compiled engine too checks at every fire
            for plan in engine.sequences:
                plan.horizon = None
        sim = simulate(project, people, bought, start, start + timedelta(days=7), engine=engine)
        return [m.at for m in sim.messages]

    skipping = sends()
    expected = at("2026-11-03 09:00") if when <= "2026-11-03 09:00" else at("2026-11-04 09:00")
    assert skipping == [expected]
    assert sends(horizons=False) == skipping
