"""When a message's content cannot be rendered for one contact (SPEC §5: that message fails,
everyone else flows): the failure, located in the project's files, and what the simulation
must know to predict it without rendering every body (`content_deps`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, NamedTuple

from jinja2 import nodes
from jinja2.environment import Environment

# What the located reason shows of a contact value (no more: it lands in logs and the ledger).
_VALUE_CHARS: Final = 40
_LINE_CHARS: Final = 120
_CONTACT_ATTR: Final = re.compile(r"\bcontact\.([A-Za-z_][A-Za-z0-9_]*)")


class RenderFailure(Exception):
    """One part of a message (its subject, body or a template file) failed to render.

    `part`: "subject", "body" or "template"; `source`: the inline text, or the template's
    name; `lineno`: the line of that text or file where it failed (1 when unknown)."""

    def __init__(
        self, part: str, source: str, lineno: int, error: str, file: str | None = None
    ) -> None:
        super().__init__(f"{part}: {error}")
        self.part, self.source, self.lineno, self.error = part, source, lineno, error
        self.file = file  # the template file it failed in (a layout or include), if any

    @classmethod
    def of(cls, part: str, source: str, exc: BaseException) -> RenderFailure:
        file, line = _template_frame(exc)
        return cls(part, source, line, f"{type(exc).__name__}: {exc}", file)

    def again(self) -> RenderFailure:
        """The same failure for another contact with the same deciding values (simulate)."""
        return RenderFailure(self.part, self.source, self.lineno, self.error, self.file)


def _template_frame(exc: BaseException) -> tuple[str | None, int]:
    """The template file and line of the innermost frame jinja's rewritten traceback gives
    a template (its code's file name is the template's; "<template>" for inline text)."""
    file, line = None, 1
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        name = code.co_filename
        # jinja names a template's frames after its file; Python's own end in .py or are <...>
        if name == "<template>" or not (name.endswith(".py") or name.startswith("<")):
            file, line = name, tb.tb_lineno
        tb = tb.tb_next
    return (None if file == "<template>" else file), line


def describe(
    failure: RenderFailure,
    *,
    where: str,
    text: str,
    contact_value: dict[str, Any],
) -> str:
    """`where: part `the line`: Error: message (contact.x = value, ...)`: the place, the line
    that failed (of `text`, the part's source) and the contact's values it reads; never the
    unsubscribe URL or a secret."""
    line = ""
    if text:
        lines = text.splitlines() or [""]
        line = lines[min(max(failure.lineno, 1), len(lines)) - 1].strip()
    values = []
    for name in dict.fromkeys(_CONTACT_ATTR.findall(line or failure.error)):
        value = contact_value.get(name, "(missing)")
        shown = repr(value)
        if len(shown) > _VALUE_CHARS:
            shown = shown[: _VALUE_CHARS - 1] + "…"
        values.append(f"contact.{name} = {shown}")
    if len(line) > _LINE_CHARS:
        line = line[: _LINE_CHARS - 1] + "…"
    shown_line = f" `{line}`" if line else ""
    tail = f" ({', '.join(values)})" if values else ""
    return f"{where}: {failure.part}{shown_line}: {failure.error}{tail}"


def display_path(path: Path) -> str:
    """A project file as the user named it: relative to the working directory when inside."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def contact_digest(contact_value: dict[str, Any]) -> str:
    """What a held enrollment remembers of the contact's data (changed data: try again)."""
    text = repr(sorted((k, repr(v)) for k, v in contact_value.items()))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


# --- what content depends on, for whether it renders (simulate predicts failures) ----------


class ContentDeps(NamedTuple):
    """What decides whether a step's body parts render at all (simulate's `Renderer._probe`).

    `reads`: the contact attributes whose *values* decide it; None when unknown (anything
    reading `now`, a dynamic include, `random`, `contact` or `event` other than as `.attr`, or a
    local name `event`: then each message is rendered). An attribute only ever printed whole (`{{ contact.name }}`)
    cannot make a render fail (empty prints as empty), so it is not in `reads`.
    `names`: every attribute named (a missing one fails StrictUndefined: its presence counts).
    `by_type`: those of `reads` whose every use renders alike for all dates, or all datetimes
    (`.day`, `.strftime('%Y')`, a truthiness test, printing, `~`, `format`, a `{% set %}` used
    no other way): for them the type decides, not the value (a birthday: one render per type).
    """

    reads: tuple[str, ...] | None
    names: tuple[str, ...]
    by_type: frozenset[str]
    # The same for the triggering event's properties (`event.x`, event_scope), when the
    # content reads `event` at all (`uses_event`: its absence fails StrictUndefined). Every
    # property named decides, printed ones too: event values are not bounded as cells are.
    event_reads: tuple[str, ...] = ()
    event_by_type: frozenset[str] = frozenset()
    uses_event: bool = False


UNKNOWN: Final = ContentDeps(None, (), frozenset())

# What a date or datetime can go through and still render alike for every value of its type
# (the readers keep years within 2-9998).
_DATE_ATTRS: Final = frozenset({"year", "month", "day", "hour", "minute", "second"})
_SAFE_FILTERS: Final = frozenset(
    {"e", "escape", "string", "upper", "lower", "title", "capitalize", "trim", "format"}
)


def _contact_attr(node: nodes.Node, name: str = "contact") -> str | None:
    """`x` when `node` is `contact.x` (or `<name>.x`)."""
    if (
        isinstance(node, nodes.Getattr)
        and isinstance(node.node, nodes.Name)
        and node.node.name == name
    ):
        return node.attr
    return None


def _binds_event(node: nodes.Node) -> bool:
    """Whether `node` names something else `event` (an import or a macro): it shadows it."""
    if isinstance(node, nodes.Import):
        return node.target == "event"
    if isinstance(node, nodes.FromImport):
        return any((n if isinstance(n, str) else n[-1]) == "event" for n in node.names)
    return isinstance(node, nodes.Macro) and node.name == "event"


def content_deps(env: Environment, parts: list[tuple[bool, str]]) -> ContentDeps:
    """`parts`: (is_file, inline text or template name); every template they extend, include
    or import is read too. One walk over the parsed trees (see ContentDeps)."""
    parent: dict[int, nodes.Node] = {}
    loads: dict[str, list[nodes.Name]] = {}
    uses: dict[str, list[nodes.Node]] = {}
    event_uses: dict[str, list[nodes.Node]] = {}
    for tree in _trees(env, parts, set()):
        if tree is None:
            return UNKNOWN
        for node in tree.find_all(nodes.Node):
            for child in node.iter_child_nodes():
                parent[id(child)] = node
            if isinstance(node, nodes.Name):
                if node.ctx == "load":
                    loads.setdefault(node.name, []).append(node)
                elif node.name == "event":
                    return UNKNOWN  # a local `event` (set, loop, macro argument) shadows it
            elif (isinstance(node, nodes.Filter) and node.name == "random") or _binds_event(node):
                return UNKNOWN
            attr = _contact_attr(node)
            if attr is not None:
                uses.setdefault(attr, []).append(node)
            attr = _contact_attr(node, "event")
            if attr is not None:
                event_uses.setdefault(attr, []).append(node)
    if (
        "now" in loads
        or len(loads.get("event", ())) != sum(map(len, event_uses.values()))
        or len(loads.get("contact", ())) != sum(map(len, uses.values()))
    ):
        return UNKNOWN  # `now`, or `contact` or the event passed around whole, or `contact['x']`

    def printed(n: nodes.Node) -> bool:
        return isinstance(parent.get(id(n)), nodes.Output)

    def safe(n: nodes.Node, depth: int = 0) -> bool:
        p = parent.get(id(n))
        if p is None or depth > 32:
            return False
        if isinstance(p, nodes.Output | nodes.Not):
            return True
        if isinstance(p, nodes.If | nodes.CondExpr) and p.test is n:
            return True
        if isinstance(p, nodes.CondExpr | nodes.And | nodes.Or | nodes.Concat):
            return safe(p, depth + 1)
        if isinstance(p, nodes.Filter) and p.name in _SAFE_FILTERS:
            return safe(p, depth + 1)
        if isinstance(p, nodes.Getattr) and p.node is n:
            if p.attr in _DATE_ATTRS:
                return safe(p, depth + 1)
            call = parent.get(id(p))
            if (
                p.attr == "strftime"
                and isinstance(call, nodes.Call)
                and call.node is p
                and all(isinstance(a, nodes.Const) and isinstance(a.value, str) for a in call.args)
                and not call.kwargs
                and call.dyn_args is None
                and call.dyn_kwargs is None
            ):
                return safe(call, depth + 1)
            return False
        if isinstance(p, nodes.Assign) and p.node is n and isinstance(p.target, nodes.Name):
            return all(safe(x, depth + 1) for x in loads.get(p.target.name, ()))
        return False

    reads = tuple(a for a, found in uses.items() if not all(printed(n) for n in found))
    by_type = frozenset(a for a in reads if all(safe(n) for n in uses[a]))
    event_reads = tuple(event_uses)
    event_by_type = frozenset(a for a in event_reads if all(safe(n) for n in event_uses[a]))
    return ContentDeps(reads, tuple(uses), by_type, event_reads, event_by_type, "event" in loads)


@lru_cache(maxsize=1024)
def _parsed(env: Environment, source: str) -> nodes.Template:
    """Parsed once: every step's check walks the shared layout again (read-only here)."""
    return env.parse(source)


def _trees(
    env: Environment, parts: list[tuple[bool, str]], seen: set[str]
) -> Iterator[nodes.Template | None]:
    """The parsed parts and every template they extend, include or import (None: unknown)."""
    for is_file, text in parts:
        if is_file:
            if text in seen:
                continue
            seen.add(text)
            try:
                assert env.loader is not None
                source = env.loader.get_source(env, text)[0]
            except Exception:
                yield None
                return
        else:
            source = text
        try:
            tree = _parsed(env, source)
        except Exception:
            yield None
            return
        yield tree
        linked: list[tuple[bool, str]] = []
        for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            target = getattr(node, "template", None)
            if not isinstance(target, nodes.Const) or not isinstance(target.value, str):
                yield None
                return
            linked.append((True, target.value))
        yield from _trees(env, linked, seen)
