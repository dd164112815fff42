"""Fast constructors for the engine's frozen value types, used on the readers' hot path.

A frozen dataclass's `__init__` goes through `object.__setattr__` once per field, which costs
more than parsing the row (bench/RESULTS.md). These builders set the slots directly.
They are checked against the dataclass fields at import, so a change to `engine.model` fails
loudly here instead of leaving a field unset. When the engine runs compiled (engine.native),
the model's classes are C types whose attributes are descriptors of their own, and their
`__init__` is still the Python one `dataclasses` writes (mypyc keeps it): the builders set
those descriptors the same way (tests/data/test_build.py checks both models).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from journeyctl.engine.model import Contact, Event

NATIVE_MODEL = not hasattr(Contact, "__slots__")  # compiled by mypyc


def _setters(cls: type, expected: tuple[str, ...]) -> list[Any]:
    names = tuple(f.name for f in fields(cls))
    if names != expected or hasattr(cls, "__post_init__"):
        raise ImportError(f"journeyctl.data.build is out of date with {cls.__name__}{names}")
    if not NATIVE_MODEL and not hasattr(cls, "__slots__"):
        raise ImportError(f"journeyctl.data.build needs {cls.__name__} to have slots")
    return [getattr(cls, n).__set__ for n in names]


_new_contact = Contact.__new__  # object.__new__, or the compiled class's own allocator
_new_event = Event.__new__
_c_id, _c_email, _c_phone, _c_name, _c_tz, _c_attrs = _setters(
    Contact, ("id", "email", "phone", "name", "timezone", "attrs")
)
_e_cid, _e_name, _e_at, _e_props, _e_enrolls = _setters(
    Event, ("contact_id", "name", "at", "props", "enrolls")
)
if fields(Event)[-1].default is not True:
    raise ImportError("journeyctl.data.build assumes Event.enrolls defaults to True")


def contact(
    id: str,
    email: str | None,
    phone: str | None,
    name: str | None,
    timezone: str | None,
    attrs: dict[str, Any],
) -> Contact:
    """Same as `Contact(...)` with every field given, without the frozen-init cost."""
    c = _new_contact(Contact)
    _c_id(c, id)
    _c_email(c, email)
    _c_phone(c, phone)
    _c_name(c, name)
    _c_tz(c, timezone)
    _c_attrs(c, attrs)
    return c


def event(contact_id: str, name: str, at: datetime, props: tuple[tuple[str, Any], ...]) -> Event:
    """Same as `Event(contact_id, name, at, props)` (enrolls=True, the model's default)."""
    e = _new_event(Event)
    _e_cid(e, contact_id)
    _e_name(e, name)
    _e_at(e, at)
    _e_props(e, props)
    _e_enrolls(e, True)
    return e


# A contact or an event as the tuple of its fields, in the order of `contact` and `event`
# (enrolls left out: True): what simulate's partition keeps of each row. A reader asked for
# rows yields these instead of building the frozen objects only to take them apart.
ContactRow = tuple[str, str | None, str | None, str | None, str | None, dict[str, Any]]
EventRow = tuple[str, str, datetime, tuple[tuple[str, Any], ...]]


def contact_row(
    id: str,
    email: str | None,
    phone: str | None,
    name: str | None,
    timezone: str | None,
    attrs: dict[str, Any],
) -> ContactRow:
    return (id, email, phone, name, timezone, attrs)


def event_row(
    contact_id: str, name: str, at: datetime, props: tuple[tuple[str, Any], ...]
) -> EventRow:
    return (contact_id, name, at, props)


def contact_of(c: Contact) -> ContactRow:
    return (c.id, c.email, c.phone, c.name, c.timezone, c.attrs)


def event_of(e: Event) -> EventRow:
    return (e.contact_id, e.name, e.at, e.props)
