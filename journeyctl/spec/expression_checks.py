"""Checks on sequence expressions (audience, segment, where, branch if): SPEC §2 and §4.

Each expression must compile in the sandbox, call only known helpers with the right
arguments, read only names in scope and only declared contact fields, and `opened('x')`-style
helpers must name a send step of the same sequence.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping

from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError

from journeyctl.diagnostics import Diagnostic, Location, error
from journeyctl.spec.expressions import (
    HELPERS,
    compile_expr,
    contact_attributes,
    find_all,
    parse_expr,
)
from journeyctl.spec.locations import in_scalar, scalar_line
from journeyctl.spec.models import EventTrigger, WaitFor
from journeyctl.spec.project import LoadedSequence, Project
from journeyctl.spec.template_checks import limit_error, unsafe_accesses
from journeyctl.spec.templates import TemplateLimitError, constant_limits
from journeyctl.spec.walk import KeyPath, declared_fields, iter_expressions, iter_steps
from journeyctl.spec.yamlsrc import SourceFile

# helper -> (min positional, max positional, keyword names)
SIGNATURES: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "days_since": (1, 1, ()),
    "event_count": (1, 2, ("within",)),
    "last_event": (1, 1, ()),
    "opened": (1, 1, ()),
    "clicked": (1, 1, ()),
    "sent": (1, 1, ()),
}
STEP_HELPERS = ("opened", "clicked", "sent")
_BASE_SCOPE = ("contact", "now")


def check_expressions(project: Project) -> Iterator[Diagnostic]:
    fields = declared_fields(project)
    declared = project.settings.events.fields
    for seq in project.sequences.values():
        sends = set(seq.flow.send_ids())
        awaited = {
            (*p, "wait_for", "where"): s.wait_for.event
            for s, p in iter_steps(seq.model.steps)
            if isinstance(s, WaitFor)
        }
        trig = seq.model.trigger
        for source, path, has_event in iter_expressions(seq):
            yield from _check_one(seq, source, path, has_event, fields, sends)
            if not has_event:
                continue
            # `where` may read undeclared properties (as text) unless the event declares
            # some; the audience and branches of an event-triggered sequence only declared ones.
            name = awaited.get(path) or (trig.event if isinstance(trig, EventTrigger) else "")
            if path[-1] != "where" or name in declared:
                try:
                    tree = parse_expr(source)
                except Exception:
                    continue  # reported above
                src = seq.source

                def locate(needle: str, src: SourceFile = src, path: KeyPath = path) -> Location:
                    return in_scalar(src, path, needle)

                yield from check_event_attributes(tree, name, declared, locate)


def _check_one(
    seq: LoadedSequence,
    source: str,
    path: KeyPath,
    has_event: bool,
    fields: set[str],
    sends: set[str],
) -> Iterator[Diagnostic]:
    src = seq.source
    folding: SecurityError | None = None
    try:
        try:
            compile_expr(source)
        except SecurityError as exc:  # jinja folds constants: `none.__class__` is read here
            folding = exc
        tree = parse_expr(source)
    except TemplateLimitError as exc:
        yield limit_error(scalar_line(src, path, exc.lineno or 1), f"expression: {exc.message}")
        return
    except TemplateSyntaxError as exc:
        yield error(
            scalar_line(src, path, exc.lineno or 1),
            "expression-syntax",
            f"cannot parse expression {source.strip()!r}: {exc.message}",
            "expressions are Jinja expressions, e.g. \"contact.orders >= 2 and opened('hello')\"",
        )
        return

    refused = unsafe_accesses(tree)
    if folding is not None and not refused:  # refused by a rule unsafe_accesses lacks
        yield error(
            scalar_line(src, path, 1),
            "unsafe-attribute",
            f"expression refused by the sandbox: {folding}",
            "expressions see only data: remove it",
        )
        return
    if refused:
        for needle, line, why in refused:
            yield error(
                in_scalar(src, path, needle) if line <= 1 else scalar_line(src, path, line),
                "unsafe-attribute",
                why.replace("template sandbox", "sandbox"),
                "expressions see only data: remove it",
            )
        return

    for reason, _line in constant_limits(tree):
        yield limit_error(
            scalar_line(src, path, 1),
            f"expression: {reason.replace(' (render limit)', '')}: it fails for every contact",
        )

    called: set[str] = set()
    for call in find_all(tree, nodes.Call):
        if not isinstance(call.node, nodes.Name):
            continue
        name = call.node.name
        called.add(name)
        if name not in HELPERS:
            close = difflib.get_close_matches(name, HELPERS, n=1)
            hint = f"did you mean {close[0]}()?" if close else None
            known = ", ".join(HELPERS.values())
            yield error(
                in_scalar(src, path, name + "("),
                "unknown-helper",
                f"unknown helper '{name}()'; known helpers: {known}",
                hint,
            )
            continue
        yield from _check_call(seq, path, call, name, sends)

    scope = {*_BASE_SCOPE, *HELPERS} | ({"event"} if has_event else set())
    reported: set[str] = set()
    for ref in find_all(tree, nodes.Name):
        name = ref.name
        if ref.ctx != "load" or name in scope or name in called or name in reported:
            continue
        reported.add(name)
        if name == "event":
            msg = (
                "'event' is only available in a `where` and in the audience and branches of "
                "a sequence with an event trigger"
            )
            hint = None
        else:
            msg = f"'{name}' is not defined; expressions can use contact, now and the helpers"
            hint = f"did you mean contact.{name}?" if name in fields else None
        yield error(in_scalar(src, path, name), "unknown-name", msg, hint)

    for attr, _line in contact_attributes(tree):
        if attr not in fields:
            yield error(
                in_scalar(src, path, f"contact.{attr}"),
                "undeclared-field",
                f"contact field '{attr}' is not declared",
                f"declare it in journey.yaml under contacts.fields (e.g. {attr}: string)",
            )


def check_event_attributes(
    tree: nodes.Node,
    event: str,
    declared: Mapping[str, Mapping[str, str]],
    locate: Callable[[str], Location],
) -> Iterator[Diagnostic]:
    """`event.x` where `x` is neither `name`, `at` nor declared for `event` in journey.yaml
    (`events.fields`): undeclared-variable, like a name templates do not know."""
    allowed = {"name", "at", *declared.get(event, {})}
    seen: set[str] = set()
    for get in find_all(tree, nodes.Getattr):
        if not (isinstance(get.node, nodes.Name) and get.node.name == "event"):
            continue
        attr = get.attr
        if attr in allowed or attr in seen:
            continue
        seen.add(attr)
        yield error(
            locate(f"event.{attr}"),
            "undeclared-variable",
            f"property '{attr}' of event '{event}' is not declared",
            f"declare it in journey.yaml under events.fields.{event} "
            f"(e.g. events: {{fields: {{{event}: {{{attr}: string}}}}}})",
        )


def _check_call(
    seq: LoadedSequence, path: KeyPath, call: nodes.Call, name: str, sends: set[str]
) -> Iterator[Diagnostic]:
    src = seq.source
    lo, hi, kws = SIGNATURES[name]
    npos = len(call.args)
    bad_kw = [kw.key for kw in call.kwargs if kw.key not in kws]
    if not lo <= npos <= hi or bad_kw or call.dyn_args or call.dyn_kwargs:
        got = f"{npos} argument(s)" + (f" and keyword {', '.join(bad_kw)}" if bad_kw else "")
        yield error(
            in_scalar(src, path, name + "("),
            "helper-arity",
            f"{name}() called with {got}; its signature is {HELPERS[name]}",
        )
        return
    if name in STEP_HELPERS and npos == 1:
        arg = call.args[0]
        if isinstance(arg, nodes.Const) and isinstance(arg.value, str) and arg.value not in sends:
            close = difflib.get_close_matches(arg.value, sends, n=1)
            known = ", ".join(sorted(sends)) or "none"
            yield error(
                in_scalar(src, path, arg.value),
                "unknown-step-ref",
                f"{name}('{arg.value}') names no send step of sequence '{seq.id}'"
                f" (send steps: {known})",
                f"did you mean '{close[0]}'?" if close else None,
            )
