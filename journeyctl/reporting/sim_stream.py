"""A simulation consumed chunk by chunk: totals accumulated, messages rendered where simulated.

`simulate` runs chunks of contacts in forked workers (simulate.parallel.run_chunks). Each
worker turns its chunk's Simulation into a `ChunkOut` (`ChunkRender.finish`): the summary's
counts for the chunk, and its messages and enrollments already rendered as the output format
needs them, with their sort keys. The parent adds the counts into `Totals` in chunk order (so
every dict keeps the key order `timeline.summary` gives over the whole list) and hands the
rendered rows on: written at once (`jsonl`), or through `sim_sort.SortedSpill` for the
SPEC §4 JSON and CSV, whose messages are sorted by time over all contacts.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, Final
from zoneinfo import ZoneInfo

from journeyctl.engine.model import Enrollment, Message
from journeyctl.reporting.csvsafe import cell
from journeyctl.reporting.timeline import MESSAGE_FIELDS, per_day, summary
from journeyctl.simulate.replay import Simulation

ENROLLMENT_FIELDS: Final = ("contact_id", "sequence", "entered_at", "ended_at", "outcome", "reason")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)


def _us(t: Any) -> int:
    """An instant as integer microseconds since the epoch: sort keys that pickle small."""
    return t if type(t) is int else (t - _EPOCH) // _US


def _json(value: Any) -> str:
    """One JSON value as `json.dumps(..., ensure_ascii=False)` writes it."""
    if value is None:
        return "null"
    if type(value) is str:
        return encode_basestring(value)  # type: ignore[no-any-return]
    return json.dumps(value, ensure_ascii=False)


def _object(keys: tuple[str, ...], indent: str | None) -> str:
    """A %-template of one JSON object with these keys, its values to be filled in already
    encoded (`_encoded`). `indent`: the object's own indentation inside `json.dumps(doc,
    indent=2)` (its keys two spaces deeper); None for one line, as JSONL writes it."""
    if indent is None:
        body = ", ".join(encode_basestring(k) + ": %s" for k in keys)
        return "{" + body + "}"
    inner = "\n" + indent + "  "
    body = ",".join(inner + encode_basestring(k) + ": %s" for k in keys)
    return indent + "{" + body + "\n" + indent + "}"


def _encoded(values: list[Any]) -> tuple[str, ...]:
    """Each value as `json.dumps(..., ensure_ascii=False)` writes it (strings and None, the
    common case, without a call per value)."""
    return tuple(
        encode_basestring(v) if type(v) is str else "null" if v is None else _json(v)
        for v in values
    )


# Messages and enrollments as items of the document's lists (4 spaces in), and as JSONL lines.
_MESSAGE_ITEM: Final = _object(MESSAGE_FIELDS, "    ")
_ENROLLMENT_ITEM: Final = _object(ENROLLMENT_FIELDS, "    ")
_MESSAGE_LINE: Final = _object(MESSAGE_FIELDS, None)


def _local(t: datetime | None, tz: ZoneInfo) -> str | None:
    return t.astimezone(tz).isoformat() if t is not None else None


def message_values(m: Message, tz: ZoneInfo) -> list[Any]:
    """A message's MESSAGE_FIELDS values, as timeline.message_dict has them."""
    return [
        m.contact_id, m.sequence, m.step, m.channel, _local(m.at, tz), str(m.status), m.reason,
        _local(m.deferred_from, tz), m.deferred_by, m.variant, m.subject,
    ]  # fmt: skip


def enrollment_values(e: Enrollment, tz: ZoneInfo) -> list[Any]:
    return [
        e.contact_id, e.sequence, _local(e.entered_at, tz), _local(e.ended_at, tz),
        str(e.outcome), e.reason,
    ]  # fmt: skip


class _Lines:
    """A csv.writer target keeping each row's text (the writer writes a row in one call)."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        self.write = self.rows.append


# A sorted row: the sort key's fields, then chunk and position (ties keep the contact order
# of the list the sort used to see), then the row's text.
Row = tuple[Any, ...]


@dataclass
class ChunkOut:
    """What the parent keeps of one chunk: counts, and the rendered rows."""

    contacts: int
    enrollments: int
    summary: dict[str, Any]
    per_day: dict[str, dict[str, int]]
    first_entries: dict[str, Counter[datetime]]  # watched sequence -> entered_at counts
    held: list[str]  # reasons of enrollments held by failures, in enrollment order
    messages: list[Row] = field(default_factory=list)  # sorted (json, csv) or in order (jsonl)
    enrollment_rows: list[Row] = field(default_factory=list)
    # html: the chunk's decisions themselves, for the page's aggregates and stories
    sim: Simulation | None = None


class Format:
    TABLE: Final = "text"
    JSON: Final = "json"
    CSV: Final = "csv"
    JSONL: Final = "jsonl"
    HTML: Final = "html"


@dataclass
class ChunkRender:
    """Turns a chunk's Simulation into a ChunkOut, in the worker that simulated it."""

    fmt: str  # one of Format
    project_tz: str
    watched: Collection[str]  # sequences whose first-check crowds are counted (spikes)

    def finish(self, i: int, sim: Simulation) -> ChunkOut:
        ptz = ZoneInfo(self.project_tz)
        zones = {cid: ZoneInfo(z) for cid, z in sim.zones.items()}
        firsts: dict[str, Counter[datetime]] = {}
        for e in sim.enrollments:
            if e.sequence in self.watched:
                firsts.setdefault(e.sequence, Counter())[e.entered_at] += 1
        out = ChunkOut(
            contacts=len(sim.zones),
            enrollments=len(sim.enrollments),
            summary=summary(sim, [], ptz),
            per_day=per_day(sim, ptz),
            first_entries=firsts,
            held=[e.reason for e in sim.enrollments if e.held is not None and e.reason],
        )
        if self.fmt == Format.TABLE:
            return out
        if self.fmt == Format.HTML:
            out.sim = sim
            return out
        if self.fmt == Format.JSONL:
            line = _MESSAGE_LINE
            out.messages = [
                (line % _encoded(message_values(m, zones.get(m.contact_id, ptz))) + "\n",)
                for m in _by_contact_in_time(sim.messages)
            ]
            return out
        rows: list[Row] = []
        if self.fmt == Format.JSON:
            item = _MESSAGE_ITEM
            for pos, m in enumerate(sim.messages):
                text = item % _encoded(message_values(m, zones.get(m.contact_id, ptz)))
                rows.append((_us(m.at), m.contact_id, m.sequence, m.step, i, pos, text))
            enr = _ENROLLMENT_ITEM
            out.enrollment_rows = sorted(
                (_us(e.entered_at), e.contact_id, e.sequence, i, pos,
                 enr % _encoded(enrollment_values(e, zones.get(e.contact_id, ptz))))
                for pos, e in enumerate(sim.enrollments)
            )  # fmt: skip
        else:
            lines = _Lines()
            writer = csv.writer(lines, lineterminator="\n")
            for pos, m in enumerate(sim.messages):
                writer.writerow([cell(v) for v in message_values(m, zones.get(m.contact_id, ptz))])
                rows.append((_us(m.at), m.contact_id, m.sequence, m.step, i, pos, lines.rows[-1]))
            lines.rows.clear()
        rows.sort()
        out.messages = rows
        return out


def _by_contact_in_time(messages: list[Message]) -> list[Message]:
    """A chunk's messages contact by contact (the contacts file's order), each contact's in
    time order (then sequence and step): the JSONL order."""
    order: dict[str, int] = {}
    for m in messages:
        order.setdefault(m.contact_id, len(order))
    return sorted(messages, key=lambda m: (order[m.contact_id], m.at, m.sequence, m.step))


class Totals:
    """The summary, messages per day, first-check crowds and held enrollments of a whole
    simulation, added up chunk by chunk in contact order."""

    def __init__(self, sequences: list[str], paused: Collection[str]) -> None:
        # Seeded as timeline.summary seeds it: every sequence asked for, in this order.
        self.summary: dict[str, Any] = summary(
            Simulation(_EPOCH, _EPOCH), sequences, ZoneInfo("UTC")
        )
        self.paused = paused
        self.days: dict[str, Counter[str]] = {}
        self.first_entries: dict[str, Counter[datetime]] = {}
        self.contacts = 0
        self.enrollments = 0
        self.held = 0
        self.held_reasons: dict[str, None] = {}  # the first distinct ones, in order

    def add(self, part: ChunkOut) -> None:
        self.contacts += part.contacts
        self.enrollments += part.enrollments
        for seq, s in part.summary.items():
            _add_sequence(self.summary.setdefault(seq, _empty_like(s)), s)
        for day, by_seq in part.per_day.items():
            self.days.setdefault(day, Counter()).update(by_seq)
        for seq, at in part.first_entries.items():
            self.first_entries.setdefault(seq, Counter()).update(at)
        self.held += len(part.held)
        for reason in part.held:
            if len(self.held_reasons) >= HELD_SHOWN:
                break
            self.held_reasons.setdefault(reason, None)

    def summary_doc(self) -> dict[str, Any]:
        totals = self.summary
        for sid in self.paused:
            if sid in totals:
                totals[sid]["paused"] = True
        return totals

    def per_day_doc(self) -> dict[str, dict[str, int]]:
        return {d: dict(sorted(c.items())) for d, c in sorted(self.days.items())}


HELD_SHOWN: Final = 20  # distinct held reasons printed


def _empty_like(s: dict[str, Any]) -> dict[str, Any]:
    return {k: ({} if isinstance(v, dict) else 0) for k, v in s.items()}


def _add_sequence(total: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if key == "steps":
            steps = total["steps"]
            for step, counts in value.items():
                mine = steps.setdefault(step, dict.fromkeys(counts, 0))
                for k, n in counts.items():
                    mine[k] += n
        elif isinstance(value, dict):
            mine = total[key]
            for k, n in value.items():
                mine[k] = mine.get(k, 0) + n
        else:
            total[key] += value


def start_end(sim_start: datetime, sim_end: datetime, project_tz: str) -> tuple[str, str]:
    ptz = ZoneInfo(project_tz)
    return sim_start.astimezone(ptz).isoformat(), sim_end.astimezone(ptz).isoformat()
