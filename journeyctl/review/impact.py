"""A change's impact: both versions of a project simulated on the same contacts, events and
period, and their sent messages compared one by one (docs/decisions/impact.md).

The same message across two versions is the same contact, sequence and step (a base step id
read through the new version's `migrate:` map, as `run` moves waiting contacts) and the same
occurrence: the n-th message that contact got from that step in the period, in time order.
A message only in the base is removed, only in the new version added, in both at different
instants moved (its shift is new minus base). Only sent messages count: a skip is a message
nobody receives, so a send that becomes a skip is a removed message.

Pure apart from `simulate_sides`, which runs the engine (the same engine `simulate` runs) on
each side: the comparison takes two `Simulation`s and never reads any command's output.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any, Literal
from zoneinfo import ZoneInfo

from journeyctl import bulk
from journeyctl.engine.model import Contact, Event, Message, Status
from journeyctl.simulate.replay import Simulation
from journeyctl.spec.project import Project

Kind = Literal["added", "removed", "moved"]
# (contact, sequence, step, occurrence): the identity of a message across the two versions.
Key = tuple[str, str, str, int]


@dataclass(frozen=True)
class MessageChange:
    kind: Kind
    contact_id: str
    sequence: str
    step: str  # the new version's step id (a renamed step under its new id)
    occurrence: int  # 1 = the contact's first message from this step in the period
    base_at: datetime | None  # None: added
    new_at: datetime | None  # None: removed
    base_step: str | None = None  # set when the base id differs (migrate)

    @property
    def shift_seconds(self) -> int | None:
        if self.base_at is None or self.new_at is None:
            return None
        return int((self.new_at - self.base_at).total_seconds())


@dataclass
class Counts:
    """Sent messages on each side and what changed between them, for a step, a sequence or
    the whole project."""

    base_sent: int = 0
    new_sent: int = 0
    added: int = 0
    removed: int = 0
    moved: int = 0
    contacts: set[str] = field(default_factory=set)  # contacts with any change here
    shifts: list[int] = field(default_factory=list)  # seconds, one per moved message

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.moved)

    def note(self, change: MessageChange) -> None:
        if change.kind == "added":
            self.added += 1
        elif change.kind == "removed":
            self.removed += 1
        else:
            self.moved += 1
            assert change.shift_seconds is not None
            self.shifts.append(change.shift_seconds)
        self.contacts.add(change.contact_id)

    def shift(self) -> dict[str, int] | None:
        """Median, earliest and latest shift of the moved messages (seconds, new − base)."""
        if not self.shifts:
            return None
        return {
            "median_seconds": int(median(self.shifts)),
            "min_seconds": min(self.shifts),
            "max_seconds": max(self.shifts),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "base_sent": self.base_sent,
            "new_sent": self.new_sent,
            "added": self.added,
            "removed": self.removed,
            "moved": self.moved,
            "contacts_affected": len(self.contacts),
            "shift": self.shift(),
        }


@dataclass
class StepImpact:
    step: str
    status: Literal["same", "added", "removed"]  # the step in the files: in both, new, gone
    counts: Counts = field(default_factory=Counts)
    base_step: str | None = None  # the base id when `migrate:` renamed it


@dataclass
class SequenceImpact:
    sequence: str
    status: Literal["same", "added", "removed"]
    counts: Counts = field(default_factory=Counts)
    steps: dict[str, StepImpact] = field(default_factory=dict)  # in the flow's order


@dataclass
class Impact:
    base: str
    start: datetime
    end: datetime
    contacts: int
    timezone: str
    totals: Counts = field(default_factory=Counts)
    sequences: dict[str, SequenceImpact] = field(default_factory=dict)
    changes: list[MessageChange] = field(default_factory=list)
    zones: dict[str, str] = field(default_factory=dict)  # contact -> zone its times show in

    @property
    def changed(self) -> bool:
        return self.totals.changed

    def to_json(self) -> dict[str, Any]:
        """The stable shape documented in docs/decisions/impact.md."""
        ptz = ZoneInfo(self.timezone)
        zones = {cid: ZoneInfo(z) for cid, z in self.zones.items()}

        def at(t: datetime | None, cid: str) -> str | None:
            return None if t is None else t.astimezone(zones.get(cid, ptz)).isoformat()

        return {
            "base": self.base,
            "start": self.start.astimezone(ptz).isoformat(),
            "end": self.end.astimezone(ptz).isoformat(),
            "contacts": self.contacts,
            "changed": self.changed,
            "totals": self.totals.to_json(),
            "sequences": [
                {
                    "sequence": s.sequence,
                    "status": s.status,
                    **s.counts.to_json(),
                    "steps": [
                        {
                            "step": st.step,
                            "status": st.status,
                            "base_step": st.base_step,
                            **st.counts.to_json(),
                        }
                        for st in s.steps.values()
                    ],
                }
                for s in self.sequences.values()
            ],
            "messages": [
                {
                    "change": c.kind,
                    "contact_id": c.contact_id,
                    "sequence": c.sequence,
                    "step": c.step,
                    "occurrence": c.occurrence,
                    "base_at": at(c.base_at, c.contact_id),
                    "new_at": at(c.new_at, c.contact_id),
                    "shift_seconds": c.shift_seconds,
                }
                for c in self.changes
            ],
        }


def renames(project: Project) -> dict[tuple[str, str], str]:
    """(sequence, base step id) -> new step id, from each sequence's `migrate:`."""
    return {
        (sid, old): new
        for sid, seq in project.sequences.items()
        for old, new in seq.model.migrate.items()
    }


