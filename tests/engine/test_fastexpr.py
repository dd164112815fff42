"""The fast expression path agrees with Jinja's sandbox, and stays as safe."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from jinja2 import Undefined
from jinja2.exceptions import SecurityError, UndefinedError

from journeyctl.engine.fastexpr import contact_only, fast_compile, reads_event
from journeyctl.spec.expressions import compile_expr

SCOPE: dict[str, Any] = {
    "contact": {"orders": 3, "vip": True, "plan": "pro", "name": "김민지", "last": None,
                "signup_at": datetime(2026, 1, 2, tzinfo=UTC), "tags": ["a", "b"]},
    "now": datetime(2026, 11, 1, tzinfo=UTC),
    "event_count": lambda name, within=None: 2 if within else 5,
    "clicked": lambda step: step == "hello",
    "days_since": lambda dt: None if dt is None else 30,
}  # fmt: skip

EXPRESSIONS = [
    "contact.vip",
    "contact.orders >= 2 and contact.plan == 'pro'",
    "not contact.vip or contact.orders > 10",
    "contact.orders + 1 > 3",
    "contact.orders * 2 - 1 == 5",
    "contact.orders // 2 == 1 and contact.orders % 2 == 1",
    "event_count('purchased') >= 2",
    "event_count('purchased', within='30d') == 2",
    "clicked('hello') and not clicked('other')",
    "contact.last is none",
    "contact.last is not none",
    "contact['plan'] == 'pro'",
    "'a' in contact.tags and 'z' not in contact.tags",
    "1 < contact.orders < 5",
    "days_since(contact.signup_at) >= 30",
    "contact.signup_at.year == 2026",
    "'yes' if contact.vip else 'no'",
    "-contact.orders < 0",
]


@pytest.mark.parametrize("source", EXPRESSIONS)
def test_fast_path_agrees_with_jinja(source: str) -> None:
    fast = fast_compile(source)
    assert fast is not None, "this expression should take the fast path"
    assert fast(SCOPE) == compile_expr(source)(**SCOPE)


@pytest.mark.parametrize(
    "source", ["contact.name | upper", "contact.x is defined", "range(3)|list"]
)
def test_unsupported_forms_fall_back_to_jinja(source: str) -> None:
    assert fast_compile(source) is None


def test_private_attributes_are_refused_like_the_sandbox() -> None:
    fast = fast_compile("now.__class__")
    assert fast is not None
    # The sandbox's own answer: an Undefined that fails as soon as it is used.
    assert isinstance(fast(SCOPE), Undefined)
    assert isinstance(compile_expr("now.__class__")(**SCOPE), Undefined)
    with pytest.raises(SecurityError):
        str(fast(SCOPE))
    with pytest.raises((SecurityError, UndefinedError)):
        str(compile_expr("now.__class__.__mro__")(**SCOPE))


def test_missing_field_raises_like_strict_undefined() -> None:
    fast = fast_compile("contact.nope > 1")
    assert fast is not None
    with pytest.raises(UndefinedError):
        fast(SCOPE)
    with pytest.raises(UndefinedError):
        compile_expr("contact.nope > 1")(**SCOPE)


@pytest.mark.parametrize(
    ("source", "fixed"),
    [
        ("contact.consent_email or contact.consent_sms", True),
        ("contact.consent_email and not contact.vip", True),
        ("contact['orders'] >= 2", True),
        ("event_count('purchased') >= 2", False),
        ("days_since(contact.last_active_at) >= 30", False),
        ("now.hour >= 9 and contact.vip", False),
        ("event.name == 'purchased'", False),
        ("contact.name | upper == 'A'", False),  # Jinja evaluates it: not memoised
    ],
)
def test_contact_only_expressions_are_recognised(source: str, fixed: bool) -> None:
    # The engine evaluates these once per contact: anything reading time or history must not be.
    assert contact_only(source) is fixed


@pytest.mark.parametrize(
    ("source", "reads"),
    [
        ("event.total >= 100", True),
        ("event['total'] > 1 and contact.vip", True),
        ("event_count('purchased') >= 2", False),  # a helper, not the event
        ("contact.vip", False),
    ],
)
def test_the_event_value_is_built_only_for_conditions_that_name_it(
    source: str, reads: bool
) -> None:
    assert reads_event(source) is reads
