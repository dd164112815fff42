"""One contact's story for `explain`: decisions with their inputs, messages, enrollments."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.engine.model import Decision, Enrollment, Message
from journeyctl.reporting.timeline import enrollment_dict, message_dict


def story(
    contact_id: str,
    tz: ZoneInfo,
    decisions: list[Decision],
    messages: list[Message],
    enrollments: list[Enrollment],
) -> dict[str, Any]:
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
        "messages": [message_dict(m, tz) for m in sorted(messages, key=lambda m: m.at)],
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
        lines.append(f"  {e['sequence']}: entered {e['entered_at'][:16]}{end}")
    if not doc["enrollments"]:
        lines.append("  none")
    return "\n".join(lines)
