"""`explain --db`: a contact's story from a run's database.

The engine's per-decision trace is not stored by `run`; the story is rebuilt from what is:
enrollments (with outcome and position), the ledger (sent, skipped with reasons, deferrals),
suppressions, and the events seen. Branch values are shown by `explain` over a simulation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from journeyctl.engine.model import Decision
from journeyctl.engine.timing import zone
from journeyctl.errors import UsageError
from journeyctl.reporting.story import story
from journeyctl.spec.project import Project


def explain_from_db(project: Project, db: Path, contact_id: str) -> dict[str, Any]:
    from journeyctl.store.sqlite import SqliteStore

    if not db.exists():
        raise UsageError(f"{db}: no such database")
    store = SqliteStore(db)
    try:
        try:
            state = store.load(contact_id)
        except KeyError:
            raise UsageError(f"contact {contact_id!r} is not in {db}") from None
    finally:
        store.close()
    tz = zone(state.contact.timezone, project.settings.timezone)
    decisions: list[Decision] = []
    for ev in state.events:
        decisions.append(Decision(ev.at, None, "event", ev.name, ev.props))
    for reason, since in state.suppressed.items():
        decisions.append(Decision(since, None, "suppressed", reason))
    for e in state.enrollments:
        decisions.append(Decision(e.entered_at, e.sequence, "enrolled", e.id))
        if e.is_active and e.position is not None and e.due_at is not None:
            when = e.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
            decisions.append(Decision(e.due_at, e.sequence, "next", f"{e.position} at {when}"))
        elif e.ended_at is not None:
            decisions.append(Decision(e.ended_at, e.sequence, str(e.outcome), e.reason or ""))
    for m in state.messages:
        detail = f"{m.step} via {m.channel}"
        if m.deferred_by:
            detail += f" (deferred by {m.deferred_by})"
        if m.reason:
            detail += f": {m.reason}"
        decisions.append(Decision(m.at, m.sequence, str(m.status), detail))
    decisions.sort(key=lambda d: d.at)
    return story(contact_id, tz, decisions, state.messages, state.enrollments)
