"""`validate --contacts`: render every message for every contact of a real file.

The file's columns count as declared string fields (SPEC §2: undeclared columns are strings),
so a template may read them; a `contact.x` that is neither declared nor a column stays an
error. Contacts arrive as plain (id, template value) pairs; reading the file is data's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from jinja2 import Template, TemplateError

from journeyctl.diagnostics import Diagnostic, Location, error, sort_key, warning
from journeyctl.spec.models import EventTrigger
from journeyctl.spec.project import LoadedSequence, Project
from journeyctl.spec.template_checks import template_text
from journeyctl.spec.templates import Record, file_template, inline_template
from journeyctl.spec.walk import KeyPath, iter_sends

ContactRow = tuple[str, dict[str, Any]]  # (contact id, Contact.as_template_value())
UNSUBSCRIBE_PLACEHOLDER = "https://unsubscribe.invalid/preview"
MAX_IDS = 5
# A subject or body that opens with a bare personalisation, after an optional (광고) label:
# empty for a contact, the message starts with what followed it ("님, …").
_OPENING_FIELD = re.compile(r"\s*(?:\(광고\)\s*)?\{\{-?\s*contact\.(\w+)\s*-?\}\}")


def with_columns(project: Project, columns: set[str]) -> Project:
    """The project with the file's undeclared columns declared as strings."""
    fields = dict(project.settings.contacts.fields)
    fields.update({c: "string" for c in sorted(columns) if c not in fields})
    contacts = project.settings.contacts.model_copy(update={"fields": fields})
    settings = project.settings.model_copy(update={"contacts": contacts})
    return replace(project, settings=settings, diagnostics=list(project.diagnostics))


def validate_with_contacts(
    project: Project, contacts: Sequence[ContactRow], now: datetime
) -> list[Diagnostic]:
    """All checks with the file's columns known, plus a render of every message per contact."""
    from journeyctl.spec import validate_project

    columns = {key for _, value in contacts for key in value}
    widened = with_columns(project, columns)
    diags = validate_project(widened)
    if not any(d.is_error for d in diags):
        diags.extend(render_all(widened, contacts, now))
    return sorted(diags, key=sort_key)


def _compiled(project: Project, name: str) -> Template | None:
    if template_text(project, name) is None:
        return None
    try:
        return file_template(project.templates_dir, name)
    except TemplateError:
        return None


# A plausible value per declared event property type, for rendering with real contacts.
_EVENT_SAMPLES: dict[str, Any] = {
    "string": "예시", "int": 3, "float": 1.5, "bool": True, "date": date(2026, 10, 1),
    "datetime": datetime(2026, 10, 1, 1, 0, tzinfo=UTC), "list": ["예시 1", "예시 2"],
}  # fmt: skip


def _sample_event(project: Project, seq: LoadedSequence, now: datetime) -> Record | None:
    """`event` for the templates of an event-triggered sequence (engine.event_scope)."""
    trig = seq.model.trigger
    if not isinstance(trig, EventTrigger):
        return None
    fields = project.settings.events.fields.get(trig.event, {})
    return Record(
        {"name": trig.event, "at": now, **{k: _EVENT_SAMPLES[t] for k, t in fields.items()}}
    )


def _targets(project: Project) -> Iterator[tuple[str, str, Location, Template, str]]:
    """(sequence, step, location, compiled template, what) for every message part."""
    for seq in project.sequences.values():
        for send, path in iter_sends(seq):
            parts: list[tuple[str, KeyPath, Template | None]] = []
            for key in ("subject", "body"):
                text = getattr(send, key)
                if text is not None:
                    try:
                        parts.append((key, (*path, key), inline_template(text)))
                    except TemplateError:
                        parts.append((key, (*path, key), None))
            for key in ("template", "text_template"):
                name = getattr(send, key)
                if name is not None:
                    parts.append((f"template '{name}'", (*path, key), _compiled(project, name)))
            for what, kpath, tmpl in parts:
                if tmpl is not None:
                    loc = seq.source.scalar_location(kpath)
                    yield seq.id, send.id, loc, tmpl, f"{what} of step '{send.id}'"


def empty_openings(project: Project, contacts: Sequence[ContactRow]) -> Iterator[Diagnostic]:
    """Subjects and bodies that would start with an empty personalisation for some contacts
    (an empty `name` prints as nothing: "님, 환영합니다")."""
    for seq in project.sequences.values():
        for send, path in iter_sends(seq):
            for key in ("subject", "body"):
                text = getattr(send, key)
                m = _OPENING_FIELD.match(text or "")
                if m is None:
                    continue
                field = m[1]
                ids = [cid for cid, value in contacts if value.get(field) in (None, "")]
                if not ids:
                    continue
                shown = ", ".join(ids[:MAX_IDS]) + (", ..." if len(ids) > MAX_IDS else "")
                rest = text[m.end() :].strip()[:12]  # type: ignore[index]
                yield warning(
                    seq.source.scalar_location((*path, key)),
                    "empty-personalisation",
                    f"{key} of step '{send.id}' starts with contact.{field}, which is empty for "
                    f"{len(ids)} contact(s) ({shown}): they would read '{rest}…'",
                    f"give a fallback: {{{{ contact.{field} | default('고객') }}}}, or reword",
                )


def render_all(
    project: Project, contacts: Sequence[ContactRow], now: datetime
) -> Iterator[Diagnostic]:
    yield from empty_openings(project, contacts)
    sender = project.settings.sender.model_dump()
    for seq_id, step_id, loc, tmpl, what in _targets(project):
        failures: dict[str, list[str]] = {}  # error message -> contact ids
        event = _sample_event(project, project.sequences[seq_id], now)
        for cid, value in contacts:
            context = {
                "contact": value,
                "sequence": seq_id,
                "step": step_id,
                "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
                "sender": sender,
                "now": now,
            }
            if event is not None:
                context["event"] = event
            try:
                tmpl.render(context)
            except Exception as exc:  # any failure is this contact's problem to report
                failures.setdefault(f"{type(exc).__name__}: {exc}", []).append(cid)
        for reason, ids in failures.items():
            shown = ", ".join(ids[:MAX_IDS]) + (", ..." if len(ids) > MAX_IDS else "")
            yield error(
                loc,
                "render-error",
                f"{what} fails for {len(ids)} contact(s) ({shown}): {reason}",
                "guard optional values, e.g. {{ contact.x or '' }} or {% if contact.x %}",
            )
