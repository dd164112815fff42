"""Attribute access on plain dicts (`contact.name`) takes a shortcut in our sandbox; every
outcome must be what jinja2's own immutable sandbox gives: values, methods, unsafe names,
missing names (StrictUndefined errors), and objects that are not plain dicts."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from journeyctl.spec.templates import inline_environment

CONTACT = {"name": "김", "_secret": "s", "items": "shadowed", "none": None, "nested": {"a": 1}}
SOURCES = [
    "{{ c.name }}",
    "{{ c._secret }}",  # not an attribute of a dict: the item, as in jinja2
    "{{ c.items() | list | length }}",  # the dict method wins over the key
    "{{ c.none }}",
    "{{ c.nested.a }}",
    "{{ c.missing }}",
    "{{ c.missing is defined }}",
    "{{ c.__class__ }}",
    "{{ c.pop }}",  # a mutating method: unsafe in the immutable sandbox
    "{{ c.get('name') }}",
    "{{ c['name'] }}",
]


def _outcome(env: ImmutableSandboxedEnvironment, source: str, value: Any) -> str:
    try:
        return "ok:" + env.from_string(source).render(c=value)
    except Exception as exc:  # the kind and message of the failure must match too
        return f"{type(exc).__name__}:{exc}"


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("value", [CONTACT, OrderedDict(CONTACT)], ids=["dict", "OrderedDict"])
def test_dict_attribute_access_matches_jinja_sandbox(source: str, value: Any) -> None:
    # ours prints a None as nothing (empty is empty, SPEC §5): the stock one is told the same
    stock = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, finalize=lambda v: "" if v is None else v
    )
    ours = inline_environment()
    assert type(ours) is not ImmutableSandboxedEnvironment  # the shortcut is in use
    assert _outcome(ours, source, value) == _outcome(stock, source, value)


def test_unsafe_names_still_fail() -> None:
    with pytest.raises(SecurityError):
        inline_environment().from_string("{{ c.pop('name') }}").render(c=dict(CONTACT))
