"""`event` in templates and conditions: the event that enrolled the contact (for a sequence
with an event trigger), or the event a `where` is asked about, with its properties typed as
journey.yaml declares them (`events.fields`).

The triggering event is not stored with the enrollment: it is the first enrolling event of
the trigger's name at the enrollment's entry time (an event enrolls at its own time:
engine.instant), found among the contact's processed events, so `run` and `simulate` read
the same one and the database keeps its format.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.data.convert import parser_for
from journeyctl.engine.model import ContactState, Enrollment, Event
from journeyctl.spec.models import ProjectSettings
from journeyctl.spec.templates import Record


def _event_at(e: Event) -> datetime:
    return e.at


class EventFields:
    """The declared property types of each event, as parsers (strings need none)."""

    def __init__(self, settings: ProjectSettings) -> None:
        zone = ZoneInfo(settings.timezone)
        self.parsers: dict[str, dict[str, Callable[[str], Any]]] = {}
        self.declared: dict[str, dict[str, None]] = {}
        for event, fields in settings.events.fields.items():
            self.declared[event] = dict.fromkeys(fields)
            for prop, kind in fields.items():
                parse = parser_for(kind, zone)
                if parse is not None:
                    self.parsers.setdefault(event, {})[prop] = parse

    def value(self, ev: Event, tz: ZoneInfo) -> Record:
        """What `event` is in a template or condition: `name`, `at` (in the contact's zone)
        and the properties. A declared value that does not parse (imports refuse those;
        rows stored before the declaration may hold one) stays the text it was."""
        out = Record(name=ev.name, at=ev.at.astimezone(tz))
        declared = self.declared.get(ev.name)
        if declared:
            out.update(declared)  # a declared property the event lacks is None, as for contacts
        parsers = self.parsers.get(ev.name)
        for key, raw in ev.props:
            value = raw
            if parsers is not None and isinstance(raw, str):
                parse = parsers.get(key)
                if parse is not None:
                    try:
                        value = parse(raw)
                    except (ValueError, OverflowError):
                        value = raw
            out[key] = value
        return out


def trigger_event(state: ContactState, event: str, enr: Enrollment) -> Event | None:
    """The event named `event` that enrolled `enr` (None: not found, e.g. an enrollment
    made by another version of the sequence with another trigger)."""
    events = state.events
    at = enr.entered_at
    i = bisect_left(events, at, key=_event_at)
    while i < len(events) and events[i].at == at:
        e = events[i]
        if e.name == event and e.enrolls:
            return e
        i += 1
    return None
