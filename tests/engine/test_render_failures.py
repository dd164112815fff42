"""simulate renders subjects only, and predicts the bodies that fail for a contact's data from
one render per distinct deciding values (engine.failures): the prediction must equal rendering
every body, as `run` does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from journeyctl.engine.failures import content_deps
from journeyctl.engine.make import make_engine
from journeyctl.engine.model import Contact, Event, Status
from journeyctl.simulate.replay import simulate
from journeyctl.spec.project import Project
from journeyctl.spec.templates import template_environment
from tests.builders import KST, make_project

JOURNEY = """
timezone: Asia/Seoul
contacts:
  fields: {birthday: date, joined: datetime, n: int, locale: string}
channels:
  email: {type: file, path: outbox/, medium: email}
"""


def _parts(root: Path, **templates: str) -> tuple[object, list[tuple[bool, str]]]:
    for name, text in templates.items():
        (root / "templates").mkdir(exist_ok=True)
        (root / "templates" / name).write_text(text, encoding="utf-8")
    return template_environment(root / "templates"), [(True, n) for n in templates]


@pytest.mark.parametrize(
    ("text", "reads", "by_type"),
    [
        ("{{ contact.name }} {{ contact.locale }}", (), set()),
        ("{% if contact.locale == 'en' %}hi{% endif %}", ("locale",), set()),
        (
            "{{ contact.birthday.strftime('%m-%d') if contact.birthday else '-' }}",
            ("birthday",),
            {"birthday"},
        ),
        ("{% set d = contact.joined.strftime('%Y') %}{{ d }}", ("joined",), {"joined"}),
        ("{{ '%d월'|format(contact.birthday.month) }}", ("birthday",), {"birthday"}),
        ("{{ 100 // (contact.birthday.day - 5) }}", ("birthday",), set()),
        ("{% set d = contact.joined.year %}{{ 1 // (d - 2020) }}", ("joined",), set()),
        ("{{ contact.birthday.strftime(contact.locale) }}", ("birthday", "locale"), set()),
        ("{{ now }}{{ contact.n // 2 }}", None, set()),
        ("{% include contact.locale %}", None, set()),
    ],
)
def test_what_decides_whether_a_body_renders(
    tmp_path: Path, text: str, reads: tuple[str, ...] | None, by_type: set[str]
) -> None:
    env, parts = _parts(tmp_path, **{"t.html.j2": text})
    deps = content_deps(env, parts)  # type: ignore[arg-type]
    assert deps.reads == reads
    assert deps.by_type == by_type


def test_simulate_predicts_exactly_the_bodies_that_fail(tmp_path: Path) -> None:
    body = (
        "{{ contact.birthday.strftime('%m-%d') if contact.birthday else '' }} "
        "{{ 100 // (contact.n - 3) }} {{ 60 // (contact.joined.day - 7) if contact.joined }}"
    )
    project = make_project(
        tmp_path,
        {
            "s": """
                sequence: s
                trigger: {event: subscribed}
                steps:
                  - send: one
                    channel: email
                    subject: "hi {{ contact.name }}"
                    template: body.html.j2
            """
        },
        JOURNEY,
        **{"body.html.j2": body},
    )
    start = datetime(2026, 11, 1, tzinfo=KST)
    contacts, events = [], []
    for i in range(60):
        attrs = {
            "birthday": date(1990, 1 + i % 12, 1 + i % 28) if i % 5 else None,
            "joined": datetime(2020, 1, 1 + i % 10, tzinfo=UTC) if i % 3 else None,
            "n": i % 6,
            "locale": "en" if i % 2 else "ko",
        }
        contacts.append(Contact(f"c{i}", f"c{i}@x.com", name=f"N{i}", attrs=attrs))
        events.append(Event(f"c{i}", "subscribed", start + timedelta(hours=1)))
    end = start + timedelta(days=2)

    predicted, rendered = (
        _failed(project, contacts, events, start, end, subjects_only=only) for only in (True, False)
    )
    assert predicted == rendered
    assert 10 < len(rendered) < 60  # both kinds of failure occur, and not for everyone


@pytest.mark.parametrize(
    ("text", "reads", "by_type"),
    [
        # printed: its value still decides (a date's type alone: by_type applies to dates)
        ("{{ event.product }}", ("product",), {"product"}),
        ("{% for i in event.items %}{{ i }}{% endfor %}", ("items",), set()),
        ("{{ event.at.strftime('%d') }}", ("at",), {"at"}),
        ("{{ 1 // event.at.hour }}", ("at",), set()),
    ],
)
def test_what_of_the_event_decides_whether_a_body_renders(
    tmp_path: Path, text: str, reads: tuple[str, ...], by_type: set[str]
) -> None:
    env, parts = _parts(tmp_path, **{"t.html.j2": text})
    deps = content_deps(env, parts)  # type: ignore[arg-type]
    assert deps.uses_event
    assert deps.event_reads == reads
    assert deps.event_by_type == by_type


@pytest.mark.parametrize(
    "text",
    [
        "{{ event }}",
        "{{ event['n'] }}",
        "{% set event = contact %}{{ event.n }}",
        "{% for event in [contact] %}{{ event.n }}{% endfor %}",
        "{% macro event() %}{% endmacro %}{{ event.n }}",
        "{% from 'm.html.j2' import n as event %}{{ event.n }}",
    ],
)
def test_the_event_used_whole_or_shadowed_is_unknown(tmp_path: Path, text: str) -> None:
    env, parts = _parts(
        tmp_path, **{"t.html.j2": text, "m.html.j2": "{% macro n() %}{% endmacro %}"}
    )
    assert content_deps(env, parts).reads is None  # type: ignore[arg-type]


def _event_props(i: int) -> dict[str, object]:
    """Values that compare equal in Python yet render differently (1, True, 1.0; 0.0 and
    -0.0), lists, and a property some events lack."""
    props: dict[str, object] = {"n": (1, True, 1.0)[i % 3], "f": (0.0, -0.0)[i % 2]}
    if i % 5 != 2:  # a missing `items` is dict's method (event_scope.Record), unlike None
        props["items"] = (["1", "0"], ["1", "2"], None, ["2"], None)[i % 5]
    return props


@pytest.mark.parametrize(
    "body",
    [
        "{% for i in event.items or [] %}{{ 10 // (i|int) }}{% endfor %}",  # a 0, no `items`
        "{{ event.n.bit_length() }}",  # not for a float
        "{{ 1 // (event.n|string|length - 4) }}",  # 'True'
        "{{ 1 // (event.f|string|length - 4) }}",  # '-0.0'
        "{{ 1 // (event.at.hour - 1) }}",  # the same instant, seen in Seoul
    ],
)
def test_simulate_predicts_the_bodies_that_fail_for_the_event(tmp_path: Path, body: str) -> None:
    """The body probe remembers its verdict by the triggering event's values too: only values
    that render alike may share it (equal in Python is not enough)."""
    project = make_project(
        tmp_path,
        {
            "s": """
                sequence: s
                trigger: {event: carted}
                steps:
                  - send: one
                    channel: email
                    subject: "hi"
                    template: body.html.j2
            """
        },
        JOURNEY,
        **{"body.html.j2": body},
    )
    start = datetime(2026, 11, 1, tzinfo=KST)
    contacts, events = [], []
    for i in range(48):
        zone = "Asia/Seoul" if i % 5 < 2 else "UTC"
        contacts.append(Contact(f"c{i}", f"c{i}@x.com", name=f"N{i}", timezone=zone))
        props = tuple(sorted(_event_props(i).items()))
        events.append(Event(f"c{i}", "carted", start + timedelta(hours=1), props))
    end = start + timedelta(days=1)

    predicted, rendered = (
        _failed(project, contacts, events, start, end, subjects_only=only) for only in (True, False)
    )
    assert predicted == rendered
    assert 0 < len(rendered) < 48


def _failed(
    project: Project, contacts: list[Contact], events: list[Event], start: datetime,
    end: datetime, *, subjects_only: bool,
) -> set[str]:  # fmt: skip
    """The contacts whose messages the simulation skips for a render error: predicted by the
    subjects-only engine's probe, or found by rendering every body."""
    engine = make_engine(project, subjects_only=subjects_only)
    sim = simulate(project, contacts, events, start, end, engine=engine)
    return {
        m.contact_id
        for m in sim.messages
        if m.status is Status.SKIPPED and m.reason == "render_error"
    }
