"""Render a send step for a contact: subject, text and HTML. Pure apart from reading templates
once (compiled and cached per project); contact values are data, never compiled as templates.

One render path: `Template.render` (a fresh context per message: a template's `{% set %}`
never leaks into the next). An inline template that reads only a few contact attributes and
the sequence and step names is memoized by those values (`_Memo`; an attribute it only prints
is filled in per call, so a subject showing the name renders once per locale).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from jinja2 import nodes

from journeyctl.engine.draw import message_key
from journeyctl.engine.failures import ContentDeps, RenderFailure, content_deps
from journeyctl.engine.model import Contact
from journeyctl.engine.tokens import signing_key
from journeyctl.spec.expressions import contact_attributes
from journeyctl.spec.models import ProjectSettings, Send
from journeyctl.spec.templates import (
    file_template,
    inline_environment,
    inline_template,
    is_html,
    template_environment,
)
from journeyctl.spec.yamlsrc import leaves


def unsubscribe_token(secret: bytes, contact_id: str) -> str:
    """Per-contact token for one-click unsubscribe links: HMAC-SHA256, URL-safe, 32 hex chars."""
    return hmac.new(secret, contact_id.encode(), hashlib.sha256).hexdigest()[:32]


# What an inline template may use and still depend on nothing but a few contact attributes
# and the sequence/step names (deterministic filters only; no `now`, no unsubscribe URL).
_PURE_NODES: Final = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.CondExpr, nodes.Compare,
    nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Const, nodes.Concat, nodes.Getattr,
    nodes.Name, nodes.Filter,
)  # fmt: skip
_PURE_NAMES: Final = frozenset({"contact", "sequence", "step", "sender"})
_PURE_FILTERS: Final = frozenset({"upper", "lower", "title", "capitalize", "trim", "e", "escape"})
_MEMO_TYPES: Final = (str, int, bool, type(None))  # exact types whose equal values print alike
_MEMO_MAX: Final = 4096


def _contact_reads(source: str) -> tuple[str, ...] | None:
    """The contact attributes an inline template reads, when its output depends on nothing
    else (plus the sequence and step names and the fixed sender); None otherwise."""
    try:
        tree = inline_environment().parse(source)
    except Exception:
        return None
    every = list(tree.find_all(nodes.Node))
    if any(not isinstance(n, _PURE_NODES) for n in every):
        return None
    if any(isinstance(n, nodes.Name) and n.name not in _PURE_NAMES for n in every):
        return None
    if any(
        isinstance(n, nodes.Filter)
        and (n.name not in _PURE_FILTERS or n.args or n.kwargs or n.dyn_args or n.dyn_kwargs)
        for n in every
    ):
        return None
    if any(isinstance(n, nodes.Getattr) and not isinstance(n.node, nodes.Name) for n in every):
        return None  # `contact.name.upper` and the like: only plain `name.attr`
    reads = [attr for attr, _ in contact_attributes(tree)]  # as for expressions (fastexpr)
    uses = sum(1 for n in every if isinstance(n, nodes.Name) and n.name == "contact")
    if uses != len(reads) or any(hasattr(dict, a) for a in reads):
        return None  # `contact` itself, or `contact.items` (the dict method, in Jinja)
    return tuple(dict.fromkeys(reads))


def _printed_only(source: str, reads: tuple[str, ...]) -> tuple[str, ...]:
    """Of the attributes read, those used only as a whole `{{ contact.x }}` (no filter, no
    test, no comparison): the output holds their str() and depends on them in no other way."""
    tree = inline_environment().parse(source)
    text = [n.data for n in tree.find_all(nodes.TemplateData)]
    text += [n.value for n in tree.find_all(nodes.Const) if isinstance(n.value, str)]
    if not _nul_free(text):
        return ()  # the markers are NUL-delimited: text with NULs of its own could mimic one
    printed = [
        child.attr
        for out in tree.find_all(nodes.Output)
        for child in out.nodes
        if isinstance(child, nodes.Getattr)
        and isinstance(child.node, nodes.Name)
        and child.node.name == "contact"
    ]
    every = [
        n.attr
        for n in tree.find_all(nodes.Getattr)
        if isinstance(n.node, nodes.Name) and n.node.name == "contact"
    ]
    return tuple(a for a in reads if printed.count(a) == every.count(a))


class _Memo:
    """An inline template rendered once per distinct values of what it reads: most subjects
    read only `contact.locale` (or nothing of the contact), so a month of messages needs a
    handful of renders. Values of other types (dates, floats, lists) are rendered each time.

    An attribute that is only printed (`{{ contact.name }}`, a slot) is not part of the key:
    the memo holds the output rendered with a marker in its place, and each call puts the
    value's str() there, which is what Jinja prints (inline templates do not escape). So a
    subject showing the name renders once per locale, not once per contact."""

    __slots__ = ("_attrs", "_markers", "_memo", "_misses", "_render", "_slots")

    def __init__(self, render: Render, attrs: tuple[str, ...], slots: tuple[str, ...] = ()) -> None:
        self._render = render
        self._attrs = tuple(a for a in attrs if a not in slots)  # the key
        self._slots = slots
        self._markers = tuple(f"{_MARK}{i}{_MARK}" for i in range(len(slots)))
        self._memo: dict[tuple[Any, ...], str] = {}
        self._misses = 0

    def lookup(self, contact: dict[str, Any], sequence: str, step: str) -> str | None:
        """The output, when already rendered for these values; None otherwise (not rendered
        yet, or values that are rendered each time). Needs no scope: nothing else counts."""
        if self._misses >= _MEMO_MAX:
            return None
        key = self._key(contact, sequence, step)
        if key is None:
            return None
        out = self._memo.get(key)
        if out is None:
            return None
        return self._filled(out, contact)

    def __call__(self, scope: dict[str, Any]) -> str:
        if self._misses >= _MEMO_MAX:
            return self._render(scope)  # values rarely repeat (e.g. it reads the name): stop
        contact = scope["contact"]
        key = self._key(contact, scope["sequence"], scope["step"])
        if key is None:
            return self._render(scope)  # missing (raises as Jinja does) or not memoizable
        out = self._memo.get(key)
        if out is None:
            self._misses += 1
            if self._slots:
                # The markers must be the only NULs of the output: the template's own text
                # has none (_printed_only), and neither may anything else it prints.
                if not _nul_free(key) or not _nul_free(scope.get("sender")):
                    return self._render(scope)
                marked = dict(contact)
                marked.update(zip(self._slots, self._markers, strict=True))
                out = self._render({**scope, "contact": marked})
            else:
                out = self._render(scope)
            if len(self._memo) < _MEMO_MAX:
                self._memo[key] = out
        return self._filled(out, contact)

    def _key(self, contact: dict[str, Any], sequence: str, step: str) -> tuple[Any, ...] | None:
        """What the output depends on; None when a value is missing or not memoizable (also
        a printed one: a str with a NUL could mimic a marker)."""
        key: list[Any] = [sequence, step]
        for name in self._attrs:
            value = contact.get(name, _MISSING)
            if type(value) not in _MEMO_TYPES:
                return None
            key.append(type(value))
            key.append(value)
        for name in self._slots:
            value = contact.get(name, _MISSING)
            if type(value) not in _MEMO_TYPES or (type(value) is str and "\x00" in value):
                return None
        return tuple(key)

    def _filled(self, out: str, contact: dict[str, Any]) -> str:
        """The memoized output with each printed attribute's str() in its marker's place."""
        slots, markers = self._slots, self._markers
        for i in range(len(slots)):
            value = contact[slots[i]]
            out = out.replace(markers[i], "" if value is None else str(value))  # empty is empty
        return out


_MARK: Final = "\x00slot\x00"  # NUL: in nothing else the output holds (checked), so never confused
_MISSING: Final = object()


def _nul_free(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_nul_free(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_nul_free(v) for v in value)
    return True


Render = Callable[[dict[str, Any]], str]


@dataclass(slots=True, init=False)
class Rendered:
    """A message's content. Built for every message: its __init__ is compiled (engine/model.py
    says why it is written out)."""

    subject: str | None
    text: str | None
    html: str | None
    unsubscribe_url: str | None

    def __init__(
        self,
        subject: str | None,
        text: str | None,
        html: str | None,
        unsubscribe_url: str | None,
    ) -> None:
        self.subject = subject
        self.text = text
        self.html = html
        self.unsubscribe_url = unsubscribe_url


@dataclass
class Renderer:
    templates_dir: Path
    settings: ProjectSettings
    unsubscribe_secret: bytes = b""
    subjects_only: bool = False  # simulate needs subjects, not bodies
    # channel -> key for its tokens, overriding `unsubscribe_secret` (None: the project's key)
    unsubscribe_keys: dict[str | None, bytes] = field(default_factory=dict)
    # journeyctl.engine.links.Links when journey.yaml sets http.public_url: unsubscribe and
    # tracking links name the message and point at the listener
    links: Any = None
    fingerprint: str = ""  # the project's (spec.manifest): what the template cache keys on
    _files: dict[str, Render] = field(default_factory=dict)
    _inline_templates: dict[str, Render] = field(default_factory=dict)
    _hmacs: dict[str, Any] = field(default_factory=dict)  # per channel, keyed once; copied
    _sender: dict[str, Any] | None = None
    _last_unsub: tuple[str, str, str] = ("", "", "")  # (channel, contact id, url)
    _files_name_unsubscribe: bool | None = None  # any template file names unsubscribe_url
    _step_unsub: dict[int, tuple[Send, bool]] = field(default_factory=dict)  # by id(step)
    _subjects: dict[int, _SubjectPlan] = field(default_factory=dict)  # by id(step)
    _probes: dict[int, _Probe] = field(default_factory=dict)  # by id(step)

    def _file(self, name: str) -> Render:
        tpl = self._files.get(name)
        if tpl is None:
            tpl = self._files[name] = file_template(
                self.templates_dir, name, self.fingerprint
            ).render
        return tpl

    def _text(self, source: str) -> Render:
        tpl = self._inline_templates.get(source)
        if tpl is None:
            render = inline_template(source).render
            reads = _contact_reads(source)
            tpl = self._inline_templates[source] = (
                render if reads is None else _Memo(render, reads, _printed_only(source, reads))
            )
        return tpl

    def unsubscribe_url(self, channel: str, contact: Contact, message_id: str = "") -> str:
        if self.links is not None:
            return str(self.links.unsubscribe(channel, contact.id, message_id))
        last = self._last_unsub  # a contact's several messages in one advance share it
        if last[0] == channel and last[1] == contact.id:
            return last[2]
        cfg = self.settings.channels.get(channel)
        url = getattr(cfg, "unsubscribe_url", None) or self.settings.unsubscribe_url
        keyed = self._hmacs.get(channel)
        if keyed is None:
            keys = self.unsubscribe_keys
            key = keys.get(channel, keys.get(None, self.unsubscribe_secret))
            key = signing_key(key)  # the first of `new,old` (rotation)
            keyed = self._hmacs[channel] = hmac.new(key, digestmod=hashlib.sha256)
        mac = keyed.copy()
        mac.update(contact.id.encode())
        token = mac.hexdigest()[:32]  # == unsubscribe_token(secret, id)
        out = self._text(url)({"token": token, "contact_id": contact.id})
        self._last_unsub = (channel, contact.id, out)
        return out

    def _uses_unsubscribe(self, step: Send) -> bool:
        """Whether this step's content may read `unsubscribe_url`: its inline subject or body,
        or any file under templates/ (layouts and includes too) names it. Fixed per step."""
        known = self._step_unsub.get(id(step))
        if known is not None and known[0] is step:
            return known[1]
        if self._files_name_unsubscribe is None:
            root = self.templates_dir
            self._files_name_unsubscribe = root.is_dir() and any(
                "unsubscribe_url" in p.read_text(encoding="utf-8", errors="replace")
                for p in root.rglob("*")
                if p.is_file() and not leaves(root.parent, p)  # never read out of the project
            )
        uses = self._files_name_unsubscribe or any(
            "unsubscribe_url" in (text or "") for text in (step.subject, step.body)
        )
        self._step_unsub[id(step)] = (step, uses)
        return uses

    def render(
        self,
        step: Send,
        *,
        sequence: str,
        channel: str,
        contact: Contact,
        contact_value: dict[str, Any],
        now: datetime,
        marketing: bool = True,
        tz: ZoneInfo | None = None,
        enrollment: str = "",
        event: dict[str, Any] | None = None,
    ) -> Rendered:
        """`marketing`: the message carries a List-Unsubscribe link, so the URL is needed even
        when no template shows it; for other mail it is computed only if content names it.
        Subjects only (simulate): no message is built, so only if the subject may show it.
        `tz`: templates see `now` in this zone, converted only if they may read it.
        `enrollment`: with listener links, their tokens name the message it makes the key of.
        `event`: the triggering event's value for an event-triggered sequence (event_scope)."""
        mid = ""
        if self.links is not None and not self.subjects_only:  # simulate shows no links
            mid = message_key(contact.id, sequence, enrollment, step.send)
        if self.subjects_only:
            out = self._subject(
                step, sequence, channel, contact, contact_value, now, tz, mid, event
            )
            self._probe(
                step, sequence, channel, contact, contact_value, now, marketing, tz, mid, event
            )
            return out
        return self._content(
            step, sequence, channel, contact, contact_value, now, marketing, tz, mid, event
        )

    def _content(
        self,
        step: Send,
        sequence: str,
        channel: str,
        contact: Contact,
        contact_value: dict[str, Any],
        now: datetime,
        marketing: bool,
        tz: ZoneInfo | None,
        mid: str = "",
        event: dict[str, Any] | None = None,
    ) -> Rendered:
        needed = marketing or self._uses_unsubscribe(step)
        unsub = self.unsubscribe_url(channel, contact, mid) if needed else None
        scope = self._scope(step, sequence, contact_value, unsub, now, tz, event=event)
        # Which part is rendering, so a failure for this contact's data names it.
        part, source = "subject", step.subject or ""
        try:
            subject = self._text(step.subject)(scope).strip() if step.subject else None
            text = html = None
            if step.template:
                part, source = "template", step.template
                out = self._file(step.template)(scope)
                if is_html(step.template):
                    html = out
                else:
                    text = out
            if step.text_template:
                part, source = "template", step.text_template
                text = self._file(step.text_template)(scope)
            if step.body:
                part, source = "body", step.body
                body = self._text(step.body)(scope)
                text = body if text is None else text
        except Exception as exc:
            raise RenderFailure.of(part, source, exc) from exc
        if html is not None and self.links is not None and not self.subjects_only:
            html = self.links.rewrite_html(html, channel, contact.id, mid, contact_value)
        return Rendered(subject, text, html, unsub)

    def _probe(
        self,
        step: Send,
        sequence: str,
        channel: str,
        contact: Contact,
        contact_value: dict[str, Any],
        now: datetime,
        marketing: bool,
        tz: ZoneInfo | None,
        mid: str = "",
        event: dict[str, Any] | None = None,
    ) -> None:
        """simulate renders subjects only, yet must predict the messages whose body fails to
        render for the contact's data (run fails them). Whether a body renders depends on
        a few values it computes with (failures.content_deps): it is rendered once per
        distinct such values and the outcome remembered; when unknown, every time."""
        probe = self._probes.get(id(step))
        if probe is None or probe.step is not step:
            parts = [(True, n) for n in (step.template, step.text_template) if n]
            if step.body:
                parts.append((False, step.body))
            # a subject alone: _subject has rendered it, nothing more to check
            deps = (
                content_deps(template_environment(self.templates_dir, self.fingerprint), parts)
                if parts
                else None
            )
            probe = self._probes[id(step)] = _Probe(step, deps)
        if probe.empty:
            return
        key: tuple[Any, ...] | None = None
        reads = probe.reads
        if reads is not None:
            # The sequence, channel and marketing flag are the step's own: not in the key.
            values: list[Any] = []
            by_type = probe.by_type
            for i in range(len(reads)):
                v = contact_value.get(reads[i], _MISSING)
                if by_type[i] and (type(v) is date or type(v) is datetime):
                    v = type(v)  # renders alike for every date (failures.ContentDeps)
                values.append(v)
            present = True  # a name missing from the contact fails StrictUndefined
            for a in probe.names:
                if a not in contact_value:
                    present = False
                    break
            key = (tuple(values), present)
            if probe.uses_event:
                ev = _event_key(probe, event)
                key = None if ev is _UNKEYED else (tuple(values), present, ev)
            try:
                known = probe.memo.get(key, _MISSING) if key is not None else _MISSING
            except TypeError:  # an unhashable value (a JSON list): render this one
                key, known = None, _MISSING
            if known is None:
                return
            if type(known) is RenderFailure:
                raise known.again()
        failure: RenderFailure | None = None
        try:
            self._content(
                step, sequence, channel, contact, contact_value, now, marketing, tz, mid, event
            )
        except RenderFailure as exc:
            failure = exc
        if key is not None and len(probe.memo) < _PROBE_MAX:  # full: still read, add none
            probe.memo[key] = failure
        if failure is not None:
            raise failure

    def _subject(
        self,
        step: Send,
        sequence: str,
        channel: str,
        contact: Contact,
        contact_value: dict[str, Any],
        now: datetime,
        tz: ZoneInfo | None,
        mid: str = "",
        event: dict[str, Any] | None = None,
    ) -> Rendered:
        """`render` for simulate: the subject alone. What a step's subject needs is fixed per
        step; a memoized subject already rendered for these values needs no scope at all."""
        known = self._subjects.get(id(step))
        if known is None or known.step is not step:
            subject = step.subject
            known = self._subjects[id(step)] = _SubjectPlan(
                step,
                self._text(subject) if subject else None,
                _subject_may_read(subject, "unsubscribe_url"),
                _subject_may_read(subject, "now"),
            )
        unsub = self.unsubscribe_url(channel, contact, mid) if known.needs_unsubscribe else None
        tpl = known.template
        if tpl is None:
            return Rendered(None, None, None, unsub)
        out = tpl.lookup(contact_value, sequence, step.send) if type(tpl) is _Memo else None
        if out is None:
            scope = self._scope(
                step, sequence, contact_value, unsub, now, tz, known.reads_now, event
            )
            try:
                out = tpl(scope)
            except Exception as exc:
                raise RenderFailure.of("subject", step.subject or "", exc) from exc
        return Rendered(out.strip(), None, None, unsub)

    def _scope(
        self,
        step: Send,
        sequence: str,
        contact_value: dict[str, Any],
        unsub: str | None,
        now: datetime,
        tz: ZoneInfo | None,
        reads_now: bool = True,
        event: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if tz is not None and reads_now:
            now = now.astimezone(tz)
        sender = self._sender
        if sender is None:
            sender = self._sender = self.settings.sender.model_dump()
        scope = {
            "contact": contact_value,
            "sequence": sequence,
            "step": step.send,
            "unsubscribe_url": unsub,
            # Shared between messages: the immutable sandbox forbids templates to modify it.
            "sender": sender,
            "now": now,
        }
        if event is not None:
            scope["event"] = event
        return scope


class _Probe:
    """Whether a step's body renders, by the values that decide it (`Renderer._probe`)."""

    def __init__(self, step: Send, deps: ContentDeps | None) -> None:
        self.step = step
        self.empty = deps is None  # no body to check
        self.reads = deps.reads if deps is not None else ()
        self.names = deps.names if deps is not None else ()
        self.by_type = tuple(a in deps.by_type for a in self.reads or ()) if deps else ()
        self.uses_event = deps is not None and deps.uses_event
        self.event_reads = deps.event_reads if deps is not None else ()
        event_by_type = deps.event_by_type if deps is not None else frozenset()
        self.event_by_type = tuple(a in event_by_type for a in self.event_reads)
        self.memo: dict[tuple[Any, ...], RenderFailure | None] = {}


def _event_key(probe: _Probe, event: dict[str, Any] | None) -> Any:
    """What of the triggering event decides whether the body renders: its absence, or the
    values of the properties the body names (exactly: each value with its type, see
    `_exact`); _UNKEYED when one has no such key (a JSON object): that body is rendered."""
    if event is None:
        return None
    reads, by_type = probe.event_reads, probe.event_by_type
    out: list[Any] = []
    for i in range(len(reads)):
        v = event.get(reads[i], _MISSING)
        if v is _MISSING:
            out.append(v)  # no such property: `event.x` is then dict's attribute, if any
            continue
        if by_type[i] and (type(v) is date or type(v) is datetime):
            out.append(type(v))  # renders alike for every date (failures.ContentDeps)
            continue
        k = _exact(v)
        if k is _UNKEYED:
            return _UNKEYED
        out.append(k)
    return tuple(out)


def _exact(v: Any) -> Any:
    """A hashable key equal only for values that render alike: tagged with the exact type
    (1, 1.0 and True are equal in Python), floats by repr (0.0 and -0.0), datetimes with
    their zone and fold (equal instants in two zones show different hours), lists item by
    item; _UNKEYED for anything else."""
    t = type(v)
    if t is str or t is int or t is bool or v is None or t is date:
        return (t, v)
    if t is float:
        return (t, repr(v))
    if t is datetime:
        return (t, v, v.tzinfo, v.fold)
    if t is list or t is tuple:
        items: list[Any] = []
        for x in v:
            k = _exact(x)
            if k is _UNKEYED:
                return _UNKEYED
            items.append(k)
        return (t, tuple(items))
    return _UNKEYED


_UNKEYED: Final = object()


_PROBE_MAX: Final = 65536


class _SubjectPlan:
    """What rendering a step's subject needs, fixed per step (`Renderer._subject`)."""

    def __init__(
        self,
        step: Send,
        template: Render | None,
        needs_unsubscribe: bool,
        reads_now: bool,
    ) -> None:
        self.step = step
        self.template = template
        self.needs_unsubscribe = needs_unsubscribe
        self.reads_now = reads_now


@lru_cache(maxsize=4096)
def _subject_may_read(subject: str | None, name: str) -> bool:
    """Whether an inline subject names `name`, or loads another template that might."""
    if not subject:
        return False
    return name in subject or any(word in subject for word in ("include", "import", "extends"))
