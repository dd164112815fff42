"""The summary of a `run`: the one-line text cron mails and the stable JSON document.

One renderer for both ways a run ends: the full tick (cli.run_render hands it a RunResult's
values) and the idle minute (run.idle, before the project is loaded). Stdlib only, and json
imported only when asked for: the idle minute imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

TYPE_CHECKING = False  # typing itself is not imported (the idle minute imports this module)
if TYPE_CHECKING:
    from typing import Any

    from journeyctl.run.imports import InputReport

# What a tick counts, in the order the JSON document lists them (TickReport's fields).
COUNTS = ("contacts", "decided", "skipped", "delivered", "retrying", "failed", "recovered")
# What a tick counts per sequence (`sequences` in the JSON document, the run line's breakdown).
SEQUENCE_COUNTS = ("decided", "skipped", "delivered", "failed")
_IMPORTED = {"contacts": 0, "contacts_new": 0, "events": 0, "events_new": 0}


def run_doc(
    now: datetime,
    tz: str,
    *,
    dry_run: bool = False,
    locked: bool = False,
    imported: Mapping[str, int] = _IMPORTED,
    inputs: Sequence[InputReport] = (),
    counts: Mapping[str, int] | None = None,
    errors: Sequence[str] = (),
    exit_code: int = 0,
    by_sequence: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, Any]:
    """`run --format json` (stable) without the dry run's messages; the defaults are a tick
    that imported nothing and did nothing."""
    doc: dict[str, Any] = {
        "now": now.astimezone(ZoneInfo(tz)).isoformat(),
        "dry_run": dry_run,
        "locked": locked,
        "imported": {k: imported[k] for k in _IMPORTED},
        "rejected": rejected_doc(inputs),
        "held_back": held_back_doc(inputs),
    }
    doc.update({c: (counts or {}).get(c, 0) for c in COUNTS})
    doc["sequences"] = {
        name: {c: row.get(c, 0) for c in SEQUENCE_COUNTS}
        for name, row in sorted((by_sequence or {}).items())
    }
    doc["errors"] = list(errors)
    doc["exit_code"] = exit_code
    return doc


def run_json(doc: Mapping[str, Any]) -> str:
    import json

    return json.dumps(doc, ensure_ascii=False, indent=2)


def run_line(d: Mapping[str, Any]) -> str:
    """The one line cron mails, from run_doc's document."""
    imp = d["imported"]
    parts = [
        f"{'dry run' if d['dry_run'] else 'run'} at {minute_text(d['now'])}:",
        f"{d['contacts']} contact(s) advanced,",
        f"{d['decided']} to send, {d['skipped']} skipped,",
        f"{d['delivered']} delivered, {d['retrying']} retrying, {d['failed']} failed",
    ]
    if d["recovered"]:
        parts.append(f"({d['recovered']} interrupted deliveries recovered)")
    breakdown = _by_sequence(d.get("sequences") or {})
    if breakdown:
        parts.append(f"; by sequence: {breakdown}")
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


def minute_text(iso: str) -> str:
    """`2026-11-02T10:05:43.564389+09:00` as `2026-11-02 10:05 +09:00`: the line is read by
    people (cron mail); `--format json` keeps the full precision."""
    if len(iso) < 16 or iso[10] != "T":
        return iso
    offset = iso[19:].lstrip("0123456789.:")[-6:] if len(iso) > 19 else ""
    return f"{iso[:10]} {iso[11:16]}" + (f" {offset}" if offset else "")


def _by_sequence(rows: Mapping[str, Mapping[str, int]]) -> str:
    """`win-back 1508 to send (1508 delivered), welcome 3 to send (2 delivered, 1 failed)`:
    the sequences that did something, the busiest first."""
    said = []
    for name, row in sorted(rows.items(), key=lambda kv: (-kv[1].get("decided", 0), kv[0])):
        extra = [f"{row[k]} {k}" for k in ("delivered", "skipped", "failed") if row.get(k)]
        if not row.get("decided") and not extra:
            continue
        said.append(
            f"{name} {row.get('decided', 0)} to send" + (f" ({', '.join(extra)})" if extra else "")
        )
    return ", ".join(said)


def rejected_doc(reports: Sequence[InputReport]) -> dict[str, Any]:
    """`rejected` in the JSON documents: rows left out of files that were imported."""
    return {
        "contacts": sum(r.rejected for r in reports if r.kind == "contacts"),
        "events": sum(r.rejected for r in reports if r.kind == "events"),
        "events_unknown_contact": sum(r.unknown_contact for r in reports),
        "files": {r.kind: str(r.rejects) for r in reports if r.rejects is not None},
    }


def held_back_doc(reports: Sequence[InputReport]) -> list[dict[str, Any]]:
    """`held_back` in `run`'s JSON: files of which nothing was imported, and why."""
    return [
        {"kind": r.kind, "file": str(r.path), "rows": r.held_rows, "reason": r.held_back}
        for r in reports
        if r.held_back
    ]
