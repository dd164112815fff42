"""The data of `simulate --format html`: aggregates of a simulation, never its messages one by
one, so a page over 100k contacts opens as fast as one over ten."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.engine.advance import Engine
from journeyctl.engine.model import Contact, Event, Outcome, Status
from journeyctl.pages.charts import bars
from journeyctl.pages.days import LocalDays
from journeyctl.pages.flow import DONE, NOTE, START, flow_chart, node_ids
from journeyctl.pages.texts import TEXTS
from journeyctl.reporting.abtest import compare_arms
from journeyctl.reporting.report import EnrollmentRow
from journeyctl.simulate.replay import Simulation
from journeyctl.spec.models import Exit
from journeyctl.spec.project import Project

# The input of a few contacts (their records, their events), for their stories.
InputsOf = Callable[[Collection[str]], tuple[list[Contact], list[Event]]]


@dataclass(frozen=True, slots=True)
class StepRow:
    """A send step's decisions in the simulation."""

    step: str
    sent: int
    skipped: int
    deferred: int
    skip_reasons: list[tuple[str, int]]

    @property
    def send_rate(self) -> float | None:
        decided = self.sent + self.skipped
        return self.sent / decided if decided else None


def _top(counter: Counter[str] | dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def _days(start: datetime, end: datetime, tz: ZoneInfo) -> list[str]:
    first, last = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz)
    out, d = [], first
    while d <= last.date():
        out.append(d.isoformat())
        d += timedelta(days=1)
    return out


def simulate_data(
    project: Project,
    sim: Simulation,
    names: Sequence[str],
    lang: str,
    *,
    contacts: int,
    warnings: Sequence[str] = (),
    stories: Sequence[dict[str, str]] = (),
) -> dict[str, Any]:
    """The context of templates/simulate.html.j2 (see pages.render_page)."""
    t = TEXTS[lang]
    tz = ZoneInfo(project.settings.timezone)
    days = _days(sim.start, sim.end, tz)
    day_index = {d: i for i, d in enumerate(days)}
    local_day = LocalDays(tz)
    wanted = set(names)
    # One pass over the messages: per sequence and step, sent / skipped / deferred with their
    # reasons, and sent per local day.
    sent: Counter[tuple[str, str]] = Counter()
    skipped: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    deferred: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    per_day: dict[str, list[int]] = {n: [0] * len(days) for n in names}
    for m in sim.messages:
        if m.sequence not in wanted:
            continue
        key = (m.sequence, m.step)
        if m.status is Status.SENT:
            sent[key] += 1
            i = day_index.get(local_day(m.at))
            if i is not None:
                per_day[m.sequence][i] += 1
        else:
            skipped[key][m.reason or "?"] += 1
        if m.deferred_by:
            deferred[key][m.deferred_by] += 1
    entered: Counter[str] = Counter()
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    exits: dict[str, Counter[str]] = defaultdict(Counter)
    waiting: dict[str, Counter[str]] = defaultdict(Counter)
    arms: list[EnrollmentRow] = []
    goal_sequences = {k for k in names if project.sequences[k].model.goal is not None}
    for e in sim.enrollments:
        if e.sequence not in wanted:
            continue
        entered[e.sequence] += 1
        outcomes[e.sequence][str(e.outcome)] += 1
        if e.outcome is Outcome.EXITED:
            exits[e.sequence][e.reason or "exit"] += 1
        elif e.outcome is Outcome.ACTIVE and e.position is not None:
            waiting[e.sequence][e.position] += 1
        if e.variant is not None and e.sequence in goal_sequences:
            arms.append(EnrollmentRow(e.id, e.contact_id, e.sequence, str(e.outcome),
                                      e.entered_at, e.ended_at, e.variant))  # fmt: skip
    comparisons = compare_arms(
        [], arms, None, {}, project.settings.report, goal_sequences, since=None
    )
    charts: dict[str, Any] = {
        "per-day": bars(days, {n: per_day[n] for n in names if any(per_day[n])}, stacked=True)
    }
    sequences = []
    for name in names:
        seq = project.sequences[name]
        order = node_ids(seq)  # document order, as the diagram reads
        steps = [seq.flow.nodes[k] for k in order if k in seq.flow.nodes]
        steps = [n for n in steps if n.kind_name == "send"]
        rows = [
            StepRow(node.id, sent[(name, node.id)], sum(skipped[(name, node.id)].values()),
                    sum(deferred[(name, node.id)].values()), _top(skipped[(name, node.id)]))
            for node in steps
        ]  # fmt: skip
        out = outcomes[name]
        counts: dict[str, list[str]] = {
            START: [f"{t['entered']} {entered[name]:,}"],
            DONE: [f"{t['completed']} {out['completed']:,}"],
        }
        note = [f"{t['goals']} {out['goal']:,}"] if seq.model.goal is not None else []
        exit_steps = {n.exit_reason: n.id for n in seq.flow.nodes.values()
                      if isinstance(n.step, Exit)}  # fmt: skip
        for reason, sid in exit_steps.items():  # every exit step, 0 included
            counts[sid] = [f"{t['exited']} {exits[name][reason]:,}"]
        for reason, n in _top(exits[name]):
            if reason not in exit_steps:  # exit_on events and other ends: beside the flow
                note.append(f"{t['exited']} {reason} {n:,}")
        counts[NOTE] = note
        for r in rows:
            lines = counts.setdefault(r.step, [])
            lines.append(f"{t['sent']} {r.sent:,}")
            if r.deferred:
                lines.append(f"{t['deferred']} {r.deferred:,}")
            for reason, n in r.skip_reasons[:3]:
                lines.append(f"{t['skipped']} {reason} {n:,}")
        for position, n in _top(waiting[name]):
            counts.setdefault(position, []).append(f"{t['waiting']} {n:,}")
        rates_id, day_id = f"rates-{name}", f"per-day-{name}"
        charts[day_id] = bars(days, {t["sent"]: per_day[name]})
        charts[rates_id] = bars(
            [r.step for r in rows],
            {
                t["send_rate"]: [_pct(r.sent, r.sent + r.skipped) for r in rows],
                t["defer_rate"]: [_pct(r.deferred, r.sent + r.skipped) for r in rows],
            },
            y_title="%",
        )
        sequences.append({
            "id": name,
            "paused": seq.model.paused,
            "kpis": [(t["entered"], f"{entered[name]:,}"),
                     (t["sent"], f"{sum(r.sent for r in rows):,}"),
                     (t["goals"], f"{out['goal']:,}"), (t["completed"], f"{out['completed']:,}"),
                     (t["exited"], f"{out['exited']:,}"), (t["active"], f"{out['active']:,}")],
            "flow": flow_chart(seq, counts),
            "per_day_chart": day_id,
            "rates_chart": rates_id,
            "steps": rows,
            "exited": _top(exits[name]),
            "deferred": _top(sum((deferred[(name, n.id)] for n in steps), Counter())),
            "skipped": _top(sum((skipped[(name, n.id)] for n in steps), Counter())),
            "ab": [c.as_dict() for c in comparisons if c.sequence == name],
        })  # fmt: skip
    first, last = days[0] if days else "", days[-1] if days else ""
    return {
        "period": f"{first} – {last}",
        "contacts": contacts,
        "total_sent": sum(sent.values()),
        "total_entered": sum(entered.values()),
        "charts": charts,
        "sequences": sequences,
        "warnings": list(warnings),
        "story_items": list(stories),
    }


