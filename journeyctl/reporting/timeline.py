"""A simulation as the stable SPEC §4 JSON shape, plus the summary numbers tables are drawn from.

Times are ISO 8601 with offset in the contact's timezone.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.engine.model import Enrollment, Message, Outcome, Status
from journeyctl.simulate.replay import Simulation

MESSAGE_FIELDS = (
    "contact_id", "sequence", "step", "channel", "at", "status", "reason",
    "deferred_from", "deferred_by", "variant", "subject",
)  # fmt: skip


def _local(t: datetime | None, tz: ZoneInfo) -> str | None:
    return t.astimezone(tz).isoformat() if t is not None else None


def message_dict(m: Message, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "contact_id": m.contact_id,
        "sequence": m.sequence,
        "step": m.step,
        "channel": m.channel,
        "at": _local(m.at, tz),
        "status": str(m.status),
        "reason": m.reason,
        "deferred_from": _local(m.deferred_from, tz),
        "deferred_by": m.deferred_by,
        "variant": m.variant,
        "subject": m.subject,
    }


def enrollment_dict(e: Enrollment, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "contact_id": e.contact_id,
        "sequence": e.sequence,
        "entered_at": _local(e.entered_at, tz),
        "ended_at": _local(e.ended_at, tz),
        "outcome": str(e.outcome),
        "reason": e.reason,
    }


def summary(sim: Simulation, sequences: list[str], day_tz: ZoneInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for seq in sequences:
        out[seq] = _empty()
    goal, exited, completed = Outcome.GOAL, Outcome.EXITED, Outcome.COMPLETED
    for e in sim.enrollments:
        s = out.get(e.sequence)
        if s is None:
            s = out[e.sequence] = _empty()
        s["entered"] += 1
        outcome = e.outcome
        if outcome is goal:
            s["goals"] += 1
        elif outcome is exited:
            why = e.reason or "exit"
            s["exited"][why] = s["exited"].get(why, 0) + 1
        elif outcome is completed:
            s["completed"] += 1
        else:
            s["active"] += 1
    sent = Status.SENT
    for m in sim.messages:
        s = out.get(m.sequence)
        if s is None:
            s = out[m.sequence] = _empty()
        steps = s["steps"]
        step = steps.get(m.step)
        if step is None:
            step = steps[m.step] = {"sent": 0, "skipped": 0, "deferred": 0}
        if m.status is sent:
            s["sent"] += 1
            step["sent"] += 1
        else:
            s["skipped"][m.reason] = s["skipped"].get(m.reason, 0) + 1
            step["skipped"] += 1
        if m.deferred_by:
            s["deferred"][m.deferred_by] = s["deferred"].get(m.deferred_by, 0) + 1
            step["deferred"] += 1
    return out


def _empty() -> dict[str, Any]:
    return {"entered": 0, "sent": 0, "skipped": {}, "deferred": {}, "goals": 0,
            "exited": {}, "completed": 0, "active": 0, "steps": {}}  # fmt: skip


def per_day(sim: Simulation, tz: ZoneInfo) -> dict[str, dict[str, int]]:
    """Sent messages per local day (project timezone), by sequence."""
    days: dict[datetime, str] = {}  # an instant's local day: messages share instants
    counts: dict[tuple[str, str], int] = {}
    sent = Status.SENT
    for m in sim.messages:
        if m.status is sent:
            day = days.get(m.at)
            if day is None:
                day = days[m.at] = m.at.astimezone(tz).date().isoformat()
            key = (day, m.sequence)
            counts[key] = counts.get(key, 0) + 1
    out: dict[str, dict[str, int]] = {}
    for (day, seq), n in sorted(counts.items()):
        out.setdefault(day, {})[seq] = n
    return out


def to_json(
    sim: Simulation, sequences: list[str], project_tz: str, paused: Collection[str] = ()
) -> dict[str, Any]:
    """`paused`: sequences with `paused: true`, marked `"paused": true` in the summary."""
    ptz = ZoneInfo(project_tz)
    zones = {cid: ZoneInfo(z) for cid, z in sim.zones.items()}

    def tz_of(cid: str) -> ZoneInfo:
        return zones.get(cid, ptz)

    messages = sorted(sim.messages, key=lambda m: (m.at, m.contact_id, m.sequence, m.step))
    enrollments = sorted(sim.enrollments, key=lambda e: (e.entered_at, e.contact_id, e.sequence))
    totals = summary(sim, sequences, ptz)
    for sid in paused:
        if sid in totals:
            totals[sid]["paused"] = True
    return {
        "start": sim.start.astimezone(ptz).isoformat(),
        "end": sim.end.astimezone(ptz).isoformat(),
        "messages": [message_dict(m, tz_of(m.contact_id)) for m in messages],
        "enrollments": [enrollment_dict(e, tz_of(e.contact_id)) for e in enrollments],
        "summary": totals,
        "per_day": per_day(sim, ptz),
    }
