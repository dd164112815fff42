"""Renderings of a `run`: the one-line summary cron mails, and the stable JSON document
(run.summary, shared with the idle minute), plus the dry run's messages."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.run import summary
from journeyctl.run.once import RunResult


def run_doc(result: RunResult, tz: str) -> dict[str, Any]:
    """`run --format json` (stable): counts of this tick; with --dry-run also the messages."""
    r = result.report
    imp = result.imported
    doc = summary.run_doc(
        result.now, tz, dry_run=result.dry_run, locked=result.locked,
        imported={
            "contacts": imp.contacts_seen, "contacts_new": imp.contacts_new,
            "events": imp.events_seen, "events_new": imp.events_new,
        },
        inputs=result.inputs, counts=r.counts() if r else None,
        errors=r.errors if r else (), exit_code=int(result.exit_code),
        by_sequence=r.by_sequence if r else None,
    )  # fmt: skip
    if result.dry_run and r is not None:
        from journeyctl.reporting.timeline import message_dict

        zone = ZoneInfo(tz)
        doc["messages"] = [message_dict(m, zone) for m in r.messages]
    return doc


def run_json(result: RunResult, tz: str) -> str:
    return summary.run_json(run_doc(result, tz))


def run_line(result: RunResult, tz: str) -> str:
    return summary.run_line(run_doc(result, tz))
