"""Checks on message templates: files exist, parse, and read only names and fields in scope.

Template files are checked once per project, at their own `file:line:col`, following
`{% extends %}` and `{% include %}`; inline `subject`/`body` are checked in the YAML.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Set
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path, PurePosixPath

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from journeyctl.diagnostics import Diagnostic, Location, error, warning
from journeyctl.spec.expressions import contact_attributes
from journeyctl.spec.locations import in_scalar, in_text_line, scalar_line
from journeyctl.spec.models import EventTrigger, Send
from journeyctl.spec.project import LoadedSequence, Project
from journeyctl.spec.templates import (
    MAX_TEMPLATE_BYTES,
    TEMPLATE_SCOPE,
    TemplateLimitError,
    constant_limits,
    inline_environment,
    is_html,
    template_environment,
)
from journeyctl.spec.walk import KeyPath, declared_fields, display_root, iter_sends, medium_of
from journeyctl.spec.yamlsrc import leaves, symlink_outside, too_large

_FIELD_HINT = "declare it in journey.yaml under contacts.fields (e.g. {attr}: string)"
_SCOPE_HINT = "templates can use " + ", ".join(sorted(TEMPLATE_SCOPE))


@dataclass
class Scan:
    """What one template source reads: undeclared names, `x.y` attributes, referenced files."""

    names: dict[str, int] = field(default_factory=dict)  # name -> first line
    attrs: list[tuple[str, str, int]] = field(default_factory=list)  # (base, attr, line)
    refs: list[tuple[str | None, int]] = field(default_factory=list)  # (template name, line)
    assigned: set[str] = field(default_factory=set)  # {% set %}, loop and macro names
    unsafe: list[tuple[str, int, str]] = field(default_factory=list)  # (needle, line, why)
    dynamic: list[tuple[str, int]] = field(default_factory=list)  # (keyword, line)
    limits: list[tuple[str, int]] = field(default_factory=list)  # (reason, line)


def scan(env: ImmutableSandboxedEnvironment, text: str) -> Scan:
    """Parse `text` (raises TemplateSyntaxError) and list what it reads."""
    return _scan_cached(env, text)


@lru_cache(maxsize=1024)
def _scan_cached(env: ImmutableSandboxedEnvironment, text: str) -> Scan:
    tree = env.parse(text)
    out = Scan()
    # jinja's own analysis flags a `{% set %}` inside `{% if %}` used after it, and names
    # guarded by `is defined`; neither fails at render time, so neither is reported.
    out.assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    guarded = {
        t.node.name
        for t in tree.find_all(nodes.Test)
        if t.name in ("defined", "undefined") and isinstance(t.node, nodes.Name)
    }
    undeclared = meta.find_undeclared_variables(tree) - set(env.globals) - out.assigned - guarded
    for ref in tree.find_all(nodes.Name):
        if ref.name in undeclared and ref.name not in out.names:
            out.names[ref.name] = ref.lineno
    for get in tree.find_all(nodes.Getattr):
        if isinstance(get.node, nodes.Name):
            out.attrs.append((get.node.name, get.attr, get.lineno))
    out.unsafe = unsafe_accesses(tree)
    out.limits = constant_limits(tree)
    out.attrs.extend(("contact", a, line) for a, line in contact_attributes(tree))
    for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        target = getattr(node, "template", None)
        name = target.value if isinstance(target, nodes.Const) else None
        if not isinstance(name, str):
            keyword = {nodes.Extends: "extends", nodes.Include: "include"}.get(type(node), "import")
            out.dynamic.append((keyword, node.lineno))
        out.refs.append((name if isinstance(name, str) else None, node.lineno))
    # contact_attributes also yields Getattr hits: keep each (base, attr, line) once
    out.attrs = list(dict.fromkeys(out.attrs))
    return out


def unsafe_accesses(tree: nodes.Node) -> list[tuple[str, int, str]]:
    """What the sandbox refuses in a template or expression, as (needle, line, why): private
    names (`''.__class__`: the render would fail for everyone) and known escapes."""
    found: list[tuple[str, int, str]] = []
    for access in tree.find_all((nodes.Getattr, nodes.Getitem)):
        attr = access.attr if isinstance(access, nodes.Getattr) else None
        if isinstance(access, nodes.Getitem) and isinstance(access.arg, nodes.Const):
            attr = access.arg.value if isinstance(access.arg.value, str) else None
        if attr is not None and attr.startswith("_"):
            found.append((attr, access.lineno, _PRIVATE.format(attr=attr)))
    found.extend(_escapes(tree))
    return list(dict.fromkeys(found))


_PRIVATE = "'{attr}' is refused by the template sandbox (names starting with _ are private)"
# Reached through `|attr(...)`, these lead out of the data (str.format reads attributes: the
# CVE-2016-10745 and CVE-2025-27516 escapes); a template never needs them.
_ATTR_REFUSED = frozenset({"format", "format_map", "mro", "func_globals", "gi_frame", "f_globals"})
_FORMAT_FIELD = re.compile(r"\{[^{}!:]*[.\[]")  # `{0.__class__}`, `{x[0]}`: reads attributes


def _escapes(tree: nodes.Node) -> Iterator[tuple[str, int, str]]:
    """`|attr(...)` and str.format tricks: refused by validate before the sandbox sees them."""
    for f in tree.find_all(nodes.Filter):
        if f.name != "attr":
            continue
        arg = f.args[0] if f.args else None
        name = arg.value if isinstance(arg, nodes.Const) else None
        if not isinstance(name, str):
            yield (
                "attr",
                f.lineno,
                "|attr() with a computed name is refused (it can reach anything)",
            )
        elif name.startswith("_"):
            yield name, f.lineno, _PRIVATE.format(attr=name)
        elif name in _ATTR_REFUSED:
            yield name, f.lineno, f"|attr('{name}') is refused (a known sandbox escape)"
    for call in tree.find_all(nodes.Call):
        method = call.node
        if not isinstance(method, nodes.Getattr) or method.attr not in ("format", "format_map"):
            continue
        fmt = method.node.value if isinstance(method.node, nodes.Const) else None
        if not isinstance(fmt, str):
            yield (
                method.attr,
                call.lineno,
                (
                    f".{method.attr}() on a computed string is refused (the format string could "
                    "read attributes); use the |format filter or ~"
                ),
            )
        elif _FORMAT_FIELD.search(fmt):
            yield (
                method.attr,
                call.lineno,
                (
                    f"a format string reading attributes or items ({fmt!r}) is refused "
                    "(a known sandbox escape)"
                ),
            )


def safe_name(name: str) -> bool:
    p = PurePosixPath(name)
    return not p.is_absolute() and ".." not in p.parts and "\\" not in name


def template_text(project: Project, name: str) -> str | None:
    """A template's text; None when missing, unreadable or refused (`template_refused`)."""
    path = project.templates_dir / name
    if not safe_name(name) or not path.is_file() or template_refused(project, name):
        return None
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None