def keyed(
    messages: Iterable[Message], rename: Mapping[tuple[str, str], str] | None = None
) -> dict[Key, tuple[datetime, str]]:
    """Sent messages by identity -> (instant, step id as sent). `rename` maps base step ids
    to the new version's."""
    by: dict[tuple[str, str, str], list[tuple[datetime, str]]] = defaultdict(list)
    for m in messages:
        if m.status is not Status.SENT:
            continue
        step = rename.get((m.sequence, m.step), m.step) if rename else m.step
        by[(m.contact_id, m.sequence, step)].append((m.at, m.step))
    out: dict[Key, tuple[datetime, str]] = {}
    for (cid, sid, step), times in by.items():
        times.sort()
        for n, item in enumerate(times, 1):
            out[(cid, sid, step, n)] = item
    return out


def _order(project: Project, sid: str) -> list[str]:
    """The sequence's send steps in document order (the only steps that make messages)."""
    seq = project.manifest.sequences.get(sid)
    return [] if seq is None else [k for k, p in seq.steps.items() if p.kind_name == "send"]


def compare(
    base: Simulation,
    new: Simulation,
    base_project: Project,
    new_project: Project,
    *,
    label: str,
    contacts: int,
) -> Impact:
    """What the change does to the period's sent messages, message by message."""
    old = keyed(base.messages, renames(new_project))
    return compare_keyed(
        old, base.zones, new, base_project, new_project, label=label, contacts=contacts
    )


