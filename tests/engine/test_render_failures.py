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

    def failed(subjects_only: bool) -> set[str]:
        engine = make_engine(project, subjects_only=subjects_only)
        sim = simulate(project, contacts, events, start, end, engine=engine)
        return {
            m.contact_id
            for m in sim.messages
            if m.status is Status.SKIPPED and m.reason == "render_error"
        }

    predicted, rendered = failed(True), failed(False)
    assert predicted == rendered
    assert 10 < len(rendered) < 60  # both kinds of failure occur, and not for everyone
