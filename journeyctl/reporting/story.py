"""One contact's story for `explain`: decisions with their inputs, messages, enrollments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.engine.model import Decision, Enrollment, Message
from journeyctl.reporting.timeline import enrollment_dict, message_dict


def delivery_note(
    status: str,
    attempts: int,
    delivered_at: str | None,
    next_attempt_at: str | None,
    error: str | None,
) -> str:
    """What the channel did with a message, in words (times already formatted):
    `delivered 2026-11-02 10:05 KST`, `failed after 1 attempt(s): HTTP 400 ...`, ..."""
    if status == "sent":
        return f"delivered {delivered_at}" if delivered_at else "delivered"
    if status == "failed":
        tried = f" after {attempts} attempt(s)" if attempts else ""
        return f"failed{tried}: {error}" if error else f"failed{tried}"
    if status == "retrying":
        note = f"attempt {attempts} failed: {error or 'unknown error'}"
        return note + (f"; next attempt {next_attempt_at}" if next_attempt_at else "")
    if status == "pending":
        return "decided, not yet handed to its channel"
    if status == "attempting":
        return f"being delivered (attempt {attempts})"
    return ""


def story(
    contact_id: str,
    tz: ZoneInfo,
    decisions: list[Decision],
    messages: list[Message],
    enrollments: list[Enrollment],
    deliveries: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """`deliveries` (explain --db): per message key, the delivery fields merged into that
    message (status, delivered_at, attempts, next_attempt_at, error; docs/run.md)."""
    return {
        "contact_id": contact_id,
        "timezone": tz.key,
        "decisions": [
            {
                "at": d.at.astimezone(tz).isoformat(),
                "sequence": d.sequence,
                "kind": d.kind,
                "detail": d.detail,
                "inputs": {k: _plain(v) for k, v in d.inputs},
            }
            for d in decisions
        ],
        "messages": [
            {**message_dict(m, tz), **(deliveries.get(m.key, {}) if deliveries else {})}
            for m in sorted(messages, key=lambda m: m.at)
        ],
        "enrollments": [enrollment_dict(e, tz) for e in enrollments],
    }


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)


def story_text(doc: dict[str, Any]) -> str:
    lines = [f"Contact {doc['contact_id']} ({doc['timezone']})"]
    if not doc["decisions"]:
        lines.append("  nothing happened: no trigger matched in the period")
    for d in doc["decisions"]:
        seq = f"[{d['sequence']}] " if d["sequence"] else ""
        lines.append(
            f"  {d['at'][:16].replace('T', ' ')}  {seq}{d['kind']}: {d['detail']}".rstrip(": ")
        )
        for k, v in d["inputs"].items():
            lines.append(f"      {k} = {v!r}")
    lines.append("Enrollments:")
    for e in doc["enrollments"]:
        end = f" -> {e['outcome']}" + (f" ({e['reason']})" if e["reason"] else "")
        entered = e["entered_at"][:16].replace("T", " ")  # to the minute, as the story's lines
        lines.append(f"  {e['sequence']}: entered {entered}{end}")
    if not doc["enrollments"]:
        lines.append("  none")
    return "\n".join(lines)
