"""Fuzz: the expression compiler against the sandbox (issue 15, item 2).

Expressions generated from a grammar of what conditions can hold — names (some undefined),
attributes (private ones, dict method names, missing ones), items, constants, arithmetic the
sandbox bounds (`'ab' * 10000000`), comparisons, and/or/not, tests, conditionals, literals,
helper and method calls, filters — are evaluated by `engine.fastexpr.fast_compile` and by
Jinja's sandbox (`spec.expressions.compile_expr`) over the same scope. The compiler either
refuses (None: the engine keeps the sandbox) or gives the same result, or an error of the
same class. Expressions the sandbox cannot compile are refused by `validate` and skipped.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from jinja2 import TemplateSyntaxError, Undefined
from jinja2.exceptions import TemplateRuntimeError

from journeyctl.engine.fastexpr import fast_compile
from journeyctl.spec.expressions import compile_expr
from tests.fuzz.support import fuzz, no_hang, outcome

NOW = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def _days_since(dt: Any) -> int | None:
    if dt is None:
        return None
    return (NOW.date() - (dt.date() if isinstance(dt, datetime) else dt)).days


def _scope() -> dict[str, Any]:
    """A fresh scope per evaluation: nothing one evaluation does can reach the other's."""
    return {
        "contact": {
            "orders": 3, "name": "김민지", "vip": True, "plan": "pro", "blank": None,
            "ratio": 0.5, "tags": ["a", "b"], "signup_at": datetime(2026, 1, 2, tzinfo=UTC),
            "birthday": date(1990, 5, 17), "fmt": "%s-%d", "items": "a field named items",
            "_secret": "hidden",
        },
        "now": NOW,
        "event_count": lambda name, within=None: len(str(name)) + (1 if within else 0),
        "last_event": lambda name: None if name == "never" else NOW,
        "days_since": _days_since,
        "clicked": lambda step: step == "hello",
        "opened": lambda step: step != "hello",
        "sent": lambda step: True,
    }  # fmt: skip


ATTRS = [
    "orders", "name", "vip", "plan", "blank", "ratio", "tags", "signup_at", "birthday", "fmt",
    "missing", "items", "keys", "get", "pop", "_secret", "__class__", "year", "hour", "day",
    "tzinfo", "real", "upper", "append", "__dict__",
]  # fmt: skip
ATOMS = st.one_of(
    st.sampled_from(["contact", "now", "nobody", "event", "none", "true", "false"]),
    st.integers(-3, 12).map(str),
    st.sampled_from(["10000000", "-1", "0", "2.5", "1e308", "0.0"]),
    st.sampled_from(["'a'", "''", "'ab'", "'%s'", "'%(x)s'", "'%999999999d'", "'hello'"]),
    st.sampled_from(ATTRS).map(lambda a: f"contact.{a}"),
    st.sampled_from(["now.year", "now.__class__", "now.tzinfo", "contact.signup_at.year"]),
    st.sampled_from(
        [
            "event_count('purchased')",
            "event_count('purchased', within='7d')",
            "days_since(contact.signup_at)",
            "days_since(contact.blank)",
            "last_event('never')",
            "clicked('hello')",
            "opened('hello')",
            "sent('x')",
        ]
    ),
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    two = st.tuples(children, children)
    return st.one_of(
        st.tuples(
            children, st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "~"]), children
        ).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(
            children,
            st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]),
            children,
        ).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        children.map(lambda c: f"(not {c})"),
        children.map(lambda c: f"(-{c})"),
        st.tuples(
            children,
            st.sampled_from(
                ["is none", "is not none", "is true", "is false", "is defined", "is number"]
            ),
        ).map(lambda t: f"({t[0]} {t[1]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(children, st.sampled_from(ATTRS)).map(lambda t: f"{t[0]}.{t[1]}"),
        two.map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(children, st.sampled_from(ATTRS)).map(lambda t: f"{t[0]}[{t[1]!r}]"),
        children.map(lambda c: f"{c}[1:]"),
        two.map(lambda t: f"({t[0]}, {t[1]})"),
        two.map(lambda t: f"[{t[0]}, {t[1]}]"),
        children.map(lambda c: f"days_since({c})"),
        two.map(lambda t: f"event_count({t[0]}, within={t[1]})"),
        children.map(lambda c: f"{c}.upper()"),
        children.map(lambda c: f"contact.tags.append({c})"),
        children.map(lambda c: f"({c} | upper)"),
        children.map(lambda c: f"(({c}) | length)"),
    )


EXPRESSIONS = st.recursive(ATOMS, _combine, max_leaves=8)


def _norm(value: Any) -> Any:
    """A comparable form: an Undefined as such, NaN as NaN, a method by name, containers by
    type and items."""
    if isinstance(value, Undefined):
        return ("undefined",)
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if callable(value):  # a method of each evaluation's own scope: by its name
        return ("callable", getattr(value, "__name__", None))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_norm(v) for v in value))
    return (type(value).__name__, value)


def _run(evaluate: Any) -> tuple[str, Any]:
    try:
        return "value", _norm(evaluate(_scope()))
    except Exception as exc:
        return "error", type(exc).__name__


def check_expression(source: str) -> None:
    try:
        sandboxed = compile_expr(source)
    except (TemplateSyntaxError, SyntaxError):  # SyntaxError: Python's warning, as an error
        outcome("not an expression (validate refuses it)")
        return
    except TemplateRuntimeError:  # the optimizer folded a failing constant (`none.__class__`)
        outcome("not compiled by the sandbox")
        return
    fast = fast_compile(source)
    if fast is None:
        outcome("refused: the sandbox evaluates it")
        return
    with no_hang():
        expected = _run(lambda scope: sandboxed(**scope))
        got = _run(fast)
    outcome(f"compiled: {expected[0]}")
    assert got == expected, (source, got, expected)


@fuzz
@given(EXPRESSIONS)
def test_the_compiler_refuses_or_agrees_with_the_sandbox(source: str) -> None:
    check_expression(source)


def test_known_edges_agree_with_the_sandbox() -> None:
    for source in [
        "contact.missing is none",  # the sandbox's Undefined is not None
        "contact.items",  # dict's method, not the field named items
        "contact['items']",  # the field
        "contact['keys']",  # no such field: dict's method
        "contact._secret",  # a mapping's key, private-looking or not
        "now.__class__",  # refused as the sandbox refuses it
        "nobody is none",
        "[1] == (1,)",
        "'ab' * 10000000",  # bounded: fails before it builds
        "contact.fmt % (1, 2)",
        "'%999999999d' % 1",
        "contact.tags[5]",
        "contact.name[0]",
    ]:
        assert fast_compile(source) is not None, source
        check_expression(source)
