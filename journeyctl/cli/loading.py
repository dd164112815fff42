"""Loading shared by commands: a valid project, contacts and events with located errors."""

from __future__ import annotations

from pathlib import Path

from journeyctl.engine.model import Contact, Event
from journeyctl.spec.project import Project


def load_project_or_fail(root: Path) -> Project:
    from journeyctl.spec import load_valid_project

    return load_valid_project(root)


def load_contacts(
    project: Project, path: Path, encoding: str | None, skip_invalid: bool = False
) -> list[Contact]:
    from journeyctl.data.contacts import read_contacts

    rejects = path.with_name(path.stem + ".rejects.csv") if skip_invalid else None
    return read_contacts(
        path, project.settings, encoding=encoding, skip_invalid=skip_invalid, rejects=rejects
    ).items


def load_events(
    project: Project, path: Path | None, encoding: str | None, skip_invalid: bool = False
) -> list[Event]:
    if path is None:
        return []
    from journeyctl.data.events import read_events

    rejects = path.with_name(path.stem + ".rejects.csv") if skip_invalid else None
    return read_events(
        path, project.settings, encoding=encoding, skip_invalid=skip_invalid, rejects=rejects
    ).items
