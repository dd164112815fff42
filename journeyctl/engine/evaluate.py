"""A condition's value for one contact at one instant: the compiled expression (engine.fastexpr)
run over the contact's facts, with a memo for those that read the contact alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.engine.event_scope import EventFields
from journeyctl.engine.facts import Facts, Scope
from journeyctl.engine.fastexpr import contact_only, fast_compile, reads_event
from journeyctl.engine.horizon import Horizon
from journeyctl.engine.model import ContactState, Enrollment, Event
from journeyctl.engine.trace import note
from journeyctl.spec.expressions import compile_expr
from journeyctl.spec.templates import Record


class _Expr:
    """What `Evaluator.value` asks about an expression, asked once rather than in three
    cached calls each time."""

    def __init__(self, source: str) -> None:
        self.fast = fast_compile(source)
        self.contact_only = contact_only(source)
        self.reads_event = reads_event(source)


class Evaluator:
    """The engine's expressions, each compiled once, and the contact-only values of the
    contact being walked."""

    def __init__(self, event_fields: EventFields | None = None) -> None:
        self.event_fields = event_fields  # declared event property types (None: all text)
        self._exprs: dict[str, _Expr] = {}
        self._memo_of: dict[str, Any] | None = None  # see _contact_memo
        self._memo: dict[str, Any] = {}
        # The last event's value (see event_value): an event-triggered sequence's sends and
        # conditions read the same triggering event, one message after another.
        self._event: Event | None = None
        self._event_tz: ZoneInfo | None = None
        self._event_value: dict[str, Any] = {}

    def value(
        self,
        source: str,
        state: ContactState,
        t: datetime,
        enr: Enrollment | None,
        cv: dict[str, Any],
        tz: ZoneInfo,
        *,
        event: Event | None = None,
    ) -> Any:
        known = self._exprs.get(source)
        if known is None:
            known = self._exprs[source] = _Expr(source)
        memo = None
        if known.contact_only:  # e.g. every audience of the stock library (reads no event)
            memo = self._contact_memo(cv)
            if source in memo:
                return memo[source]
        values: dict[str, Any] = {"contact": cv}
        if event is not None and known.reads_event:
            values["event"] = self.event_value(event, tz)
        scope = Scope(Facts(state, t, enr, tz), values)
        fast = known.fast
        try:
            value = fast(scope) if fast is not None else compile_expr(source)(**scope.complete())
            if memo is not None:
                memo[source] = value
            return value
        except Exception as exc:
            # A contact whose data breaks an expression (e.g. an empty date compared with a
            # number, `days_since(last_event('purchased')) < 7` before any purchase) must
            # not stop everyone else: the condition is false, and explain says why.
            note(
                state,
                t,
                enr.sequence if enr else None,
                "expression-error",
                f"{source}: {type(exc).__name__}: {exc}",
            )
            return None

    def event_value(self, event: Event, tz: ZoneInfo) -> dict[str, Any]:
        """`event` as templates see it (the same value conditions see). The same object for
        the same event in the same zone, asked again: events are immutable, and templates
        (the immutable sandbox) and conditions (helpers are their only calls) cannot change
        the value, so its properties are parsed once rather than at every message."""
        if event is self._event and tz is self._event_tz:
            return self._event_value
        fields = self.event_fields
        if fields is not None:
            value: dict[str, Any] = fields.value(event, tz)
        else:
            value = Record({"name": event.name, "at": event.at.astimezone(tz), **dict(event.props)})
        self._event, self._event_tz, self._event_value = event, tz, value
        return value

    def _contact_memo(self, cv: dict[str, Any]) -> dict[str, Any]:
        """Values of contact-only expressions for the contact being walked (`cv`)."""
        if self._memo_of is not cv:
            self._memo_of, self._memo = cv, {}
        return self._memo

    def until(
        self,
        evaluate: Horizon,
        source: str,
        state: ContactState,
        t: datetime,
        cv: dict[str, Any],
        tz: ZoneInfo,
    ) -> tuple[Any, datetime | None, int]:
        """A segment condition's value, its horizon (None: unknown, check every time) and
        which facts it read (engine.horizon)."""
        try:
            return evaluate({"contact": cv}, Facts(state, t, None, tz))
        except Exception:
            return self.value(source, state, t, None, cv, tz), None, 0  # notes the error
