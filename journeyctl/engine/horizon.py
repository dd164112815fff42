"""How long a segment condition is certain to keep its value, so checks that cannot change
anything are skipped.

A segment trigger is checked on its cron (win-back: every day at 09:00) and enrolls on the
edge false -> true. While a contact's facts (its events, messages and attributes) stay the same,
the value can change only through time: `now`, `days_since(...)` crossing midnight and
`event_count(..., within=...)` losing an event that ages out. A condition is compiled (like
engine.fastexpr) to Python that returns its value together with a *horizon*: a time before
which, facts unchanged, the value is certainly the same. Checks before the horizon would read
the same value and enroll nobody, so the engine does not wake the contact for them.

The horizon is the earliest time any part the evaluation read may change (`now`: at once);
`days_since(x) <op> N` is refined to the one day it flips. Anything not understood makes the
whole condition fall back to a check at every cron fire. Tests compare the horizon, check by
check, with plain evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

from jinja2 import nodes
from jinja2.exceptions import UndefinedError

from journeyctl.engine.facts import NEVER, Facts
from journeyctl.engine.fastexpr import BIN, CMP, Unsupported, ga, gi, to_python
from journeyctl.engine.model import ContactState, SegmentHorizon
from journeyctl.engine.timing import at_local
from journeyctl.spec.expressions import find_all, parse_expr

# Local midnights are taken this much early: clocks that jump around midnight in some zone
# must never make a date change later than the horizon says.
_MIDNIGHT_MARGIN: Final = timedelta(hours=3)
_HELPERS: Final = frozenset(
    {"days_since", "event_count", "last_event", "opened", "clicked", "sent"}
)
_FLIPPING: Final = ("eq", "ne", "gt", "gteq", "lt", "lteq")

# (value, horizon, what the evaluation read: READ_* bits and one bit per event name)
Valued = tuple[Any, datetime, int]
READ_MESSAGES: Final = 1
READ_ANY_EVENT: Final = 2  # an event name not known when compiling
_FIRST_NAME_BIT: Final = 4
_EVENT_READERS: Final = {"event_count", "last_event"}  # first argument: the event name
_RESPONSES: Final = {"opened", "clicked"}  # read events of that name and the messages they answer


@lru_cache(maxsize=4096)
def _local_midnight(today: date, days: int, tz: ZoneInfo) -> datetime:
    """The start of the day `days` after `today` in `tz`, early by the margin."""
    return at_local(today + timedelta(days=days), time(0), tz) - _MIDNIGHT_MARGIN


def next_midnight(facts: Facts) -> datetime:
    """When `days_since` may next change (the start of tomorrow, early by the margin)."""
    return _local_midnight(facts.today(), 1, facts.tz)


def days_flip(facts: Facts, ds: int, c: float) -> datetime:
    """When `days_since(x) <op> c`, now `ds` days, may next change: a count of days compared
    with `c` changes value only as it reaches one of these (it only grows with the clock)."""
    low = int(c) if float(c).is_integer() else math.floor(c)  # it flips at low or low + 1
    if ds < low:
        nxt = low
    elif ds < low + 1:
        nxt = low + 1
    else:
        return NEVER
    return _local_midnight(facts.today(), nxt - ds, facts.tz)


def _dynamic(node: nodes.Node) -> bool:
    """Whether the value may depend on time or on the contact's events and messages."""
    return bool(find_all(node, nodes.Call)) or any(
        n.name == "now" for n in find_all(node, nodes.Name)
    )


