"""The text of a chunk's messages and enrollments as `simulate` writes them (SPEC §4): items
of the JSON document's lists, JSONL lines, CSV rows; each with the sort key that places it.

Made in the worker that simulated the chunk (sim_stream.ChunkRender), one loop per format
over the chunk's decisions, the same bytes as `json.dumps(value, ensure_ascii=False)` and
`csv.writer` give for each value (tests/reporting/test_sim_text.py compares them):

- a JSON string is `json.encoder.encode_basestring`, the C function `json.dumps` itself
  calls for a `str` (and a `str` subclass such as a StrEnum); None is `null`;
- an instant's local-time text is made once per (instant, zone) in a chunk: the contacts of
  a chunk share a few zones and their messages share instants (a step's send time, a day's
  first check);
- a contact's messages come together, so its id is encoded once per run of them.

Compiled by mypyc in the wheel (pyproject's compile list): the loops are most of what the
output adds to a simulation.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, Final
from zoneinfo import ZoneInfo

from journeyctl.engine.model import Enrollment, Message
from journeyctl.reporting.csvsafe import cell
from journeyctl.reporting.timeline import MESSAGE_FIELDS

ENROLLMENT_FIELDS: Final = ("contact_id", "sequence", "entered_at", "ended_at", "outcome", "reason")

# A sorted row: the sort key's fields, then chunk and position (ties keep the contact order
# of the list the sort used to see), then the row's text.
Row = tuple[Any, ...]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)


def _object(keys: tuple[str, ...], indent: str | None) -> str:
    """A %-template of one JSON object with these keys, its values to be filled in already
    encoded. `indent`: the object's own indentation inside `json.dumps(doc, indent=2)` (its
    keys two spaces deeper); None for one line, as JSONL writes it."""
    if indent is None:
        body = ", ".join(encode_basestring(k) + ": %s" for k in keys)
        return "{" + body + "}"
    inner = "\n" + indent + "  "
    body = ",".join(inner + encode_basestring(k) + ": %s" for k in keys)
    return indent + "{" + body + "\n" + indent + "}"


# Messages and enrollments as items of the document's lists (4 spaces in), and as JSONL lines.
MESSAGE_ITEM: Final = _object(MESSAGE_FIELDS, "    ")
ENROLLMENT_ITEM: Final = _object(ENROLLMENT_FIELDS, "    ")
MESSAGE_LINE: Final = _object(MESSAGE_FIELDS, None)


def _encode(value: str | None) -> str:
    """A string or None as `json.dumps(value, ensure_ascii=False)` writes it."""
    return "null" if value is None else encode_basestring(value)  # type: ignore[no-any-return]


class _Zone:
    """One zone's instants as (microseconds since the epoch, local ISO 8601 text), each
    computed once: `json` quoted as a JSON string, `plain` as a CSV cell."""

    __slots__ = ("json", "plain", "tz")

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.json: dict[datetime, tuple[int, str]] = {}
        self.plain: dict[datetime, tuple[int, str]] = {}

    def json_stamp(self, t: datetime) -> tuple[int, str]:
        stamp = self.json.get(t)
        if stamp is None:
            # an ISO 8601 text has nothing a JSON string escapes
            stamp = ((t - _EPOCH) // _US, '"' + t.astimezone(self.tz).isoformat() + '"')
            self.json[t] = stamp
        return stamp

    def plain_stamp(self, t: datetime) -> tuple[int, str]:
        stamp = self.plain.get(t)
        if stamp is None:
            # begins with the year's digit: never a formula to a spreadsheet (csvsafe.cell)
            stamp = ((t - _EPOCH) // _US, t.astimezone(self.tz).isoformat())
            self.plain[t] = stamp
        return stamp


class Zones:
    """The zone each contact's times are written in (its own, else the project's), per chunk."""

    def __init__(self, zones: Mapping[str, str], default: str) -> None:
        self._names = zones
        self._default = default
        self._zones: dict[str, _Zone] = {}

    def of(self, contact_id: str) -> _Zone:
        name = self._names.get(contact_id, self._default)
        zone = self._zones.get(name)
        if zone is None:
            zone = _Zone(ZoneInfo(name))
            self._zones[name] = zone
        return zone


def json_messages(messages: list[Message], zones: Zones, chunk: int) -> list[Row]:
    """The messages as items of the document's `messages` list, each in a row
    `(at µs, contact_id, sequence, step, chunk, position, text)`, in the chunk's order."""
    item = MESSAGE_ITEM
    enc = encode_basestring
    rows: list[Row] = []
    last: str | None = None
    cid_text = ""
    zone: _Zone | None = None
    for pos, m in enumerate(messages):
        cid = m.contact_id
        if zone is None or cid != last:
            last = cid
            cid_text = enc(cid)
            zone = zones.of(cid)
        us, at_text = zone.json_stamp(m.at)
        deferred = m.deferred_from
        values = (
            cid_text, enc(m.sequence), enc(m.step), enc(m.channel), at_text, enc(m.status),
            _encode(m.reason),
            "null" if deferred is None else zone.json_stamp(deferred)[1],
            _encode(m.deferred_by), _encode(m.variant), _encode(m.subject),
        )  # fmt: skip
        rows.append((us, cid, m.sequence, m.step, chunk, pos, item % values))
    return rows