def _pct(n: int, d: int) -> float:
    return round(100 * n / d, 2) if d else 0.0


def sample_stories(
    project: Project,
    sim: Simulation,
    inputs_of: InputsOf,
    engine: Engine,
    *,
    limit: int = 6,
) -> list[dict[str, str]]:
    """`explain`'s story of a few contacts: per sequence the first contact who entered it,
    then the first whose message was skipped; replayed alone with the decisions traced."""
    from journeyctl.reporting.story import story, story_text
    from journeyctl.simulate.replay import simulate

    picked: dict[str, None] = {}
    seen: set[str] = set()
    for e in sorted(sim.enrollments, key=lambda e: (e.entered_at, e.contact_id)):
        if e.sequence not in seen:
            seen.add(e.sequence)
            picked.setdefault(e.contact_id)
    skipped = next((m.contact_id for m in sim.messages if m.status is Status.SKIPPED), None)
    if skipped is not None:
        picked.setdefault(skipped)
    chosen = list(picked)[:limit]
    if not chosen:
        return []
    wanted = set(chosen)
    people, history = inputs_of(wanted)
    traced = simulate(project, people, history, sim.start, sim.end, engine=engine,
                      trace_contacts=wanted)  # fmt: skip
    out = []
    for cid in chosen:
        doc = story(
            cid,
            ZoneInfo(traced.zones.get(cid, project.settings.timezone)),
            traced.traces.get(cid, []),
            [m for m in traced.messages if m.contact_id == cid],
            [e for e in traced.enrollments if e.contact_id == cid],
        )
        out.append({"contact_id": cid, "text": story_text(doc)})
    return out


def simulate_page(
    project: Project,
    sim: Simulation,
    names: Sequence[str],
    contacts: int,
    inputs_of: InputsOf,
    engine: Engine,
    *,
    warnings: Sequence[str] = (),
) -> str:
    """The whole page of `simulate --format html`, in the project's language."""
    from journeyctl.pages.render import render_page
    from journeyctl.pages.texts import language

    lang = language(project.settings)
    stories = sample_stories(project, sim, inputs_of, engine)
    data = simulate_data(project, sim, names, lang, contacts=contacts, warnings=warnings,
                         stories=stories)  # fmt: skip
    return render_page("simulate", data, lang)
