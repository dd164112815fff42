"""Render a send step for a contact: subject, text and HTML. Pure apart from reading templates
once (compiled and cached per project); contact values are data, never compiled as templates.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Template

from journeyctl.engine.model import Contact
from journeyctl.spec.models import ProjectSettings, Send
from journeyctl.spec.templates import file_template, inline_template, is_html


def unsubscribe_token(secret: bytes, contact_id: str) -> str:
    """Per-contact token for one-click unsubscribe links: HMAC-SHA256, URL-safe, 32 hex chars."""
    return hmac.new(secret, contact_id.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str | None
    text: str | None
    html: str | None
    unsubscribe_url: str | None


@dataclass
class Renderer:
    templates_dir: Path
    settings: ProjectSettings
    unsubscribe_secret: bytes = b""
    subjects_only: bool = False  # simulate needs subjects, not bodies
    _files: dict[str, Template] = field(default_factory=dict)

    def _file(self, name: str) -> Template:
        tpl = self._files.get(name)
        if tpl is None:
            tpl = self._files[name] = file_template(self.templates_dir, name)
        return tpl

    def unsubscribe_url(self, channel: str, contact: Contact) -> str:
        cfg = self.settings.channels.get(channel)
        url = getattr(cfg, "unsubscribe_url", None) or self.settings.unsubscribe_url
        token = unsubscribe_token(self.unsubscribe_secret, contact.id)
        return inline_template(url).render(token=token, contact_id=contact.id)

    def render(
        self,
        step: Send,
        *,
        sequence: str,
        channel: str,
        contact: Contact,
        contact_value: dict[str, Any],
        now: datetime,
    ) -> Rendered:
        unsub = self.unsubscribe_url(channel, contact)
        scope = {
            "contact": contact_value,
            "sequence": sequence,
            "step": step.send,
            "unsubscribe_url": unsub,
            "sender": self.settings.sender.model_dump(),
            "now": now,
        }
        subject = inline_template(step.subject).render(scope).strip() if step.subject else None
        text = html = None
        if self.subjects_only:
            return Rendered(subject, None, None, unsub)
        if step.template:
            out = self._file(step.template).render(scope)
            if is_html(step.template):
                html = out
            else:
                text = out
        if step.text_template:
            text = self._file(step.text_template).render(scope)
        if step.body:
            body = inline_template(step.body).render(scope)
            text = body if text is None else text
        return Rendered(subject, text, html, unsub)
