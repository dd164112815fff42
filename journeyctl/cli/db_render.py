"""Renderings of what the database says, for `status` and `messages` (tables and stable JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from journeyctl.cli.output import Output, cell, json_safe
from journeyctl.errors import UsageError
from journeyctl.store.open import exists, open_store
from journeyctl.store.queries import Problem, StatusReport, Stored

if TYPE_CHECKING:
    from journeyctl.store.open import OpenStore


def open_existing(db: str | Path) -> OpenStore:
    """Reading commands never create a database file: a typo in --db is a usage error."""
    if not exists(db):
        raise UsageError(f"--db: {db} does not exist; `journeyctl run` creates it")
    return open_store(db)


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
    from journeyctl.cli.tables import Col, minute, print_fitted, print_table

    doc = status_doc(st, tz_name)
    rows = [
        [cell(row["sequence"]), cell(row["step"] or "(completing)"), cell(row["contacts"])]
        for row in doc["active"]
    ] + [
        [cell(row["sequence"]), cell(f"ended: {row['outcome']}"), cell(row["contacts"])]
        for row in doc["ended"]
    ]
    print_table(
        output.out,
        [Col("sequence"), Col("step / outcome"), Col("contacts", "right")],
        rows,
        title="Enrollments",
    )
    d = doc["deliveries"]
    print_fitted(
        output.out,
        f"due now: {doc['due_contacts']} contact(s), {d.get('planned', 0)} planned deliveries\n"
        f"deliveries: sent {d.get('sent', 0)}, skipped {d.get('skipped', 0)}, "
        f"retrying {d.get('retry', 0)}, failed {d.get('failed', 0)}, "
        f"in flight {d.get('attempting', 0)}",
    )
    for title, problems in (("Retrying", doc["retrying"]), ("Failed", doc["failed"])):
        if not problems:
            continue
        print_table(
            output.out,
            [Col("contact"), Col("sequence"), Col("step"), Col("channel"),
             Col("attempts", "right"), Col("error", wrap=True)],
            [
                [cell(p["contact_id"]), cell(p["sequence"]), cell(p["step"]), cell(p["channel"]),
                 cell(p["attempts"]), cell(p["error"])]
                for p in problems
            ],
            title=title,
        )  # fmt: skip
    if doc["held"]:
        print_table(
            output.out,
            [Col("contact"), Col("sequence"), Col("step"), Col("reason", wrap=True)],
            [
                [cell(h["contact_id"]), cell(h["sequence"]), cell(h["step"]), cell(h["reason"])]
                for h in doc["held"]
            ],
            title=f"Held: {doc['held_total']} (fail for the contact's data; tried again when "
            "the data or the project changes)",
        )
    for p in doc["paused"]:
        print_fitted(
            output.out, f"paused: {p['sequence']} ({p['holding']} contact(s) holding their place)"
        )
    run = doc["last_run"]
    if run is not None:
        started, clock = run["started_at"], run["now"]
        # A run given --now (a backfill, the tutorial) has a clock other than when it ran;
        # the clock is what `due now` and `plan` count from, so say both.
        pinned = (
            started is not None
            and clock is not None
            and abs(datetime.fromisoformat(clock) - datetime.fromisoformat(started))
            >= timedelta(minutes=1)
        )
        print_fitted(
            output.out,
            f"last run: {minute(started, tz_name)} (exit {run['exit_code']}, "
            f"{run['delivered']} delivered, {run['failed']} failed)",
        )
        if pinned:
            output.out.print(f"  its clock: {minute(clock, tz_name)} (--now)", markup=False)


def messages_doc(rows: list[Stored], project_tz: str) -> list[dict[str, Any]]:
    """SPEC §4: the simulate message fields plus message_id and delivered_at, in the contact's
    zone (the project's when the contact has none or an invalid one); `status` is what delivery
    made of the message (sent, failed, retrying, skipped, pending, attempting), with `attempts`,
    `next_attempt_at` and the channel's `error` (docs/run.md)."""
    from journeyctl.engine.timing import zone

    return [stored_dict(r, zone(r.timezone, project_tz)) for r in rows]


def write_messages_json(
    rows: Iterable[Stored], project_tz: str, write: Callable[[str], object]
) -> None:
    """`messages --format json` written as the rows come: the bytes of
    `json_safe(json.dumps(messages_doc(rows, project_tz), ensure_ascii=False, indent=2))` and a
    newline, one message at a time (a JSON string holds no raw newline, so indenting each
    message's lines by two spaces is what the whole list's indent gives)."""
    from journeyctl.engine.timing import zone

    sep = "[\n  "
    for r in rows:
        text = json.dumps(
            stored_dict(r, zone(r.timezone, project_tz)), ensure_ascii=False, indent=2
        )
        write(sep + json_safe(text.replace("\n", "\n  ")))
        sep = ",\n  "
    write("[]\n" if sep.startswith("[") else "\n]\n")


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


def render_messages(
    output: Output, doc: list[dict[str, Any]], *, only_sent: bool, project_tz: str | None = None
) -> None:
    """Times to the minute, in the contact's zone (its offset shown when it is not the
    project's); `messages --format json` has them in full."""
    from journeyctl.cli.tables import Col, minute, print_table
    from journeyctl.reporting.story import delivery_note

    def at(iso: str | None) -> str:
        return minute(iso, project_tz)

    head = [Col("at"), Col("contact"), Col("sequence"), Col("step"), Col("channel")]
    rows: list[list[str]] = []
    if only_sent:
        columns = [*head, Col("subject", wrap=True), Col("delivered")]
        for m in doc:
            rows.append([
                at(m["at"]), cell(m["contact_id"]), cell(m["sequence"]), cell(m["step"]),
                cell(m["channel"]), cell(m["subject"]), at(m["delivered_at"]),
            ])  # fmt: skip
    else:
        columns = [*head, Col("status"), Col("detail", wrap=True)]
        for m in doc:
            note = delivery_note(
                m["status"], m["attempts"], at(m["delivered_at"]) or None,
                at(m["next_attempt_at"]) or None, m["error"],
            )  # fmt: skip
            detail = "; ".join(x for x in (m["reason"], note) if x)
            rows.append([
                at(m["at"]), cell(m["contact_id"]), cell(m["sequence"]), cell(m["step"]),
                cell(m["channel"]), cell(m["status"]), cell(detail),
            ])  # fmt: skip
    print_table(output.out, columns, rows)
    output.out.print(f"{len(doc)} message(s)", markup=False)
