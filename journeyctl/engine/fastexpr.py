"""The one compiler for the sandboxed expressions the engine evaluates (conditions, audiences,
`where`, segment horizons), and what each expression reads.

Jinja's compiled expression builds a template context per call. For the common subset —
names, constants, `contact.x`, comparisons, and/or/not, arithmetic, helper calls, `is none` —
the Jinja AST is translated to Python with the same semantics; any other node makes `compile`
refuse (None) and the caller keeps the sandbox (`spec.expressions.compile_expr`). The allowed
node types are the branches of `_Gen.expr`; tests/fuzz checks them against the sandbox.

Same semantics by construction where it matters for safety: only a present key of a plain
dict (not one of dict's own attribute names) is read directly; every other attribute or item
access, a missing name, and the arithmetic the sandbox bounds go through the sandbox's own
functions, so a miss yields the sandbox's Undefined and a private attribute is refused as
there. Only helpers may be called (no methods).

One generator, two outputs: `fast_compile` gives the value; `compile_tracking` (segment
horizons, engine.horizon) gives (value, horizon, read bits), emitting statements around the
parts that may change with time or the contact's events.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from jinja2 import nodes

from journeyctl.spec.expressions import (
    HELPERS,
    contact_attributes,
    environment,
    find_all,
    parse_expr,
)
from journeyctl.spec.templates import _check_binop

Evaluator = Callable[[Mapping[str, Any]], Any]

CMP: Final = {
    "eq": "==",
    "ne": "!=",
    "gt": ">",
    "gteq": ">=",
    "lt": "<",
    "lteq": "<=",
    "in": "in",
    "notin": "not in",
}
# operator -> (Python operator, whether the sandbox bounds it: `'a' * 10**9` must fail there)
BIN: Final = {
    nodes.Add: ("+", True),
    nodes.Sub: ("-", False),
    nodes.Mul: ("*", True),
    nodes.Div: ("/", False),
    nodes.FloorDiv: ("//", False),
    nodes.Mod: ("%", True),
}
_TESTS: Final = {"none": "None", "true": "True", "false": "False"}
# Dict attribute names: Jinja's `contact.items` is the method, not the key (sandbox path).
_DICT_ATTRS: Final = frozenset(a for a in dir(dict) if not a.startswith("_"))
_MISS: Final = object()

# Segment horizons (engine.horizon): the helpers the tracking output understands, the
# comparisons `days_since(x) <op> N` is refined for, and the read bits.
TRACKED_HELPERS: Final = frozenset(HELPERS)
_FLIPPING: Final = ("eq", "ne", "gt", "gteq", "lt", "lteq")
READ_MESSAGES: Final = 1
READ_ANY_EVENT: Final = 2  # an event name not known when compiling
_FIRST_NAME_BIT: Final = 4
_RESPONSES: Final = {"opened", "clicked"}  # read events of that name and the messages they answer


class Unsupported(Exception):
    pass


_env = environment()
_sandbox_getattr: Final = _env.getattr
_sandbox_getitem: Final = _env.getitem


def ga(obj: Any, name: str) -> Any:
    """`obj.name` as the sandbox computes it; a plain dict's present key directly (`name` is
    never one of dict's attributes: `_Gen` sends those to the sandbox)."""
    if type(obj) is dict:
        value = obj.get(name, _MISS)
        if value is not _MISS:
            return value
    return _sandbox_getattr(obj, name)


def gi(obj: Any, key: Any) -> Any:
    """`obj[key]` as the sandbox computes it; a plain dict's present key directly."""
    if type(obj) is dict:
        try:
            return obj[key]
        except (KeyError, TypeError):
            pass
    return _sandbox_getitem(obj, key)


def gn(scope: Mapping[str, Any], name: str) -> Any:
    """A name of the scope; a missing one is the sandbox's Undefined (fails when used)."""
    try:
        return scope[name]
    except KeyError:
        return _env.undefined(name=name)


def bop(op: str, left: Any, right: Any) -> Any:
    """An operator the sandbox bounds, with its check (a size over the limits fails first)."""
    _check_binop(op, left, right)
    if op == "+":
        return left + right
    if op == "*":
        return left * right
    return left % right


