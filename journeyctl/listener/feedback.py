"""`POST /v1/feedback`: bounces and complaints from the sending provider, one generic shape.

    {"type": "bounce" | "complaint",     required
     "message_id": "…",                   the Message-ID journeyctl sent, or its key
     "contact_id": "…", "email": "…",     when there is no message id (one of the three)
     "permanent": true,                   bounces: hard (default) or soft
     "at": "2026-11-02T10:00:00+09:00",   optional, default: when received
     "reason": "550 5.1.1 user unknown"}  optional, kept on the event

A hard bounce records `bounced` (suppresses every later message to the contact, SPEC §2), a
soft one `soft_bounced` (kept for `explain`, suppresses nothing), a complaint `complained`
(suppresses marketing). Each names the message, so `report` attributes it. docs/run.md maps
the common providers' webhooks to this shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from journeyctl.data.convert import datetime_parser
from journeyctl.engine.model import Event
from journeyctl.listener import record
from journeyctl.listener.ingest import BadBody, ItemError, split_items

if TYPE_CHECKING:
    from journeyctl.store.open import OpenStore

# `<key@domain>` as mime.message_id writes it: the key is the part before the @.
_MESSAGE_ID: Final = re.compile(r"<?([0-9a-f]{32})(?:@[^>]*)?>?")
_KEYS: Final = frozenset({"type", "message_id", "contact_id", "email", "permanent", "at", "reason"})


@dataclass(frozen=True)
class Feedback:
    index: int
    event: str  # bounced | soft_bounced | complained
    message_id: str | None
    contact_id: str | None
    email: str | None
    at: datetime | None
    reason: str | None


def parse(body: bytes, timezone: str) -> list[Feedback]:
    """The items of a body, or BadBody with every problem located (index, field, reason)."""
    parse_at = datetime_parser(ZoneInfo(timezone))
    out: list[Feedback] = []
    errors: list[ItemError] = []
    for i, text in enumerate(split_items(body)):
        try:
            obj = json.loads(text)
        except ValueError as exc:
            errors.append(ItemError(i, None, f"not JSON: {exc}", "bad-json"))
            continue
        if not isinstance(obj, dict):
            errors.append(ItemError(i, None, "expected a JSON object", "bad-json"))
            continue
        before = len(errors)
        for key in obj:
            if key not in _KEYS:
                errors.append(ItemError(i, key, "unknown field", "bad-feedback"))
        kind = obj.get("type")
        if kind not in ("bounce", "complaint"):
            errors.append(
                ItemError(i, "type", f"{kind!r} is not bounce or complaint", "bad-feedback")
            )
        strings: dict[str, str | None] = {}
        for key in ("message_id", "contact_id", "email", "reason", "at"):
            value = obj.get(key)
            if value is not None and not isinstance(value, str):
                errors.append(ItemError(i, key, "expected a string", "bad-feedback"))
                value = None
            strings[key] = value.strip() if value else None
        mid = strings["message_id"]
        if mid is not None:
            m = _MESSAGE_ID.fullmatch(mid)
            if m is None:
                errors.append(
                    ItemError(
                        i, "message_id", f"{mid!r} is no journeyctl message id", "bad-feedback"
                    )
                )
            mid = m.group(1) if m else None
        if not (strings["message_id"] or strings["contact_id"] or strings["email"]):
            errors.append(
                ItemError(i, None, "name the message_id, contact_id or email", "bad-feedback")
            )
        permanent = obj.get("permanent", True)
        if not isinstance(permanent, bool):
            errors.append(ItemError(i, "permanent", "expected true or false", "bad-feedback"))
        at = None
        if strings["at"] is not None:
            try:
                at = parse_at(strings["at"])
            except (ValueError, OverflowError):
                errors.append(
                    ItemError(i, "at", f"{strings['at']!r} is not a date-time", "bad-datetime")
                )
        if len(errors) > before:
            continue
        event = "complained" if kind == "complaint" else "bounced" if permanent else "soft_bounced"
        out.append(
            Feedback(i, event, mid, strings["contact_id"], strings["email"], at, strings["reason"])
        )
    if errors:
        raise BadBody(errors)
    return out


def job(items: list[Feedback], now: datetime) -> Callable[[OpenStore], int]:
    """A job: resolve each item's contact and record its event (all or nothing), once per
    contact, event and properties (a repeated delivery of the same feedback changes nothing)."""

    def run(store: OpenStore) -> int:
        events: list[Event] = []
        errors: list[ItemError] = []
        for f in items:
            cid = f.contact_id
            if cid is None and f.message_id is not None:
                cid = record.contact_of_message(store, f.message_id)
            if cid is None and f.email is not None:
                cid = record.contact_by_email(store, f.email)
            if cid is None or not store.known_contacts([cid]):
                field = "contact_id" if f.contact_id else "message_id" if f.message_id else "email"
                errors.append(
                    ItemError(f.index, field, "no such contact or message", "unknown-contact")
                )
                continue
            props: list[tuple[str, Any]] = [("source", "feedback")]
            if f.message_id is not None:
                props.append(("message_id", f.message_id))
            if f.reason:
                props.append(("reason", f.reason))
            events.append(Event(cid, f.event, f.at or now, tuple(sorted(props))))
        if errors:
            raise BadBody(errors)
        return record.add_once(store, events)  # providers resend: SendGrid up to 46 times

    return run
