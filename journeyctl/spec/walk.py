"""What the checks iterate over: every step with its YAML key path, every expression, fields.

Pure helpers over the models; no diagnostics are produced here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from journeyctl.spec.models import (
    Branch,
    DateTrigger,
    EventTrigger,
    KeyPath,
    Medium,
    SegmentTrigger,
    Send,
    Step,
    WaitFor,
)
from journeyctl.spec.project import LoadedSequence, Project

# Columns with meaning (SPEC §3), the same as engine.model.WELL_KNOWN_COLUMNS; spec sits below
# the engine in the layering, so it keeps its own copy.
WELL_KNOWN_COLUMNS = ("id", "email", "phone", "name", "timezone")


def iter_steps(steps: list[Step], path: KeyPath = ("steps",)) -> Iterator[tuple[Step, KeyPath]]:
    """Every step, nested ones included, in document order, with its key path."""
    for i, step in enumerate(steps):
        here = (*path, i)
        yield step, here
        for sub, subpath in sublists(step, here):
            yield from iter_steps(sub, subpath)


def iter_step_lists(
    steps: list[Step], path: KeyPath = ("steps",)
) -> Iterator[tuple[list[Step], KeyPath]]:
    """Every list of steps (the top level, branch arms, split arms, wait_for outcomes)."""
    yield steps, path
    for i, step in enumerate(steps):
        for sub, subpath in sublists(step, (*path, i)):
            yield from iter_step_lists(sub, subpath)


def sublists(step: Step, path: KeyPath) -> list[tuple[list[Step], KeyPath]]:
    """The lists of steps `step` (at `path`) holds, with their key paths (models: `nested`)."""
    return [(sub, (*path, *below)) for sub, below in step.nested().values()]


def iter_sends(seq: LoadedSequence) -> Iterator[tuple[Send, KeyPath]]:
    for step, path in iter_steps(seq.model.steps):
        if isinstance(step, Send):
            yield step, path


def iter_expressions(seq: LoadedSequence) -> Iterator[tuple[str, KeyPath, bool]]:
    """(source, key path, whether `event` is in scope) for every expression of a sequence.
    `event` is the triggering event in an event-triggered sequence's audience and branches
    (engine.event_scope), the awaited one in a wait_for's `where`."""
    model = seq.model
    trig = model.trigger
    triggered = isinstance(trig, EventTrigger)
    if model.audience is not None:
        yield model.audience, ("audience",), triggered
    if isinstance(trig, SegmentTrigger):
        yield trig.segment, ("trigger", "segment"), False
    elif isinstance(trig, EventTrigger) and trig.where is not None:
        yield trig.where, ("trigger", "where"), True
    for step, path in iter_steps(model.steps):
        if isinstance(step, Branch):
            yield step.branch.if_, (*path, "branch", "if"), triggered
        elif isinstance(step, WaitFor) and step.wait_for.where is not None:
            # the awaited event is in scope, as in a trigger's `where` (docs/DECISIONS.md)
            yield step.wait_for.where, (*path, "wait_for", "where"), True


def declared_fields(project: Project) -> set[str]:
    """Contact attributes templates and expressions may read: declared columns + well-known."""
    return {*project.settings.contacts.fields, *WELL_KNOWN_COLUMNS}


def channel_of(project: Project, send: Send) -> str | None:
    """The channel a send uses, or None when it names one that does not exist."""
    name = send.channel or project.default_channel()
    return name if name in project.settings.channels else None


def medium_of(project: Project, send: Send) -> Medium | None:
    name = channel_of(project, send)
    return None if name is None else project.settings.channels[name].medium


def display_root(project: Project) -> Path:
    """The project root as diagnostics show it (relative when the sources are)."""
    for seq in project.sequences.values():
        return seq.source.path.parent
    if project.settings_source is not None:
        return project.settings_source.path.parent
    return project.root


def is_ad(seq: LoadedSequence) -> bool:
    return seq.model.ad and not seq.model.transactional


__all__ = ["DateTrigger", "KeyPath", "iter_expressions", "iter_sends", "iter_steps"]