def compare_keyed(
    old: Mapping[Key, tuple[datetime, str]],
    base_zones: Mapping[str, str],
    new: Simulation,
    base_project: Project,
    new_project: Project,
    *,
    label: str,
    contacts: int,
) -> Impact:
    """`compare` with the base side already reduced to `keyed(base.messages, renames(new))`
    and its contacts' zones (the base simulation need not be kept while the new one runs)."""
    now = keyed(new.messages)
    impact = Impact(
        label, new.start, new.end, contacts, new_project.settings.timezone,
        zones={**base_zones, **new.zones},
    )  # fmt: skip
    base_ids, new_ids = set(base_project.sequences), set(new_project.sequences)
    for sid in sorted(base_ids | new_ids):
        status: Literal["same", "added", "removed"] = (
            "same"
            if sid in base_ids and sid in new_ids
            else "added"
            if sid in new_ids
            else "removed"
        )
        seq = impact.sequences[sid] = SequenceImpact(sid, status)
        new_order = _order(new_project, sid)
        back = {new: old for (s, old), new in renames(new_project).items() if s == sid}
        gone = [
            s for s in _order(base_project, sid) if s not in new_order and s not in back.values()
        ]
        for step in new_order:
            st: Literal["same", "added", "removed"]
            if status == "added":
                st = "added"
            elif step in _order(base_project, sid) or step in back:
                st = "same"
            else:
                st = "added"
            seq.steps[step] = StepImpact(step, st, base_step=back.get(step))
        for step in gone:
            seq.steps[step] = StepImpact(step, "removed")

    def counts_for(sid: str, step: str) -> tuple[Counts, Counts]:
        seq = impact.sequences.get(sid)
        if seq is None:  # a message from a sequence neither side lists (cannot happen)
            seq = impact.sequences[sid] = SequenceImpact(sid, "same")
        st = seq.steps.get(step)
        if st is None:  # an automatic id absent from the flow listing
            st = seq.steps[step] = StepImpact(step, "same")
        return seq.counts, st.counts

    for _cid, sid, step, _n in old:
        for c in (impact.totals, *counts_for(sid, step)):
            c.base_sent += 1
    for _cid, sid, step, _n in now:
        for c in (impact.totals, *counts_for(sid, step)):
            c.new_sent += 1
    changes: list[MessageChange] = []
    for key in old.keys() | now.keys():
        cid, sid, step, n = key
        a, b = old.get(key), now.get(key)
        if a is not None and b is not None:
            if a[0] == b[0]:
                continue
            kind: Kind = "moved"
        else:
            kind = "added" if a is None else "removed"
        base_step = a[1] if a is not None and a[1] != step else None
        changes.append(
            MessageChange(
                kind, cid, sid, step, n, a[0] if a else None, b[0] if b else None, base_step
            )
        )
    changes.sort(key=lambda c: (c.sequence, c.step, c.contact_id, c.occurrence))
    for change in changes:
        for c in (impact.totals, *counts_for(change.sequence, change.step)):
            c.note(change)
    impact.changes = changes
    return impact


def held(sim: Simulation) -> int:
    """Enrollments held by content or conditions that fail for the contact's data."""
    return sum(1 for e in sim.enrollments if e.held is not None and e.reason)


def simulate_sides(
    base_project: Project,
    new_project: Project,
    base_inputs: tuple[list[Contact], list[Event]],
    new_inputs: tuple[list[Contact], list[Event]],
    start: datetime,
    end: datetime,
    *,
    label: str,
) -> tuple[Impact, tuple[int, int]]:
    """Both versions through the engine `simulate` runs (same options: subjects only, no
    assumed responses), one after the other on the same period; then `compare`. Returns the
    impact and each side's held enrollments (base, new).

    The base simulation is reduced to its sent messages' keys and times before the new one
    runs, so the two full simulations are never in memory together."""
    from journeyctl.engine.make import make_engine
    from journeyctl.simulate.parallel import simulate_parallel

    def run(project: Project, inputs: tuple[list[Contact], list[Event]]) -> Simulation:
        engine = make_engine(project, subjects_only=True)
        return simulate_parallel(project, *inputs, start, end, engine=engine)

    base = run(base_project, base_inputs)
    base_held, zones = held(base), base.zones
    # Hundreds of thousands of acyclic tuples over a heap of millions: no collector walks.
    with bulk.paused():
        old = keyed(base.messages, renames(new_project))
    del base
    new = run(new_project, new_inputs)
    with bulk.paused():
        impact = compare_keyed(
            old, zones, new, base_project, new_project, label=label, contacts=len(new_inputs[0])
        )
    return impact, (base_held, held(new))
