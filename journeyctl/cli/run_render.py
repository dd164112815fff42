"""Renderings of a `run`: the one-line summary cron mails, and the stable JSON document."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.cli.input_render import held_back_doc, rejected_doc
from journeyctl.executor import RunResult


def run_doc(result: RunResult, tz: str) -> dict[str, Any]:
    """`run --format json` (stable): counts of this tick; with --dry-run also the messages."""
    zone = ZoneInfo(tz)
    r = result.report
    doc: dict[str, Any] = {
        "now": result.now.astimezone(zone).isoformat(),
        "dry_run": result.dry_run,
        "locked": result.locked,
        "imported": {
            "contacts": result.imported.contacts_seen,
            "contacts_new": result.imported.contacts_new,
            "events": result.imported.events_seen,
            "events_new": result.imported.events_new,
        },
        "rejected": rejected_doc(result.inputs),
        "held_back": held_back_doc(result.inputs),
        "contacts": r.contacts if r else 0,
        "decided": r.decided if r else 0,
        "skipped": r.skipped if r else 0,
        "delivered": r.delivered if r else 0,
        "retrying": r.retrying if r else 0,
        "failed": r.failed if r else 0,
        "recovered": r.recovered if r else 0,
        "errors": list(r.errors) if r else [],
        "exit_code": int(result.exit_code),
    }
    if result.dry_run and r is not None:
        from journeyctl.reporting.timeline import message_dict

        doc["messages"] = [message_dict(m, zone) for m in r.messages]
    return doc


def run_json(result: RunResult, tz: str) -> str:
    return json.dumps(run_doc(result, tz), ensure_ascii=False, indent=2)


def run_line(result: RunResult, tz: str) -> str:
    d = run_doc(result, tz)
    imp = d["imported"]
    parts = [
        f"{'dry run' if d['dry_run'] else 'run'} at {d['now']}:",
        f"{d['contacts']} contact(s) advanced,",
        f"{d['decided']} to send, {d['skipped']} skipped,",
        f"{d['delivered']} delivered, {d['retrying']} retrying, {d['failed']} failed",
    ]
    if d["recovered"]:
        parts.append(f"({d['recovered']} interrupted deliveries recovered)")
    if imp["contacts"] or imp["events"]:
        parts.append(
            f"; imported {imp['contacts']} contact(s) ({imp['contacts_new']} new), "
            f"{imp['events']} event(s) ({imp['events_new']} new)"
        )
    rej = d["rejected"]
    left_out = [
        f"{n} {what}" for n, what in (
            (rej["contacts"], "contact row(s)"), (rej["events"], "event row(s)"),
            (rej["events_unknown_contact"], "event(s) of unknown contacts"),
        ) if n
    ]  # fmt: skip
    if left_out:
        parts.append(f"; rejected {', '.join(left_out)}")
    if d["held_back"]:
        parts.append(f"; held back {', '.join(h['file'] for h in d['held_back'])}")
    return " ".join(parts).replace(" ;", ";")
