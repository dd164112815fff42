"""`explain --db`: a contact's story from a run's database.

The engine's per-decision trace is not stored by `run`; the story is rebuilt from what is:
enrollments (with outcome and position), the ledger (skipped with reasons, deferrals, and what
the channel did with each message sent: delivered at, retrying with the error and the next
attempt, failed with the error), suppressions, and the events seen. Branch values are shown by
`explain` over a simulation.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from journeyctl.engine.model import Decision
from journeyctl.engine.timing import zone
from journeyctl.errors import UsageError
from journeyctl.reporting.story import story
from journeyctl.spec.project import Project


def explain_from_db(project: Project, db: str | Path, contact_id: str) -> dict[str, Any]:
    from journeyctl.cli.db_render import stored_dict
    from journeyctl.reporting.story import delivery_note
    from journeyctl.store.open import exists, open_store
    from journeyctl.store.queries import stored_messages

    if not exists(db):
        raise UsageError(f"{db}: no such database")
    store = open_store(db)
    try:
        try:
            state = store.load(contact_id)
        except KeyError:
            raise UsageError(f"contact {contact_id!r} is not in {store.path}") from None
        ledger = stored_messages(store, statuses=None, contact=contact_id)
    finally:
        store.close()
    tz = zone(state.contact.timezone, project.settings.timezone)

    def when(t: datetime | None) -> str | None:
        return t.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if t is not None else None

    decisions: list[Decision] = []
    for ev in state.events:
        decisions.append(Decision(ev.at, None, "event", ev.name, ev.props))
    for reason, since in state.suppressed.items():
        decisions.append(Decision(since, None, "suppressed", reason))
    for e in state.enrollments:
        decisions.append(Decision(e.entered_at, e.sequence, "enrolled", e.id))
        if e.is_active and e.position is not None and e.due_at is not None:
            due = when(e.due_at)
            decisions.append(Decision(e.due_at, e.sequence, "next", f"{e.position} at {due}"))
        elif e.ended_at is not None:
            decisions.append(Decision(e.ended_at, e.sequence, str(e.outcome), e.reason or ""))
    # The ledger's rows are the contact's messages (store.load reads the same rows): each told
    # as what the channel did with it, not only what the engine decided (`sent` = delivered).
    for r in ledger:
        m = r.message
        detail = f"{m.step} via {m.channel}"
        if m.deferred_by:
            detail += f" (deferred by {m.deferred_by})"
        if m.reason:
            detail += f": {m.reason}"
        note = delivery_note(
            r.status, r.attempts, when(r.delivered_at), when(r.next_attempt_at), r.error
        )
        if note:
            detail += f"; {note}"
        decisions.append(Decision(m.at, m.sequence, r.status, detail))
    decisions.sort(key=lambda d: d.at)
    deliveries = {
        r.message.key: {
            k: v
            for k, v in stored_dict(r, tz).items()
            if k in ("message_id", "status", "delivered_at", "attempts", "next_attempt_at", "error")
        }
        for r in ledger
    }
    return story(
        contact_id, tz, decisions, [r.message for r in ledger], state.enrollments, deliveries
    )
