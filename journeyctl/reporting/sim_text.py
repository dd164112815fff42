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
# of the list the sort used to see), then the row's text in UTF-8, the bytes written: encoded
# once, in the worker, it crosses the pipe and the sort's runs without being transcoded.
Row = tuple[Any, ...]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)


def _pieces(keys: tuple[str, ...], indent: str | None) -> tuple[str, ...]:
    """The constant text of one JSON object with these keys, around its values: piece `k`
    comes before value `k`, the last piece after the last value (values already encoded).
    `indent`: the object's own indentation inside `json.dumps(doc, indent=2)` (its keys two
    spaces deeper); None for one line, as JSONL writes it."""
    names = [encode_basestring(k) + ": " for k in keys]
    if indent is None:
        return ("{" + names[0], *(", " + n for n in names[1:]), "}")
    inner = "\n" + indent + "  "
    return (
        indent + "{" + inner + names[0],
        *("," + inner + n for n in names[1:]),
        "\n" + indent + "}",
    )


# Messages and enrollments as items of the document's lists (4 spaces in), and as JSONL lines.
MESSAGE_ITEM: Final = _pieces(MESSAGE_FIELDS, "    ")
ENROLLMENT_ITEM: Final = _pieces(ENROLLMENT_FIELDS, "    ")
MESSAGE_LINE: Final = _pieces(MESSAGE_FIELDS, None)


def _encode(value: str | None) -> str:
    """A string or None as `json.dumps(value, ensure_ascii=False)` writes it."""
    return "null" if value is None else encode_basestring(value)  # type: ignore[no-any-return]


def _message(p: tuple[str, ...], cid: str, zone: _Zone, m: Message) -> tuple[int, str]:
    """A message's sort time (µs) and its JSON object (`p`: MESSAGE_ITEM or _LINE), its
    contact's id already encoded (`cid`). The values in MESSAGE_FIELDS' order."""
    enc = encode_basestring
    p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, end = p
    us, at = zone.json_stamp(m.at)
    deferred = m.deferred_from
    text = "".join((
        p0, cid, p1, enc(m.sequence), p2, enc(m.step), p3, enc(m.channel), p4, at,
        p5, enc(m.status), p6, _encode(m.reason),
        p7, "null" if deferred is None else zone.json_stamp(deferred)[1],
        p8, _encode(m.deferred_by), p9, _encode(m.variant), p10, _encode(m.subject), end,
    ))  # fmt: skip
    return us, text


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
            # begins with the year's digit (never a formula to a spreadsheet, csvsafe.cell) and
            # holds no comma, quote or line end (csv.writer leaves it as it is)
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
    rows: list[Row] = []
    last: str | None = None
    cid = ""
    zone: _Zone | None = None
    for pos, m in enumerate(messages):
        if zone is None or m.contact_id != last:
            last = m.contact_id
            cid = encode_basestring(last)
            zone = zones.of(last)
        us, text = _message(MESSAGE_ITEM, cid, zone, m)
        rows.append((us, m.contact_id, m.sequence, m.step, chunk, pos, text.encode()))
    return rows


def jsonl_messages(messages: list[Message], zones: Zones) -> list[bytes]:
    """The messages as JSONL lines, contact by contact (the order they first appear in, the
    contacts file's), each contact's in time order, then sequence and step."""
    order: dict[str, int] = {}
    rows: list[tuple[int, int, str, str, int, bytes]] = []
    last: str | None = None
    cid = ""
    n = 0
    zone: _Zone | None = None
    for pos, m in enumerate(messages):
        if zone is None or m.contact_id != last:
            last = m.contact_id
            cid = encode_basestring(last)
            zone = zones.of(last)
            n = order.setdefault(last, len(order))
        us, text = _message(MESSAGE_LINE, cid, zone, m)
        rows.append((n, us, m.sequence, m.step, pos, (text + "\n").encode()))
    rows.sort()
    return [row[-1] for row in rows]


def json_enrollments(enrollments: list[Enrollment], zones: Zones, chunk: int) -> list[Row]:
    """The enrollments as items of the document's `enrollments` list, sorted, each in a row
    `(entered_at µs, contact_id, sequence, chunk, position, text)`."""
    enc = encode_basestring
    p0, p1, p2, p3, p4, p5, end = ENROLLMENT_ITEM
    rows: list[Row] = []
    last: str | None = None
    cid = ""
    zone: _Zone | None = None
    for pos, e in enumerate(enrollments):
        if zone is None or e.contact_id != last:
            last = e.contact_id
            cid = enc(last)
            zone = zones.of(last)
        us, entered = zone.json_stamp(e.entered_at)
        ended = e.ended_at
        text = "".join((
            p0, cid, p1, enc(e.sequence), p2, entered,
            p3, "null" if ended is None else zone.json_stamp(ended)[1],
            p4, enc(e.outcome), p5, _encode(e.reason), end,
        ))  # fmt: skip
        rows.append((us, e.contact_id, e.sequence, chunk, pos, text.encode()))
    rows.sort()
    return rows


class _Fields:
    """Values as fields of a CSV row: `csvsafe.cell`, then quoted as `csv.writer` quotes a
    field (asked of the writer itself, once per distinct value: ids, names, reasons and
    subjects repeat)."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._writer = csv.writer(self, lineterminator="\n")
        self._fields: dict[str, str] = {}

    def write(self, text: str) -> None:  # the writer's file
        self._lines.append(text)

    def of(self, value: str | None) -> str:
        if value is None:
            return ""
        field = self._fields.get(value)
        if field is None:
            # a row of two fields (a row of one empty field is written `""`): the value's
            # field, the delimiter, an empty field, the line's end
            self._writer.writerow((cell(value), ""))
            field = self._lines.pop()[:-2]
            self._fields[value] = field
        return field


def csv_messages(messages: list[Message], zones: Zones, chunk: int) -> list[Row]:
    """The messages as CSV rows (`csvsafe.cell` of each value, as `csv.writer` writes them),
    each in a row `(at µs, contact_id, sequence, step, chunk, position, text)`, in the
    chunk's order."""
    fields = _Fields()
    rows: list[Row] = []
    last: str | None = None
    cid = ""
    zone: _Zone | None = None
    for pos, m in enumerate(messages):
        if zone is None or m.contact_id != last:
            last = m.contact_id
            cid = fields.of(last)
            zone = zones.of(last)
        us, at = zone.plain_stamp(m.at)
        deferred = m.deferred_from
        text = ",".join((
            cid, fields.of(m.sequence), fields.of(m.step), fields.of(m.channel), at,
            fields.of(str(m.status)), fields.of(m.reason),
            "" if deferred is None else zone.plain_stamp(deferred)[1],
            fields.of(m.deferred_by), fields.of(m.variant), fields.of(m.subject) + "\n",
        ))  # fmt: skip
        rows.append((us, m.contact_id, m.sequence, m.step, chunk, pos, text.encode()))
    return rows
