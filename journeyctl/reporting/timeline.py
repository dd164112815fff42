"""A simulation as the stable SPEC §4 JSON shape, plus the summary numbers tables are drawn from.

Times are ISO 8601 with offset in the contact's timezone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
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
        out[seq] = {
            "entered": 0, "sent": 0, "skipped": {}, "deferred": {}, "goals": 0,
            "exited": {}, "completed": 0, "active": 0, "steps": {},
        }  # fmt: skip
    for e in sim.enrollments:
        s = out.setdefault(e.sequence, _empty())
        s["entered"] += 1
        if e.outcome is Outcome.GOAL:
            s["goals"] += 1
        elif e.outcome is Outcome.EXITED:
            s["exited"][e.reason or "exit"] = s["exited"].get(e.reason or "exit", 0) + 1
        elif e.outcome is Outcome.COMPLETED:
            s["completed"] += 1
        else:
            s["active"] += 1
    for m in sim.messages:
        s = out.setdefault(m.sequence, _empty())
        step = s["steps"].setdefault(m.step, {"sent": 0, "skipped": 0, "deferred": 0})
        if m.status is Status.SENT:
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
    days: dict[str, Counter[str]] = defaultdict(Counter)
    for m in sim.messages:
        if m.status is Status.SENT:
            days[m.at.astimezone(tz).date().isoformat()][m.sequence] += 1
    return {d: dict(sorted(c.items())) for d, c in sorted(days.items())}


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
