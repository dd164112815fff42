"""A simulation consumed chunk by chunk: totals accumulated, messages rendered where simulated.

`simulate` runs chunks of contacts in forked workers (simulate.parallel.run_chunks). Each
worker turns its chunk's Simulation into a `ChunkOut` (`ChunkRender.finish`): the summary's
counts for the chunk, and its messages and enrollments already rendered as the output format
needs them, with their sort keys (reporting.sim_text). The parent adds the counts into
`Totals` in chunk order (so every dict keeps the key order `timeline.summary` gives over the
whole list) and hands the rendered rows on: written at once (`jsonl`), or through
`sim_sort.SortedSpill` for the SPEC §4 JSON and CSV, whose messages are sorted by time over
all contacts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from journeyctl.reporting.sim_text import (
    Row,
    Zones,
    csv_messages,
    json_enrollments,
    json_messages,
    jsonl_messages,
)
from journeyctl.reporting.timeline import per_day, summary
from journeyctl.simulate.replay import Simulation

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


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
        zones = Zones(sim.zones, self.project_tz)
        if self.fmt == Format.JSONL:
            out.messages = [(line,) for line in jsonl_messages(sim.messages, zones)]
            return out
        if self.fmt == Format.JSON:
            rows = json_messages(sim.messages, zones, i)
            out.enrollment_rows = json_enrollments(sim.enrollments, zones, i)
        else:
            rows = csv_messages(sim.messages, zones, i)
        rows.sort()
        out.messages = rows
        return out


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