class _Gen:
    """Emits Python for an expression over the scope `_s`. Tracking (segment horizons): also
    the statements of `def _h(_s, F)`, with temps `_vN`, the horizon in `h`, read bits in `r`;
    a part that reads neither time nor the contact's facts is emitted as in plain mode."""

    def __init__(self, tracking: bool) -> None:
        self.tracking = tracking
        self.lines: list[str] = []
        self.n = 0
        self.names: dict[str, int] = {}  # event name -> its read bit (tracking)

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def temp(self) -> str:
        self.n += 1
        return f"_v{self.n}"

    def lower(self, h: str, depth: int) -> None:
        self.emit(depth, f"if {h} < h: h = {h}")

    def expr(self, node: nodes.Node, depth: int = 1) -> str:
        dynamic = self.tracking and _dynamic(node)
        if isinstance(node, nodes.Const):
            if not isinstance(node.value, str | int | float | bool | type(None)):
                raise Unsupported
            return repr(node.value)
        if isinstance(node, nodes.Name):
            if dynamic:  # `now`, the only dynamic name: may change at once
                self.lower("F.t", depth)
                return "F.now()"
            name = repr(node.name)  # a dict lookup when bound; gn binds it or gives Undefined
            return f"(_s[{name}] if {name} in _s else gn(_s, {name}))"
        if isinstance(node, nodes.Getattr):
            get = "_sandbox_getattr" if node.attr in _DICT_ATTRS else "ga"
            return f"{get}({self.expr(node.node, depth)}, {node.attr!r})"
        if isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Slice):
                raise Unsupported
            return f"gi({self.expr(node.node, depth)}, {self.expr(node.arg, depth)})"
        if isinstance(node, nodes.And | nodes.Or):
            if not dynamic:
                op = "and" if isinstance(node, nodes.And) else "or"
                return f"({self.expr(node.left, depth)} {op} {self.expr(node.right, depth)})"
            # only the parts evaluated count (`and`/`or` cut short): statements, not an operator
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
            sym, bounded = BIN[type(node)]
            left = self.expr(node.left, depth)
            right = self.expr(node.right, depth)
            return f"bop({sym!r}, {left}, {right})" if bounded else f"({left} {sym} {right})"
        if isinstance(node, nodes.Compare):
            if any(o.op not in CMP for o in node.ops):
                raise Unsupported
            refined = self.days_since_compare(node, depth) if dynamic else None
            if refined is not None:
                return refined
            parts = [self.expr(node.expr, depth)]
            for operand in node.ops:
                parts.append(f"{CMP[operand.op]} {self.expr(operand.expr, depth)}")
            return "(" + " ".join(parts) + ")"
        if isinstance(node, nodes.Call):
            return self.call(node, depth, dynamic)
        if isinstance(node, nodes.Test) and node.name in _TESTS and not node.args:
            if node.kwargs or node.dyn_args is not None or node.dyn_kwargs is not None:
                raise Unsupported
            return f"({self.expr(node.node, depth)} is {_TESTS[node.name]})"
        if isinstance(node, nodes.Tuple):
            return "(" + "".join(f"{self.expr(i, depth)}, " for i in node.items) + ")"
        if isinstance(node, nodes.List):
            return "[" + ", ".join(self.expr(i, depth) for i in node.items) + "]"
        if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
            if not dynamic:
                test, a, b = (self.expr(n, depth) for n in (node.test, node.expr1, node.expr2))
                return f"({a} if {test} else {b})"
            v = self.temp()
            self.emit(depth, f"if {self.expr(node.test, depth)}:")
            self.emit(depth + 1, f"{v} = {self.expr(node.expr1, depth + 1)}")
            self.emit(depth, "else:")
            self.emit(depth + 1, f"{v} = {self.expr(node.expr2, depth + 1)}")
            return v
        raise Unsupported

    def days_since_compare(self, node: nodes.Compare, depth: int) -> str | None:
        """`days_since(x) >= 30`: flips on one known day, not at every midnight."""
        call, right = node.expr, node.ops[0].expr
        if not (
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
            return None
        v = self.temp()
        self.emit(depth, f"{v} = F.days_since({self.expr(call.args[0], depth)})")
        self.emit(depth, f"if {v} is not None:")
        self.emit(depth + 1, f"_x = days_flip(F, {v}, {right.value!r})")
        self.lower("_x", depth + 1)
        return f"({v} {CMP[node.ops[0].op]} {right.value!r})"

    def call(self, node: nodes.Call, depth: int, dynamic: bool) -> str:
        # Only the helpers may be called: a method (`contact.tags.append(1)`) is the sandbox's.
        if (
            not isinstance(node.node, nodes.Name)
            or node.node.name not in HELPERS
            or node.dyn_args is not None
            or node.dyn_kwargs is not None
        ):
            raise Unsupported
        name = node.node.name
        if not dynamic:
            args = [self.expr(a, depth) for a in node.args]
            args += [f"{k.key}={self.expr(k.value, depth)}" for k in node.kwargs]
            return f"{self.expr(node.node, depth)}({', '.join(args)})"
        if name not in TRACKED_HELPERS:
            raise Unsupported
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


def _dynamic(node: nodes.Node) -> bool:
    """Whether the value may depend on time or on the contact's events and messages."""
    return bool(find_all(node, nodes.Call)) or any(
        n.name == "now" for n in find_all(node, nodes.Name)
    )


_GLOBALS: Final[dict[str, Any]] = {
    "ga": ga,
    "gi": gi,
    "gn": gn,
    "bop": bop,
    "_sandbox_getattr": _sandbox_getattr,
}


def _generate(source: str, tracking: bool) -> tuple[_Gen, str] | None:
    """The generator (its statements) and the value's Python, or None when not understood."""
    try:
        tree = parse_expr(source)
        gen = _Gen(tracking)
        return gen, gen.expr(tree)
    except (Unsupported, AssertionError):
        return None
    except Exception:
        return None  # syntax errors are reported by validate; the sandbox raises them at run time


def _code(source: str, name: str) -> Any:
    """Python's compile, quiet: `-1 is None` (from `-1 is none`) is valid, and its
    SyntaxWarning would otherwise reach the user's terminal."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        return compile(source, name, "exec")


@lru_cache(maxsize=4096)
def fast_compile(source: str) -> Evaluator | None:
    """A function evaluating `source` over a scope mapping, or None when the sandbox must."""
    made = _generate(source, tracking=False)
    if made is None:
        return None
    scope: dict[str, Any] = {"__builtins__": {}, **_GLOBALS}
    exec(_code(f"def _e(_s):\n    return {made[1]}", "<expression>"), scope)
    fn: Evaluator = scope["_e"]
    return fn


def compile_tracking(
    source: str, extra: dict[str, Any]
) -> tuple[Callable[..., Any], dict[str, int]] | None:
    """`def _h(_s, F) -> (value, horizon, read bits)` and the event names' read bits, or None
    when not understood. `extra`: the names the horizon statements call (engine.horizon)."""
    made = _generate(source, tracking=True)
    if made is None:
        return None
    gen, value = made
    body = "\n".join(
        ["def _h(_s, F):", "    h = NEVER", "    r = 0", *gen.lines, f"    return {value}, h, r"]
    )
    scope: dict[str, Any] = {"__builtins__": {}, **_GLOBALS, **extra}
    exec(_code(body, "<horizon>"), scope)
    return scope["_h"], gen.names


# --- what an expression reads ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reads:
    """What an expression reads: the top-level names, the contact attributes (`contact.x`,
    `contact['x']`, in order), and whether it calls anything (helpers read time and facts)."""

    names: frozenset[str]
    contact: tuple[str, ...]
    calls: bool


@lru_cache(maxsize=4096)
def reads(source: str) -> Reads | None:
    """None when it does not parse (the evaluation reports the error)."""
    try:
        tree = parse_expr(source)
    except Exception:
        return None
    names = frozenset(n.name for n in find_all(tree, nodes.Name))
    attrs = dict.fromkeys(a for a, _ in contact_attributes(tree))
    return Reads(names, tuple(attrs), bool(find_all(tree, nodes.Call)))


@lru_cache(maxsize=4096)
def contact_only(source: str) -> bool:
    """Whether `source` reads nothing but `contact` (no helpers, no `now`, no event): its value
    is then fixed for a contact's attributes, and the engine evaluates it once per contact."""
    r = reads(source)
    return (
        r is not None
        and fast_compile(source) is not None
        and r.names <= {"contact"}
        and not r.calls
    )


@lru_cache(maxsize=4096)
def reads_event(source: str) -> bool:
    """Whether `source` names `event` (a trigger's `where`): its value is built only then."""
    r = reads(source)
    return True if r is None else "event" in r.names  # unparsed: let the evaluation report
