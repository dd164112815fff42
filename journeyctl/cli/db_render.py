"""Renderings of what the database says, for `status` and `messages` (tables and stable JSON)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.cli.output import Output, cell, json_safe
from journeyctl.errors import UsageError
from journeyctl.store.queries import Problem, StatusReport, Stored
from journeyctl.store.sqlite import SqliteStore


def open_existing(db: Path) -> SqliteStore:
    """Reading commands never create a database: a typo in --db is a usage error."""
    if not db.is_file():
        raise UsageError(f"--db: {db} does not exist; `journeyctl run` creates it")
    return SqliteStore(db)


def _local(t: datetime | None, tz: ZoneInfo) -> str | None:
    return t.astimezone(tz).isoformat() if t is not None else None


def _problem(p: Problem, tz: ZoneInfo) -> dict[str, Any]:
    m = p.message
    return {
        "message_id": m.key,
        "contact_id": m.contact_id,
        "sequence": m.sequence,
        "step": m.step,
        "channel": m.channel,
        "at": _local(m.at, tz),
        "attempts": p.attempts,
        "next_attempt_at": _local(p.next_attempt_at, tz),
        "error": p.error,
    }


def status_doc(st: StatusReport, tz_name: str) -> dict[str, Any]:
    tz = ZoneInfo(tz_name)
    run = st.last_run
    return {
        "active": [{"sequence": s, "step": p, "contacts": n} for s, p, n in st.active],
        "ended": [{"sequence": s, "outcome": o, "contacts": n} for s, o, n in st.ended],
        "due_contacts": st.due_contacts,
        "deliveries": st.deliveries,
        "retrying": [_problem(p, tz) for p in st.retrying],
        "failed": [_problem(p, tz) for p in st.failed],
        "held": [
            {"contact_id": c, "sequence": s, "step": p, "reason": r} for c, s, p, r in st.held
        ],
        "held_total": st.held_total,
        "paused": [{"sequence": s, "holding": n} for s, n in st.paused],
        "last_run": None
        if run is None
        else {k: _local(v, tz) if isinstance(v, datetime) else v for k, v in run.items()},
    }


def status_json(st: StatusReport, tz_name: str) -> str:
    return json_safe(json.dumps(status_doc(st, tz_name), ensure_ascii=False, indent=2))


def render_status(output: Output, st: StatusReport, tz_name: str) -> None:
    from rich.table import Table

    doc = status_doc(st, tz_name)
    table = Table("sequence", "step / outcome", "contacts", title="Enrollments")
    for row in doc["active"]:
        table.add_row(
            cell(row["sequence"]), cell(row["step"] or "(completing)"), cell(row["contacts"])
        )
    for row in doc["ended"]:
        table.add_row(
            cell(row["sequence"]), cell(f"ended: {row['outcome']}"), cell(row["contacts"])
        )
    output.out.print(table)
    d = doc["deliveries"]
    output.out.print(
        f"due now: {doc['due_contacts']} contact(s), {d.get('planned', 0)} planned deliveries; "
        f"sent {d.get('sent', 0)}, skipped {d.get('skipped', 0)}, "
        f"retrying {d.get('retry', 0)}, failed {d.get('failed', 0)}, "
        f"in flight {d.get('attempting', 0)}",
        markup=False,
    )
    for title, rows in (("Retrying", doc["retrying"]), ("Failed", doc["failed"])):
        if not rows:
            continue
        t = Table("contact", "sequence", "step", "channel", "attempts", "error", title=title)
        for p in rows:
            t.add_row(
                cell(p["contact_id"]), cell(p["sequence"]), cell(p["step"]), cell(p["channel"]),
                cell(p["attempts"]), cell(p["error"]),
            )  # fmt: skip
        output.out.print(t)
    if doc["held"]:
        t = Table(
            "contact", "sequence", "step", "reason",
            title=f"Held: {doc['held_total']} (fail for the contact's data; tried again when "
            "the data or the project changes)",
        )  # fmt: skip
        for h in doc["held"]:
            t.add_row(
                cell(h["contact_id"]), cell(h["sequence"]), cell(h["step"]), cell(h["reason"])
            )
        output.out.print(t)
    for p in doc["paused"]:
        output.out.print(
            f"paused: {p['sequence']} ({p['holding']} contact(s) holding their place)",
            markup=False,
        )
    run = doc["last_run"]
    if run is not None:
        output.out.print(
            f"last run: {run['started_at']} (exit {run['exit_code']}, "
            f"{run['delivered']} delivered, {run['failed']} failed)",
            markup=False,
        )


def messages_doc(rows: list[Stored], project_tz: str) -> list[dict[str, Any]]:
    """SPEC §4: the simulate message fields plus message_id and delivered_at, in the contact's
    zone (the project's when the contact has none or an invalid one); `status` is what delivery
    made of the message (sent, failed, retrying, skipped, pending, attempting), with `attempts`,
    `next_attempt_at` and the channel's `error` (docs/run.md)."""
    from journeyctl.engine.timing import zone

    return [stored_dict(r, zone(r.timezone, project_tz)) for r in rows]


def stored_dict(r: Stored, tz: ZoneInfo) -> dict[str, Any]:
    from journeyctl.reporting.timeline import message_dict

    doc = message_dict(r.message, tz)
    doc["message_id"] = r.message.key
    doc["delivered_at"] = _local(r.delivered_at, tz)
    doc["status"] = r.status
    doc["attempts"] = r.attempts
    # Only a retry's is a promise; a pending or in-flight row's is bookkeeping (docs/run.md).
    doc["next_attempt_at"] = _local(r.next_attempt_at, tz) if r.status == "retrying" else None
    doc["error"] = r.error
    return doc


def _short(iso: str | None) -> str | None:
    return iso[:19].replace("T", " ") if iso else None


def render_messages(output: Output, doc: list[dict[str, Any]], *, only_sent: bool) -> None:
    from rich.table import Table

    from journeyctl.reporting.story import delivery_note

    if only_sent:
        table = Table("at", "contact", "sequence", "step", "channel", "subject", "delivered")
        for m in doc:
            table.add_row(
                cell(m["at"]), cell(m["contact_id"]), cell(m["sequence"]), cell(m["step"]),
                cell(m["channel"]), cell(m["subject"]), cell(m["delivered_at"]),
            )  # fmt: skip
    else:
        table = Table("at", "contact", "sequence", "step", "channel", "status", "detail")
        for m in doc:
            note = delivery_note(
                m["status"], m["attempts"], _short(m["delivered_at"]),
                _short(m["next_attempt_at"]), m["error"],
            )  # fmt: skip
            detail = "; ".join(x for x in (m["reason"], note) if x)
            table.add_row(
                cell(m["at"]), cell(m["contact_id"]), cell(m["sequence"]), cell(m["step"]),
                cell(m["channel"]), cell(m["status"]), cell(detail),
            )  # fmt: skip
    output.out.print(table)
    output.out.print(f"{len(doc)} message(s)", markup=False)
