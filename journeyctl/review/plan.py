"""`plan`: what the current files would do to the enrollments in a run's database.

Two questions, answered from the database without writing to it:
1. For each sequence whose in-flight enrollments were made with another version (or that was
   removed): how many contacts sit at each step and what the engine will do with them —
   by the engine's own rules (`engine.plan.fate`, SPEC §5).
2. Which messages the next 24 hours (`window`) would bring for those contacts that were not
   planned before: each contact's state is copied and advanced by a pure engine for the new
   files and, given a base, for the old ones; the difference is the answer.
3. Which of them keep a wait the current files would time otherwise, and the `migrate:` line
   that would keep contacts at removed steps in flight (review.plan_waits).
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from journeyctl.engine.advance import Engine
from journeyctl.engine.model import ContactState, Status
from journeyctl.engine.plan import STEP_REMOVED, Action, SequencePlan, fate
from journeyctl.engine.timing import after
from journeyctl.review.plan_waits import WaitChange, migrate_line, suggest_migrate, wait_changes
from journeyctl.spec.durations import Duration
from journeyctl.spec.manifest import ManifestSequence
from journeyctl.spec.models import DateTrigger, EventTrigger, SegmentTrigger
from journeyctl.spec.project import Project

if TYPE_CHECKING:
    from journeyctl.store.open import OpenStore

HORIZON = timedelta(hours=24)
# Where plan's clock came from (said in its output): --now, the last run in the db, the wall.
ClockSource = Literal["--now", "last run", "wall clock"]


@dataclass(frozen=True)
class StepFate:
    """Contacts whose next step is `step` (None: at the end) and what happens to them."""

    step: str | None
    contacts: int
    action: Action
    to: str | None = None  # the step a `move` lands on
    reason: str | None = None  # `step_removed` / `sequence_removed` for an exit


@dataclass
class SequenceChange:
    """A sequence whose in-flight enrollments the current files change (or a new one)."""

    sequence: str
    status: Literal["changed", "removed", "added"]
    version: str | None  # the current content hash (None when removed)
    stored_versions: list[str] = field(default_factory=list)
    steps: list[StepFate] = field(default_factory=list)
    enrolls: str | None = None  # for a new sequence: who enters it and when
    waits: list[WaitChange] = field(default_factory=list)  # waits kept by contacts in flight
    # for steps whose contacts exit step_removed: the migrate: entries suggested (None: unknown)
    migrate: dict[str, str | None] = field(default_factory=dict)
    migrate_line: str | None = None
    matching_now: int | None = None  # a new segment sequence: contacts matching at `now`

    @property
    def contacts(self) -> int:
        return sum(f.contacts for f in self.steps)


@dataclass(frozen=True)
class PlannedMessage:
    at: datetime  # in the contact's timezone
    contact_id: str
    sequence: str
    step: str
    channel: str


@dataclass
class Plan:
    now: datetime
    until: datetime
    base: str | None
    window: str = "24h"
    clock: ClockSource = "--now"
    sequences: list[SequenceChange] = field(default_factory=list)
    planned: list[PlannedMessage] = field(default_factory=list)  # the new files' next 24 h
    added: list[PlannedMessage] | None = None  # planned now, not with the base (None: no base)
    dropped: list[PlannedMessage] | None = None  # planned with the base, not any more
    # `paused: true` sequences (and, given a base, those it resumes): in-flight contacts
    paused: list[tuple[str, int]] = field(default_factory=list)
    resumed: list[tuple[str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a first check enrolling a crowd

    def to_json(self) -> dict[str, Any]:
        def msg(m: PlannedMessage) -> dict[str, Any]:
            return {
                "contact_id": m.contact_id,
                "sequence": m.sequence,
                "step": m.step,
                "channel": m.channel,
                "at": m.at.isoformat(),
            }

        def waits(s: SequenceChange) -> list[dict[str, Any]]:
            return [
                {
                    "step": w.step,
                    "kind": w.kind,
                    "wait": w.wait,
                    "contacts": w.contacts,
                    "rule": w.rule,
                    "examples": [
                        {"contact_id": c, "due_at": kept.isoformat(), "new_due_at": new.isoformat()}
                        for c, kept, new in w.examples
                    ],
                }
                for w in s.waits
            ]

        return {
            "now": self.now.isoformat(),
            "until": self.until.isoformat(),
            "window": self.window,
            "clock": self.clock,
            "base": self.base,
            "sequences": [
                {
                    "sequence": s.sequence,
                    "status": s.status,
                    "version": s.version,
                    "stored_versions": s.stored_versions,
                    "contacts": s.contacts,
                    "steps": [
                        {
                            "step": f.step,
                            "contacts": f.contacts,
                            "action": f.action,
                            "to": f.to,
                            "reason": f.reason,
                        }
                        for f in s.steps
                    ],
                    "enrolls": s.enrolls,
                    "waits": waits(s),
                    "migrate": s.migrate,
                    "migrate_line": s.migrate_line,
                    "matching_now": s.matching_now,
                }
                for s in self.sequences
            ],
            "warnings": self.warnings,
            "paused": [{"sequence": s, "contacts": n} for s, n in self.paused],
            "resumed": [{"sequence": s, "contacts": n} for s, n in self.resumed],
            "messages": {
                "planned": [msg(m) for m in self.planned],
                "added": None if self.added is None else [msg(m) for m in self.added],
                "dropped": None if self.dropped is None else [msg(m) for m in self.dropped],
            },
        }


def enrolls_when(seq: ManifestSequence) -> str:
    trig = seq.model.trigger
    if isinstance(trig, EventTrigger):
        where = f" where {trig.where}" if trig.where else ""
        return f"enrolls on the next `{trig.event}` event{where}"
    if isinstance(trig, SegmentTrigger):
        return f"enrolls contacts when `{trig.segment}` becomes true (checked `{trig.check}`)"
    if isinstance(trig, DateTrigger):
        return f"enrolls on each contact's `{trig.date.field}` date"
    return "enrolls per its trigger"  # pragma: no cover - the schema allows only the three


def _active_rows(store: OpenStore) -> list[tuple[str, str, str, str | None]]:
    return list(
        store.conn.execute(
            "SELECT contact_id, sequence, version, position FROM enrollments "
            "WHERE outcome = 'active' ORDER BY sequence, contact_id"
        )
    )


def _known_sequences(store: OpenStore) -> set[str]:
    return {r[0] for r in store.conn.execute("SELECT DISTINCT sequence FROM enrollments")}


def _step_order(seq: SequencePlan | None) -> dict[str | None, int]:
    return {} if seq is None else {sid: i for i, sid in enumerate(seq.nodes)}


def _sequence_changes(
    engine: Engine, rows: list[tuple[str, str, str, str | None]]
) -> tuple[list[SequenceChange], set[str]]:
    """Per changed sequence, contacts per step and their fate; and the contacts affected."""
    stale: dict[str, Counter[str | None]] = {}
    versions: dict[str, set[str]] = {}
    affected: set[str] = set()
    by_id = {s.id: s for s in engine.sequences}
    for contact_id, seq_id, version, position in rows:
        seq = by_id.get(seq_id)
        if seq is not None and seq.version == version:
            continue
        stale.setdefault(seq_id, Counter())[position] += 1
        versions.setdefault(seq_id, set()).add(version)
        affected.add(contact_id)
    plans: list[SequenceChange] = []
    for seq_id in sorted(stale):
        seq = by_id.get(seq_id)
        # Steps in the order the old flow had them is unknown here; the new flow's order, then
        # the ids it lost, alphabetically.
        order = _step_order(seq)
        at_steps = sorted(
            stale[seq_id], key=lambda p: (p is None, order.get(p, len(order)), p or "")
        )
        plan = SequenceChange(
            seq_id,
            "removed" if seq is None else "changed",
            None if seq is None else seq.version,
            sorted(versions[seq_id]),
        )
        for position in at_steps:
            action, to, reason = fate(seq, position)
            plan.steps.append(StepFate(position, stale[seq_id][position], action, to, reason))
        plans.append(plan)
    return plans, affected


def _next_messages(engine: Engine, state: ContactState, until: datetime) -> list[PlannedMessage]:
    """Messages the engine would send for a copy of `state` up to `until`, in decision order."""
    mine = copy.deepcopy(state)
    tz = engine.zone_of(mine)
    # replay: each instant decided as an on-time tick would (a window longer than `late.max`
    # would otherwise find its first messages late)
    result = engine.replay(mine, until)
    return [
        PlannedMessage(m.at.astimezone(tz), m.contact_id, m.sequence, m.step, m.channel)
        for m in result.messages
        if m.status is Status.SENT
    ]


def make_plan(
    project: Project,
    store: OpenStore,
    now: datetime,
    *,
    base: Project | None = None,
    base_label: str | None = None,
    window: Duration | None = None,
    clock: ClockSource = "--now",
) -> Plan:
    """The plan of `project` against `store` at `now`; `base` is the project before the edit;
    `window`: how far ahead messages are listed (default 24h); `clock`: where `now` came from.

    Reads only: `store.save` is never called.
    """
    tz = ZoneInfo(project.settings.timezone)
    until = after(now, window, tz) if window is not None else now + HORIZON
    out = Plan(
        now=now.astimezone(tz),
        until=until.astimezone(tz),
        base=base_label if base is not None else None,
        window=str(window) if window is not None else "24h",
        clock=clock,
    )
    new_engine = Engine(project)  # no renderer: decisions only
    old_engine = Engine(base) if base is not None else None
    rows = _active_rows(store)
    out.sequences, affected = _sequence_changes(new_engine, rows)
    out.paused, out.resumed = _pauses(project, base, rows)
    # New sequences: not in the base, or (without one) never entered by anybody in this db.
    manifest = project.manifest
    known = set(base.manifest.sequences) if base is not None else _known_sequences(store)
    for seq_id in sorted(set(manifest.sequences) - known):
        seq = manifest.sequences[seq_id]
        out.sequences.append(
            SequenceChange(seq_id, "added", seq.version, enrolls=enrolls_when(seq))
        )
    _first_checks(new_engine, project, store, now, out)
    planned: list[PlannedMessage] = []
    before: list[PlannedMessage] = []
    states: list[tuple[ContactState, ZoneInfo]] = []
    for contact_id in sorted(affected):
        state = store.load(contact_id)
        states.append((state, new_engine.zone_of(state)))
        planned += _next_messages(new_engine, state, until)
        if old_engine is not None:
            before += _next_messages(old_engine, state, until)
    _in_flight(out, new_engine, states, base)
    out.planned = _in_time_order(planned)
    if old_engine is not None:
        was, now_ = set(before), set(planned)
        out.added = _in_time_order([m for m in planned if m not in was])
        out.dropped = _in_time_order([m for m in before if m not in now_])
    return out


def _in_flight(
    plan: Plan, engine: Engine, states: list[tuple[ContactState, ZoneInfo]], base: Project | None
) -> None:
    """Waits kept and `migrate:` suggestions of each changed sequence (review.plan_waits)."""
    by_id = {s.id: s for s in engine.sequences}
    for change in plan.sequences:
        seq = by_id.get(change.sequence)
        if change.status != "changed" or seq is None:
            continue
        change.waits = wait_changes(seq, states)
        removed = [f.step for f in change.steps if f.reason == STEP_REMOVED and f.step is not None]
        if removed:
            old = base.manifest.sequences.get(change.sequence) if base is not None else None
            change.migrate = suggest_migrate(seq, removed, old)
            if any(v is not None for v in change.migrate.values()):
                change.migrate_line = migrate_line(seq, change.migrate)


def _first_checks(
    engine: Engine, project: Project, store: OpenStore, now: datetime, out: Plan
) -> None:
    """New segment sequences without `existing: skip`: how many contacts match now, all of
    whom their first check enrolls at once; a warning above the spike threshold."""
    from journeyctl.simulate.spikes import crowd_starts, spike_threshold, spike_warning

    watched = [
        s for s in out.sequences if s.status == "added" and s.sequence in crowd_starts(project)
    ]
    if not watched:
        return
    ids = [r[0] for r in store.conn.execute("SELECT contact_id FROM contact_state")]
    counts = dict.fromkeys((s.sequence for s in watched), 0)
    for start in range(0, len(ids), 1000):
        for state in store.load_many(ids[start : start + 1000]):
            for sid in counts:
                if engine.segment_matches(sid, state, now):
                    counts[sid] += 1
    for s in watched:
        s.matching_now = counts[s.sequence]
        if counts[s.sequence] > spike_threshold(len(ids)):
            out.warnings.append(spike_warning(s.sequence, counts[s.sequence], "its next check"))


def _pauses(
    project: Project, base: Project | None, rows: list[tuple[str, str, str, str | None]]
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Paused sequences and, given a base, those paused there and not now: (id, in-flight)."""
    active = Counter(r[1] for r in rows)
    seqs = project.manifest.sequences
    paused = [(sid, active[sid]) for sid, seq in seqs.items() if seq.model.paused]
    was = base.manifest.sequences if base is not None else {}
    resumed = [
        (sid, active[sid])
        for sid, seq in seqs.items()
        if not seq.model.paused and sid in was and was[sid].model.paused
    ]
    return paused, resumed


