"""A sample contact with a plausible value for every declared column (for `preview`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from journeyctl.engine.model import Contact
from journeyctl.spec.models import ProjectSettings

_SAMPLES: dict[str, Any] = {
    "string": "예시",
    "int": 3,
    "float": 1.5,
    "bool": True,
    "date": date(1990, 5, 17),
    "datetime": datetime(2026, 10, 1, 1, 0, tzinfo=UTC),
}


def sample_contact(settings: ProjectSettings) -> Contact:
    attrs = {name: _SAMPLES[kind] for name, kind in settings.contacts.fields.items()}
    return Contact(
        "sample", email="minji.kim@example.com", phone="01012345678", name="김민지",
        timezone=settings.timezone, attrs=attrs,
    )  # fmt: skip