def template_refused(project: Project, name: str) -> str | None:
    """Why a template file is not read: "symlink" (out of the project) or "size"."""
    path = project.templates_dir / name
    if not safe_name(name) or not (path.is_file() or path.is_symlink()):
        return None
    if leaves(project.root, path):
        return "symlink"
    try:
        return "size" if path.stat().st_size > MAX_TEMPLATE_BYTES else None
    except OSError:
        return None


def inherited_names(project: Project, name: str) -> set[str]:
    """Names set by templates that extend or include `name` (a layout sees its child's sets)."""
    env = template_environment(project.templates_dir)
    parents: dict[str, set[str]] = {}  # referenced template -> templates referencing it
    assigned: dict[str, set[str]] = {}
    base = project.templates_dir
    for path in sorted(base.rglob("*")) if base.is_dir() else []:
        if not path.is_file():
            continue
        rel = path.relative_to(base).as_posix()
        text = template_text(project, rel)
        if text is None:
            continue
        try:
            info = scan(env, text)
        except TemplateSyntaxError:
            continue
        assigned[rel] = info.assigned
        for ref, _ in info.refs:
            if ref is not None:
                parents.setdefault(ref, set()).add(rel)
    out: set[str] = set()
    todo, seen = [name], {name}
    while todo:
        for child in parents.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                out |= assigned.get(child, set())
                todo.append(child)
    return out