def _pause_lines(plan: Plan) -> list[str]:
    lines = [
        f"paused: {sid}: no new entries; {n} in-flight contact(s) hold their place"
        for sid, n in plan.paused
    ]
    lines += [
        f"resumed: {sid}: {n} in-flight contact(s) go on; sends due while paused follow `late`"
        for sid, n in plan.resumed
    ]
    return lines


def _in_time_order(messages: list[PlannedMessage]) -> list[PlannedMessage]:
    """By time and contact; a contact's messages at one instant keep the engine's order."""
    return sorted(messages, key=lambda m: (m.at, m.contact_id))


# --- renderings (pure strings) ----------------------------------------------------------------


def _hm(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M %Z")


def _fate_words(f: StepFate) -> str:
    if f.action == "move":
        return f"move → `{f.to}`"
    if f.action == "exit":
        return f"exit {f.reason}"
    return "continue" if f.step is not None else "continue (completes)"


def _at(f: StepFate) -> str:
    return f"`{f.step}`" if f.step is not None else "(end)"


def _headline(plan: Plan) -> str:
    changed = [s for s in plan.sequences if s.status != "added"]
    if not changed:
        return "no in-flight enrollment is affected by the current files"
    n = sum(s.contacts for s in changed)
    return f"{n} in-flight enrollment(s) in {len(changed)} changed sequence(s)"


def _sequence_title(s: SequenceChange) -> str:
    if s.status == "added":
        now = f"; {s.matching_now} contact(s) match now" if s.matching_now is not None else ""
        return f"{s.sequence} (new): {s.enrolls}{now}"
    if s.status == "removed":
        return f"{s.sequence} (removed): {s.contacts} contact(s) exit sequence_removed"
    was = ", ".join(v[:8] for v in s.stored_versions)
    return f"{s.sequence} (changed, version {was} → {(s.version or '')[:8]})"


def _message_sections(plan: Plan) -> list[tuple[str, list[PlannedMessage]]]:
    span = f"{_hm(plan.now)} → {_hm(plan.until)}"
    window = "24 h" if plan.window == "24h" else plan.window
    if plan.added is None or plan.dropped is None:
        return [
            (f"messages for these contacts in the next {window} ({span}; no --base)", plan.planned)
        ]
    return [
        (f"new in the next {window}, not planned at `{plan.base}` ({span})", plan.added),
        (f"no longer sent in the next {window}, planned at `{plan.base}`", plan.dropped),
    ]


def _clock_line(plan: Plan) -> list[str]:
    """Where the clock came from, unless the user gave it (--now)."""
    if plan.clock == "last run":
        return [f"clock: {_hm(plan.now)}, the last run's (from the database; --now to change)"]
    if plan.clock == "wall clock":
        return [f"clock: {_hm(plan.now)}, the wall clock (no run in the database yet)"]
    return []


def _wait_lines(s: SequenceChange) -> list[str]:
    lines = []
    for w in s.waits:
        what = "timeout" if w.kind == "wait_for" else "wait before it"
        lines.append(
            f"  at `{w.step}`: {w.contacts} contact(s) already waiting keep their due time;"
            f" the {what} is now {w.wait}"
        )
        lines += [f"    {c}: due {_hm(kept)} (the new {what.split()[0]} would give {_hm(new)})"
                  for c, kept, new in w.examples]  # fmt: skip
        lines.append(f"    rule: {w.rule}")
    return lines


def _migrate_lines(s: SequenceChange) -> list[str]:
    if not s.migrate:
        return []
    known = [k for k, v in s.migrate.items() if v is not None]
    unknown = [k for k, v in s.migrate.items() if v is None]
    lines = []
    if s.migrate_line is not None:
        steps = ", ".join(f"`{k}`" for k in known)
        lines.append(
            f"  suggested: `{s.migrate_line}` keeps the contacts at {steps} in flight"
            " (without it they exit step_removed)"
        )
    for k in unknown:
        lines.append(
            f"  `{k}` is gone: to keep its contacts in flight, add `migrate: {{{k}: <step id>}}`"
        )
    return lines


def to_text(plan: Plan) -> str:
    lines = [_headline(plan), *_clock_line(plan), *plan.warnings, *_pause_lines(plan)]
    for s in plan.sequences:
        lines += ["", _sequence_title(s)]
        if s.status == "changed":
            lines += [f"  at {_at(f)}: {f.contacts} contact(s) {_fate_words(f)}" for f in s.steps]
            lines += _wait_lines(s) + _migrate_lines(s)
    for title, messages in _message_sections(plan):
        lines += ["", f"{title}: {len(messages)}"]
        lines += [f"  {_hm(m.at)}  {m.contact_id}  {m.sequence}/{m.step} via {m.channel}"
                  for m in messages]  # fmt: skip
    return "\n".join(lines) + "\n"


def to_markdown(plan: Plan) -> str:
    lines = [f"### journeyctl plan: {_headline(plan)}"]
    lines += [f"- {line}" for line in [*plan.warnings, *_pause_lines(plan)]]
    lines += [f"\n{line}" for line in _clock_line(plan)]
    for s in plan.sequences:
        lines += ["", f"**{_sequence_title(s)}**"]
        if s.status == "changed" and s.steps:
            lines += ["", "| at step | contacts | what happens |", "|---|---:|---|"]
            lines += [f"| {_at(f)} | {f.contacts} | {_fate_words(f)} |" for f in s.steps]
        extra = _wait_lines(s) + _migrate_lines(s) if s.status == "changed" else []
        if extra:
            lines += ["", "```", *(line.removeprefix("  ") for line in extra), "```"]
    for title, messages in _message_sections(plan):
        lines += ["", f"**{title}: {len(messages)}**"]
        if messages:
            lines += ["", "| at | contact | sequence | step | channel |", "|---|---|---|---|---|"]
            lines += [f"| {_hm(m.at)} | {m.contact_id} | {m.sequence} | `{m.step}` | {m.channel} |"
                      for m in messages]  # fmt: skip
    return "\n".join(lines) + "\n"
