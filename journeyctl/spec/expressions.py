"""Sandboxed Jinja expressions: one environment, compiled once at load, evaluated by the engine.

Names in scope: `contact` (typed columns), `now` (aware datetime), `event` (trigger `where`
only) and the helpers below, whose implementations the engine binds to a contact's facts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from journeyctl.spec.templates import Bounded

# helper name -> human signature (validate checks calls against these)
HELPERS: dict[str, str] = {
    "days_since": "days_since(dt)",
    "event_count": "event_count(name, within=None)",
    "last_event": "last_event(name)",
    "opened": "opened(step)",
    "clicked": "clicked(step)",
    "sent": "sent(step)",
}
SCOPE_NAMES = frozenset({"contact", "now", "event", *HELPERS})


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    # Bounded: an expression nested too deeply is a TemplateLimitError (validate locates it),
    # and `'a' * 10**9` or `2 ** 10**9` fails at once instead of filling the memory.
    return Bounded(undefined=StrictUndefined)


CompiledExpression = Callable[..., Any]


@lru_cache(maxsize=4096)
def compile_expr(source: str) -> CompiledExpression:
    """Compile once; raises jinja2.TemplateSyntaxError with `lineno` and `message`."""
    return environment().compile_expression(source, undefined_to_none=False)


def parse_expr(source: str) -> nodes.Expr:
    env = environment()
    parser_template = env.parse("{{ (" + source + ") }}")
    output = parser_template.body[0]
    assert isinstance(output, nodes.Output)
    node = output.nodes[0]
    assert isinstance(node, nodes.Expr)
    return node


def find_all(node: nodes.Node, kind: type[nodes.Node] | tuple[type[nodes.Node], ...]) -> list[Any]:
    """`node.find_all(kind)` plus `node` itself (jinja's find_all skips the root)."""
    found = list(node.find_all(kind))
    return [node, *found] if isinstance(node, kind) else found


def names_used(source: str) -> set[str]:
    """Top-level names an expression reads."""
    return {n.name for n in find_all(parse_expr(source), nodes.Name) if n.ctx == "load"}


def contact_attributes(node: nodes.Node) -> list[tuple[str, int]]:
    """`contact.x` and `contact['x']` attributes read in an AST, with their line."""
    out: list[tuple[str, int]] = []
    for get in find_all(node, nodes.Getattr):
        if isinstance(get.node, nodes.Name) and get.node.name == "contact":
            out.append((get.attr, get.lineno))
    for item in find_all(node, nodes.Getitem):
        if (
            isinstance(item.node, nodes.Name)
            and item.node.name == "contact"
            and isinstance(item.arg, nodes.Const)
            and isinstance(item.arg.value, str)
        ):
            out.append((item.arg.value, item.lineno))
    return out