def template_reads(project: Project, name: str) -> set[str]:
    """Every `name` and `name.attr` a template reads, through its extends/includes."""
    out: set[str] = set()
    env = template_environment(project.templates_dir)
    todo, seen = [name], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        text = template_text(project, current)
        if text is None:
            continue
        try:
            info = scan(env, text)
        except TemplateSyntaxError:
            continue
        out.update(info.names)
        out.update(f"{base}.{attr}" for base, attr, _ in info.attrs)
        todo.extend(ref for ref, _ in info.refs if ref is not None)
    return out


def inline_reads(text: str) -> set[str]:
    try:
        info = scan(inline_environment(), text)
    except TemplateSyntaxError:
        return set()
    return {*info.names, *(f"{base}.{attr}" for base, attr, _ in info.attrs)}


@dataclass(frozen=True)
class EventScope:
    """`event` in the templates of a sequence with an event trigger: the triggering event's
    name and the properties it may read (`name`, `at` and those declared in journey.yaml)."""

    event: str
    allowed: frozenset[str]


def event_scope(project: Project, seq: LoadedSequence) -> EventScope | None:
    trig = seq.model.trigger
    if not isinstance(trig, EventTrigger):
        return None
    declared = project.settings.events.fields.get(trig.event, {})
    return EventScope(trig.event, frozenset({"name", "at", *declared}))


def check_templates(project: Project) -> Iterator[Diagnostic]:
    fields = declared_fields(project)
    checked: set[tuple[str, str | None]] = set()
    root = display_root(project) / "templates"
    for seq in project.sequences.values():
        scope = event_scope(project, seq)
        for send, path in iter_sends(seq):
            yield from _check_inline(seq, send, path, fields, scope)
            yield from _check_medium(project, seq, send, path)
            for key in ("template", "text_template"):
                name = getattr(send, key)
                if name is None:
                    continue
                if template_text(project, name) is None:
                    yield _missing(project, seq.source.locate((*path, key)), name)
                    continue
                yield from _check_file(project, name, root, fields, checked, scope)


def _missing(project: Project, loc: Location, name: str) -> Diagnostic:
    refused = template_refused(project, name)
    if refused == "symlink":
        return symlink_outside(Path(name), f"template '{name}'", loc)
    if refused == "size":
        path = project.templates_dir / name
        d = too_large(loc.path, path.stat().st_size, MAX_TEMPLATE_BYTES, "template-limit")
        return replace(d, location=loc, message=f"template '{name}': {d.message}")
    if not safe_name(name):
        return error(
            loc,
            "missing-template",
            f"template '{name}' is outside templates/",
            "name templates relative to the project's templates/ folder",
        )
    return error(
        loc,
        "missing-template",
        f"template '{name}' not found in templates/",
        f"create templates/{name} or fix the name",
    )


def _check_file(
    project: Project,
    name: str,
    root: Path,
    fields: set[str],
    checked: set[tuple[str, str | None]],
    scope: EventScope | None = None,
) -> Iterator[Diagnostic]:
    # A file shared by sequences with other triggers is checked once per event in scope.
    key = (name, scope.event if scope is not None else None)
    if key in checked:
        return
    checked.add(key)
    text = template_text(project, name)
    if text is None:
        return
    shown = root / name
    try:
        info = scan(template_environment(project.templates_dir), text)
    except TemplateLimitError as exc:
        yield limit_error(in_text_line(shown, text, exc.lineno or 1), f"template: {exc.message}")
        return
    except TemplateSyntaxError as exc:
        yield error(
            in_text_line(shown, text, exc.lineno or 1),
            "template-syntax",
            f"cannot parse template: {exc.message}",
            "check that every {{ }}, {% %} and {% if/for/block %} is closed",
        )
        return
    extra = inherited_names(project, name) if info.names else set()
    yield from _check_scan(
        info, fields, lambda line, needle: in_text_line(shown, text, line, needle), extra, scope
    )
    for ref, line in info.refs:
        if ref is None:
            continue
        if template_text(project, ref) is None:
            yield _missing(project, in_text_line(shown, text, line, ref), ref)
        else:
            yield from _check_file(project, ref, root, fields, checked, scope)