def jsonl_messages(messages: list[Message], zones: Zones) -> list[str]:
    """The messages as JSONL lines, contact by contact (the order they first appear in, the
    contacts file's), each contact's in time order, then sequence and step."""
    line = MESSAGE_LINE + "\n"
    enc = encode_basestring
    order: dict[str, int] = {}
    rows: list[tuple[int, int, str, str, int, str]] = []
    last: str | None = None
    cid_text = ""
    n = 0
    zone: _Zone | None = None
    for pos, m in enumerate(messages):
        cid = m.contact_id
        if zone is None or cid != last:
            last = cid
            cid_text = enc(cid)
            zone = zones.of(cid)
            n = order.setdefault(cid, len(order))
        us, at_text = zone.json_stamp(m.at)
        deferred = m.deferred_from
        values = (
            cid_text, enc(m.sequence), enc(m.step), enc(m.channel), at_text, enc(m.status),
            _encode(m.reason),
            "null" if deferred is None else zone.json_stamp(deferred)[1],
            _encode(m.deferred_by), _encode(m.variant), _encode(m.subject),
        )  # fmt: skip
        rows.append((n, us, m.sequence, m.step, pos, line % values))
    rows.sort()
    return [row[-1] for row in rows]


def json_enrollments(enrollments: list[Enrollment], zones: Zones, chunk: int) -> list[Row]:
    """The enrollments as items of the document's `enrollments` list, sorted, each in a row
    `(entered_at µs, contact_id, sequence, chunk, position, text)`."""
    item = ENROLLMENT_ITEM
    enc = encode_basestring
    rows: list[Row] = []
    last: str | None = None
    cid_text = ""
    zone: _Zone | None = None
    for pos, e in enumerate(enrollments):
        cid = e.contact_id
        if zone is None or cid != last:
            last = cid
            cid_text = enc(cid)
            zone = zones.of(cid)
        us, entered = zone.json_stamp(e.entered_at)
        ended = e.ended_at
        values = (
            cid_text, enc(e.sequence), entered,
            "null" if ended is None else zone.json_stamp(ended)[1],
            enc(e.outcome), _encode(e.reason),
        )  # fmt: skip
        rows.append((us, cid, e.sequence, chunk, pos, item % values))
    rows.sort()
    return rows


class _Lines:
    """A csv.writer target keeping each row's text (the writer writes a row in one call)."""

    def __init__(self) -> None:
        self.rows: list[str] = []

    def write(self, text: str) -> None:
        self.rows.append(text)


def csv_messages(messages: list[Message], zones: Zones, chunk: int) -> list[Row]:
    """The messages as CSV rows (`csvsafe.cell` of each value), each in a row
    `(at µs, contact_id, sequence, step, chunk, position, text)`, in the chunk's order."""
    lines = _Lines()
    writer = csv.writer(lines, lineterminator="\n")
    cells: dict[str, str] = {}  # a value's cell: ids, steps, reasons and subjects repeat
    rows: list[Row] = []
    last: str | None = None
    zone: _Zone | None = None
    for pos, m in enumerate(messages):
        cid = m.contact_id
        if zone is None or cid != last:
            last = cid
            zone = zones.of(cid)
        us, at_text = zone.plain_stamp(m.at)
        deferred = m.deferred_from
        values = [
            _cell(cells, cid), _cell(cells, m.sequence), _cell(cells, m.step),
            _cell(cells, m.channel), at_text, _cell(cells, str(m.status)),
            _cell(cells, m.reason), "" if deferred is None else zone.plain_stamp(deferred)[1],
            _cell(cells, m.deferred_by), _cell(cells, m.variant), _cell(cells, m.subject),
        ]  # fmt: skip
        writer.writerow(values)
        rows.append((us, cid, m.sequence, m.step, chunk, pos, lines.rows[-1]))
    return rows


def _cell(cells: dict[str, str], value: str | None) -> str:
    if value is None:
        return ""
    text = cells.get(value)
    if text is None:
        text = cell(value)
        cells[value] = text
    return text