class _Gen:
    """Emits the statements of `def _h(_s, F)`: temps `_vN`, horizon accumulated in `h`."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.n = 0
        self.names: dict[str, int] = {}  # event name -> its read bit

    def reads(self, node: nodes.Call, name: str) -> int:
        """The read bits of a helper call: which events (by name) and whether messages."""
        if name == "sent":
            return READ_MESSAGES
        if name in _RESPONSES:
            event: object = name
        else:
            first = node.args[0] if node.args else None
            event = first.value if isinstance(first, nodes.Const) else None
        if not isinstance(event, str):
            return READ_ANY_EVENT
        bit = self.names.setdefault(event, _FIRST_NAME_BIT << len(self.names))
        return bit | (READ_MESSAGES if name in _RESPONSES else 0)

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def temp(self) -> str:
        self.n += 1
        return f"_v{self.n}"

    def lower(self, h: str, depth: int) -> None:
        self.emit(depth, f"if {h} < h: h = {h}")

    def expr(self, node: nodes.Node, depth: int) -> str:
        if not _dynamic(node):
            return to_python(node)  # reads only constants and the contact: never changes
        if isinstance(node, nodes.Name):  # `now`, the only dynamic name
            self.lower("F.t", depth)  # may change at once
            return "F.now()"
        if isinstance(node, nodes.Getattr):
            return f"ga({self.expr(node.node, depth)}, {node.attr!r})"
        if isinstance(node, nodes.Getitem):
            return f"gi({self.expr(node.node, depth)}, {self.expr(node.arg, depth)})"
        if isinstance(node, nodes.And | nodes.Or):
            v = self.temp()
            self.emit(depth, f"{v} = {self.expr(node.left, depth)}")
            self.emit(depth, f"if {'not ' if isinstance(node, nodes.Or) else ''}{v}:")
            self.emit(depth + 1, f"{v} = {self.expr(node.right, depth + 1)}")
            return v
        if isinstance(node, nodes.Not):
            return f"(not {self.expr(node.node, depth)})"
        if isinstance(node, nodes.Neg):
            return f"(-{self.expr(node.node, depth)})"
        if type(node) in BIN:
            assert isinstance(node, nodes.BinExpr)
            left = self.expr(node.left, depth)
            return f"({left} {BIN[type(node)]} {self.expr(node.right, depth)})"
        if isinstance(node, nodes.Compare):
            return self.compare(node, depth)
        if isinstance(node, nodes.Call):
            return self.call(node, depth)
        if isinstance(node, nodes.Test) and node.name in ("none", "true", "false"):
            if node.args:
                raise Unsupported
            value = {"none": "None", "true": "True", "false": "False"}[node.name]
            return f"({self.expr(node.node, depth)} is {value})"
        if isinstance(node, nodes.Tuple | nodes.List):
            return "(" + "".join(f"{self.expr(i, depth)}, " for i in node.items) + ")"
        if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
            v = self.temp()
            self.emit(depth, f"if {self.expr(node.test, depth)}:")
            self.emit(depth + 1, f"{v} = {self.expr(node.expr1, depth + 1)}")
            self.emit(depth, "else:")
            self.emit(depth + 1, f"{v} = {self.expr(node.expr2, depth + 1)}")
            return v
        raise Unsupported

    def compare(self, node: nodes.Compare, depth: int) -> str:
        if any(op.op not in CMP for op in node.ops):
            raise Unsupported
        call, right = node.expr, node.ops[0].expr
        if (
            len(node.ops) == 1
            and node.ops[0].op in _FLIPPING
            and isinstance(call, nodes.Call)
            and isinstance(call.node, nodes.Name)
            and call.node.name == "days_since"
            and len(call.args) == 1
            and not call.kwargs
            and call.dyn_args is None
            and call.dyn_kwargs is None
            and not _dynamic(call.args[0])
            and isinstance(right, nodes.Const)
            and isinstance(right.value, int | float)
            and not isinstance(right.value, bool)
            and math.isfinite(right.value)
        ):
            # `days_since(x) >= 30`: flips on one known day, not at every midnight.
            v = self.temp()
            self.emit(depth, f"{v} = F.days_since({to_python(call.args[0])})")
            self.emit(depth, f"if {v} is not None:")
            self.emit(depth + 1, f"_x = days_flip(F, {v}, {right.value!r})")
            self.lower("_x", depth + 1)
            return f"({v} {CMP[node.ops[0].op]} {right.value!r})"
        parts = [self.expr(node.expr, depth)]
        for op in node.ops:
            parts.append(f"{CMP[op.op]} {self.expr(op.expr, depth)}")
        return "(" + " ".join(parts) + ")"

    def call(self, node: nodes.Call, depth: int) -> str:
        if (
            not isinstance(node.node, nodes.Name)
            or node.node.name not in _HELPERS
            or node.dyn_args is not None
            or node.dyn_kwargs is not None
        ):
            raise Unsupported
        name = node.node.name
        if name != "days_since":  # only the parts evaluated count (`and`/`or` cut short)
            self.emit(depth, f"r |= {self.reads(node, name)}")
        args = [self.expr(a, depth) for a in node.args]
        if (
            name == "event_count"
            and len(node.args) == 1
            and [k.key for k in node.kwargs] == ["within"]
        ):
            # `within` positionally: a keyword call into compiled code parses its names
            args.append(self.expr(node.kwargs[0].value, depth))
        else:
            args += [f"{k.key}={self.expr(k.value, depth)}" for k in node.kwargs]
        v = self.temp()
        if name == "event_count":
            self.emit(depth, f"{v}, _x = F.event_count_until({', '.join(args)})")
            self.lower("_x", depth)
        else:
            self.emit(depth, f"{v} = F.{name}({', '.join(args)})")
        if name == "days_since":
            self.emit(depth, f"if {v} is not None:")
            self.emit(depth + 1, "_x = next_midnight(F)")
            self.lower("_x", depth + 1)
        return v


class Horizon:
    """A condition compiled for (value, horizon, reads). `reads` tells which of the contact's
    growing facts this evaluation looked at: a part cut short by `and`/`or` read nothing, and
    `event_count('purchased')` reads only purchases. While those stay the same, so does the
    value (until the horizon)."""

    def __init__(
        self, fn: Callable[[dict[str, Any], Facts], Valued], names: dict[str, int]
    ) -> None:
        self._fn = fn
        self._names = names
        self._read_names: dict[int, frozenset[str] | None] = {}

    def __call__(self, scope: dict[str, Any], facts: Facts) -> Valued:
        try:
            return self._fn(scope, facts)
        except KeyError as exc:
            name = exc.args[0] if exc.args else None
            if isinstance(name, str) and name not in scope:
                raise UndefinedError(f"{name!r} is undefined") from None
            raise

    def event_names(self, reads: int) -> frozenset[str] | None:
        """The names of the events an evaluation read (None: any event)."""
        names = self._read_names.get(reads, ())
        if names == ():
            names = self._read_names[reads] = (
                None
                if reads & READ_ANY_EVENT
                else frozenset(n for n, bit in self._names.items() if reads & bit)
            )
        return names  # type: ignore[return-value]

    def snapshot(
        self, state: ContactState, reads: int, horizon: datetime, skip_to: datetime | None
    ) -> SegmentHorizon:
        """The horizon, with the facts an evaluation with these reads depended on, as of now."""
        return SegmentHorizon(
            state.contact,
            len(state.events),
            self._named(state, reads),
            len(state.messages) if reads & READ_MESSAGES else -1,
            reads,
            horizon,
            skip_to,
        )

    def unchanged(self, state: ContactState, snap: SegmentHorizon) -> bool:
        """Whether the facts `snap` depends on are the same (brought up to date when events
        it did not read were added). Events only ever get added, so counts tell what changed."""
        if snap.contact is not state.contact and snap.contact != state.contact:
            return False
        if snap.n_messages != -1 and snap.n_messages != len(state.messages):
            return False
        n_events = len(state.events)
        if snap.n_events == n_events:
            return True
        if self._named(state, snap.reads) != snap.n_named:
            return False
        snap.n_events = n_events
        return True

    def _named(self, state: ContactState, reads: int) -> int:
        names = self.event_names(reads)
        if names is None:
            return len(state.events)
        return sum(1 for e in state.events if e.name in names) if names else 0


@lru_cache(maxsize=4096)
def horizon_compile(source: str) -> Horizon | None:
    """The condition compiled for (value, horizon), or None when the form is not understood."""
    try:
        tree = parse_expr(source)
        gen = _Gen()
        value = gen.expr(tree, 1)
    except (Unsupported, AssertionError):
        return None
    except Exception:
        return None  # syntax errors are reported by validate
    body = "\n".join(
        ["def _h(_s, F):", "    h = NEVER", "    r = 0", *gen.lines, f"    return {value}, h, r"]
    )
    scope: dict[str, Any] = {
        "__builtins__": {},
        "NEVER": NEVER,
        "ga": ga,
        "gi": gi,
        "days_flip": days_flip,
        "next_midnight": next_midnight,
    }
    exec(compile(body, "<horizon>", "exec"), scope)
    return Horizon(scope["_h"], gen.names)