def _check_scan(
    info: Scan,
    fields: set[str],
    locate: Callable[[int, str], Location],
    extra: Set[str] = frozenset(),
    scope: EventScope | None = None,
) -> Iterator[Diagnostic]:
    for name, line in info.names.items():
        if name == "event":
            if scope is None:
                yield error(
                    locate(line, name),
                    "undeclared-variable",
                    "'event' is only defined in templates of a sequence with an event trigger",
                    "a segment or date trigger has no event; read contact fields instead",
                )
            continue
        if name not in TEMPLATE_SCOPE and name not in extra:
            yield error(
                locate(line, name),
                "undeclared-variable",
                f"'{name}' is not defined in templates",
                _SCOPE_HINT + (f"; did you mean contact.{name}?" if name in fields else ""),
            )
    for needle, line, why in info.unsafe:
        yield error(
            locate(line, needle), "unsafe-attribute", why, "templates see only data: remove it"
        )
    for keyword, line in info.dynamic:
        yield error(
            locate(line, keyword),
            "dynamic-include",
            f"{{% {keyword} %}} of a computed name: validate cannot check what it loads",
            "name the template literally, e.g. {% if contact.locale == 'ko' %}"
            "{% include 'footer_ko.txt' %}{% else %}...{% endif %}",
        )
    for reason, line in info.limits:
        yield limit_error(
            locate(line, ""), reason.replace(" (render limit)", "") + ": it fails for every contact"
        )
    seen: set[str] = set()
    for base, attr, line in info.attrs:
        if base == "event" and scope is not None and attr not in scope.allowed:
            if f"event.{attr}" in seen:
                continue
            seen.add(f"event.{attr}")
            yield error(
                locate(line, f"event.{attr}"),
                "undeclared-variable",
                f"property '{attr}' of event '{scope.event}' is not declared",
                f"declare it in journey.yaml under events.fields.{scope.event} "
                f"(e.g. events: {{fields: {{{scope.event}: {{{attr}: string}}}}}})",
            )
        if base == "contact" and attr not in fields and attr not in seen:
            seen.add(attr)
            yield error(
                locate(line, f"contact.{attr}"),
                "undeclared-field",
                f"contact field '{attr}' is not declared",
                _FIELD_HINT.format(attr=attr),
            )


def limit_error(loc: Location, message: str) -> Diagnostic:
    """`template-limit`, for templates and expressions alike."""
    return error(
        loc,
        "template-limit",
        message,
        "simplify it: templates and expressions have limits (docs/DECISIONS.md)",
    )


def _check_inline(
    seq: LoadedSequence,
    send: Send,
    path: KeyPath,
    fields: set[str],
    scope: EventScope | None = None,
) -> Iterator[Diagnostic]:
    src = seq.source
    for key in ("subject", "body"):
        text = getattr(send, key)
        if text is None:
            continue
        kpath = (*path, key)
        try:
            info = scan(inline_environment(), text)
        except TemplateLimitError as exc:
            yield limit_error(scalar_line(src, kpath, exc.lineno or 1), f"{key}: {exc.message}")
            continue
        except TemplateSyntaxError as exc:
            yield error(
                scalar_line(src, kpath, exc.lineno or 1),
                "template-syntax",
                f"cannot parse {key}: {exc.message}",
                "check that every {{ }} and {% %} is closed",
            )
            continue

        def locate(_line: int, needle: str, kpath: KeyPath = kpath) -> Location:
            return in_scalar(src, kpath, needle)

        yield from _check_scan(info, fields, locate, scope=scope)


def _check_medium(
    project: Project, seq: LoadedSequence, send: Send, path: KeyPath
) -> Iterator[Diagnostic]:
    medium = medium_of(project, send)
    if medium is None:
        return
    if medium == "email" and send.subject is None:
        yield error(
            seq.source.locate((*path, "send")),
            "missing-subject",
            f"send '{send.id}' goes to an email channel but has no subject",
            "add `subject: ...` to the step",
        )
    if medium in ("sms", "push", "chat") and send.template and is_html(send.template):
        yield warning(
            seq.source.locate((*path, "template")),
            "html-on-text-channel",
            f"send '{send.id}' uses HTML template '{send.template}' on {medium} channel"
            f" '{send.channel or project.default_channel()}'",
            "use a .txt template or an inline `body:` for SMS, push and chat",
        )
