"""Compliance rule sets (`compliance: [kr, us, eu]` in journey.yaml) for ad sequences.

Each rule set is a module with `check(project) -> Iterator[Diagnostic]`; the helpers here
say which sends are ads and what their content reads.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass

from journeyctl.diagnostics import Diagnostic, Location
from journeyctl.spec.models import Medium, Send
from journeyctl.spec.project import LoadedSequence, Project
from journeyctl.spec.template_checks import inline_reads, template_reads, template_text
from journeyctl.spec.walk import KeyPath, is_ad, iter_sends, medium_of

RULE_SETS = ("kr", "us", "eu")


@dataclass(frozen=True)
class AdSend:
    seq: LoadedSequence
    send: Send
    path: KeyPath
    medium: Medium

    def locate(self, *keys: str) -> Location:
        """The first of `keys` the step has (e.g. template, then body), else the step itself."""
        for key in keys:
            if getattr(self.send, key, None) is not None:
                return self.seq.source.scalar_location((*self.path, key))
        return self.seq.source.locate((*self.path, "send"))


def ad_sends(project: Project) -> Iterator[AdSend]:
    for seq in project.sequences.values():
        if not is_ad(seq):
            continue
        for send, path in iter_sends(seq):
            medium = medium_of(project, send)
            if medium is not None:
                yield AdSend(seq, send, path, medium)


def reads(project: Project, send: Send) -> set[str] | None:
    """Names (`unsubscribe_url`) and attributes (`sender.name`) the message's content reads.

    None when a template file is missing: `missing-template` says so, guessing would be noise.
    """
    out: set[str] = set()
    for name in (send.template, send.text_template):
        if name is not None:
            if template_text(project, name) is None:
                return None
            out |= template_reads(project, name)
    for text in (send.subject, send.body):
        if text is not None:
            out |= inline_reads(text)
    return out


def body_text(project: Project, send: Send) -> str | None:
    """The message body's source: the inline body, else the template file's text."""
    if send.body is not None:
        return send.body
    for name in (send.text_template, send.template):
        if name is not None:
            text = template_text(project, name)
            if text is not None:
                return text
    return None


def settings_location(project: Project, *path: str) -> Location:
    """journey.yaml's `path` if written, else its `compliance:` key."""
    src = project.settings_source
    assert src is not None, "compliance rules come from journey.yaml"
    if src.node_at(path) is not None:
        return src.locate(path)
    return src.locate(("compliance",), at_key=True)


def check_compliance(project: Project) -> Iterator[Diagnostic]:
    for name in dict.fromkeys(project.settings.compliance):
        module = importlib.import_module(f"journeyctl.spec.compliance.{name}")
        yield from module.check(project)
