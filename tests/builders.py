"""Test builders: write a project tree from strings and load it; contacts and events."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.engine.model import Contact, Event
from journeyctl.spec.loader import load_project
from journeyctl.spec.project import Project

KST = ZoneInfo("Asia/Seoul")
NYC = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")

DEFAULT_JOURNEY = """
timezone: Asia/Seoul
channels:
  email: {type: file, path: outbox/, medium: email}
  sms: {type: file, path: outbox/, medium: sms}
"""


def build_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def make_project(
    root: Path, sequences: dict[str, str], journey: str = DEFAULT_JOURNEY, **templates: str
) -> Project:
    files = {"journey.yaml": journey, **{f"{k}.yaml": v for k, v in sequences.items()}}
    files.update({f"templates/{k}": v for k, v in templates.items()})
    build_tree(root, files)
    # Engine tests load without the semantic checks (compliance etc. have their own tests),
    # but the files must parse and match the schema.
    project = load_project(root)
    assert not project.errors, [str(d) for d in project.errors]
    return project


def at(text: str, tz: ZoneInfo = KST) -> datetime:
    """'2026-11-01 09:00' in a zone -> aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=tz).astimezone(UTC)


def contact(cid: str, tz: str | None = "Asia/Seoul", **attrs: Any) -> Contact:
    email = attrs.pop("email", f"{cid}@example.com")
    phone = attrs.pop("phone", "01012345678")
    name = attrs.pop("name", cid.upper())
    return Contact(cid, email=email, phone=phone, name=name, timezone=tz, attrs=attrs)


def event(cid: str, name: str, when: datetime, **props: Any) -> Event:
    return Event(cid, name, when, tuple(sorted(props.items())))
