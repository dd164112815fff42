"""What `explain` is told: the decisions recorded on a contact whose `trace` is on."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.engine.fastexpr import reads
from journeyctl.engine.model import ContactState, Decision


def note(
    state: ContactState,
    t: datetime,
    seq: str | None,
    kind: str,
    detail: str,
    inputs: tuple[tuple[str, Any], ...] = (),
) -> None:
    if state.trace is not None:
        state.trace.append(Decision(t, seq, kind, detail, inputs))


def _seen(source: str, cv: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The contact values an expression read, for `explain`."""
    r = reads(source)
    return tuple((f"contact.{n}", cv.get(n)) for n in (r.contact if r is not None else ()))


def inputs(
    state: ContactState,
    labelled: tuple[str, Any],
    source: str,
    cv: dict[str, Any],
    *extra: tuple[str, Any],
) -> tuple[tuple[str, Any], ...]:
    """Inputs recorded with a decision; the expression is parsed only when explaining."""
    if state.trace is None:
        return ()
    return (labelled, *extra, *_seen(source, cv))


def hm(t: datetime, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
