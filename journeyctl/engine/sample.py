"""A sample contact with a plausible value for every declared column, and a sample event
with one for every declared property (for `preview`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.engine.model import Contact
from journeyctl.spec.models import ProjectSettings
from journeyctl.spec.templates import Record

_SAMPLES: dict[str, Any] = {
    "string": "예시",
    "int": 3,
    "float": 1.5,
    "bool": True,
    "date": date(1990, 5, 17),
    "datetime": datetime(2026, 10, 1, 1, 0, tzinfo=UTC),
    "list": ["예시 상품 1", "예시 상품 2"],
}


def sample_contact(settings: ProjectSettings) -> Contact:
    attrs = {name: _SAMPLES[kind] for name, kind in settings.contacts.fields.items()}
    return Contact(
        "sample", email="minji.kim@example.com", phone="01012345678", name="김민지",
        timezone=settings.timezone, attrs=attrs,
    )  # fmt: skip


def sample_event(settings: ProjectSettings, name: str) -> dict[str, Any]:
    """`event` as templates of a sequence triggered by `name` see it (engine.event_scope)."""
    fields = settings.events.fields.get(name, {})
    at = datetime(2026, 10, 1, 1, 0, tzinfo=UTC).astimezone(ZoneInfo(settings.timezone))
    return Record(name=name, at=at, **{prop: _SAMPLES[kind] for prop, kind in fields.items()})
