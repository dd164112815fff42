"""Loading shared by commands: a valid project, contacts and events with located errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from journeyctl.engine.model import Contact, Event
from journeyctl.run.imports import InputReport
from journeyctl.spec.project import Project

if TYPE_CHECKING:
    from journeyctl.data.build import ContactRow, EventRow
    from journeyctl.data.result import ReadResult

T = TypeVar("T")


def load_project_or_fail(root: Path, *, fingerprint: str | None = None) -> Project:
    """`fingerprint`: the project's files as the caller hashed them (spec.fingerprint)."""
    from journeyctl.spec import load_valid_project

    return load_valid_project(root, fingerprint=fingerprint)


def load_contacts(
    project: Project, path: Path, encoding: str | None, skip_invalid: bool = False
) -> list[Contact]:
    return read_contacts_input(project, path, encoding, skip_invalid=skip_invalid)[0]


def load_events(
    project: Project, path: Path | None, encoding: str | None, skip_invalid: bool = False
) -> list[Event]:
    if path is None:
        return []
    return read_events_input(project, path, encoding, skip_invalid=skip_invalid)[0]


def read_contacts_input(
    project: Project,
    path: Path,
    encoding: str | None,
    *,
    skip_invalid: bool = False,
    hold_back: bool = False,
    each: Callable[[Contact], object] | None = None,
    rows: Callable[[ContactRow], object] | None = None,
) -> tuple[list[Contact], InputReport]:
    """`each`: every good contact is given to it as it is read, none kept; `rows` the same
    with the tuple of its fields, no Contact built (simulate's partition)."""
    from journeyctl.data.contacts import read_contact_rows, read_contacts

    if rows is not None:
        return _read(
            read_contact_rows, "contacts", project, path, encoding, skip_invalid, hold_back,
            each=rows,
        )  # fmt: skip
    return _read(
        read_contacts, "contacts", project, path, encoding, skip_invalid, hold_back, each=each
    )


def check_contacts_input(
    project: Project, path: Path, encoding: str | None, *, skip_invalid: bool = False
) -> tuple[ReadResult[Contact], InputReport]:
    """read_contacts_input without keeping the contacts: the first pass of `contacts import`,
    which then streams them with `data.contacts.read_again` (a million contacts never sit in
    memory at once). Same errors, same report, same rejects file."""
    from journeyctl.data.contacts import read_contacts

    kept: list[ReadResult[Contact]] = []

    def check(*args: Any, **kwargs: Any) -> ReadResult[Contact]:
        kept.append(read_contacts(*args, **kwargs, keep=False))
        return kept[0]

    report = _read(check, "contacts", project, path, encoding, skip_invalid, False)[1]
    return kept[0], report


def read_events_input(
    project: Project,
    path: Path,
    encoding: str | None,
    *,
    skip_invalid: bool = False,
    hold_back: bool = False,
    each: Callable[[Event], object] | None = None,
    rows: Callable[[EventRow], object] | None = None,
) -> tuple[list[Event], InputReport]:
    """`each` and `rows` as for read_contacts_input."""
    from journeyctl.data.events import read_event_rows, read_events

    if rows is not None:
        return _read(
            read_event_rows, "events", project, path, encoding, skip_invalid, hold_back,
            each=rows,
        )  # fmt: skip
    return _read(read_events, "events", project, path, encoding, skip_invalid, hold_back, each=each)


def _read(
    reader: Callable[..., Any],
    kind: str,
    project: Project,
    path: Path,
    encoding: str | None,
    skip_invalid: bool,
    hold_back: bool,
    **extra: Any,
) -> tuple[list[T], InputReport]:
    """Read one input file and say what became of it (imports.InputReport).

    `skip_invalid`: the good rows, the bad ones written to `rejects_path(path)`.
    Otherwise a bad row leaves the whole file out (SPEC §3): a DataError, or with `hold_back`
    (`run`) an empty list and a report saying why, so the tick can go on without the file.
    A file that cannot be read to the end (bad header, broken quoting) is left out even with
    `skip_invalid`. An unreadable path stays a usage error (exit 2) either way.
    """
    from journeyctl.data.result import InvalidRows, rejects_path
    from journeyctl.errors import DataError

    report = InputReport(kind, path)
    rejects = rejects_path(path) if skip_invalid else None
    try:
        result = reader(
            path,
            project.settings,
            encoding=encoding,
            skip_invalid=skip_invalid,
            rejects=rejects,
            **{k: v for k, v in extra.items() if v is not None},
        )
    except InvalidRows as exc:
        if exc.fatal:
            why = "it cannot be read to the end (a problem no row can be skipped past)"
        else:
            why = f"{exc.bad_rows} bad row(s)"
        hint = (
            ""
            if exc.fatal or skip_invalid
            else f"; --skip-invalid imports the good rows and writes the bad ones to "
            f"{rejects_path(path)}"
        )
        if not hold_back:
            raise DataError(exc.diagnostics, f"{exc}{hint}") from None
        report.hold_back(
            f"{why}; nothing imported from this file{hint}", exc.bad_rows, exc.diagnostics
        )
        return [], report
    report.rows = result.rows
    report.rejected = result.rejected
    report.rejects = rejects
    report.diagnostics = [d for d in result.diagnostics if d.is_error]
    return result.items, report


def pick_contact(
    project: Project,
    contact: str | None,
    contacts: Path | None,
    db: str | None,
    encoding: str | None,
) -> Contact:
    """The contact `preview` and `send-test` render for: `contact` from the `contacts` file or
    the `db` (read, never written), or a sample contact with every declared column."""
    from journeyctl.errors import UsageError

    if contact is None:
        if contacts is not None or db is not None:
            raise UsageError("--contacts and --db name where --contact ID is read; give --contact")
        from journeyctl.engine.sample import sample_contact

        return sample_contact(project.settings)
    if contacts is not None and db is not None:
        raise UsageError("--contact is read from --contacts FILE or --db FILE, not both")
    if contacts is not None:
        found = [c for c in load_contacts(project, contacts, encoding) if c.id == contact]
        if not found:
            raise UsageError(f"contact {contact!r} is not in {contacts}")
        return found[0]
    if db is not None:
        from journeyctl.cli.db_render import open_existing

        store = open_existing(db)
        try:
            return store.load(contact).contact
        except KeyError:
            raise UsageError(f"contact {contact!r} is not in {store.path}") from None
        finally:
            store.close()
    raise UsageError("--contact ID needs --contacts FILE or --db FILE to read the contact from")


def project_timezone(root: Path | None) -> str | None:
    """The `timezone` of `root`'s journey.yaml (None without a directory), for commands that
    read a database and show its times; a journey.yaml with errors is a ProjectError."""
    if root is None:
        return None
    from journeyctl.errors import ProjectError, UsageError
    from journeyctl.spec.loader import load_settings

    if not root.is_dir():
        raise UsageError(f"{root}: not a project directory")
    settings, src = load_settings(root)
    bad = [d for d in src.diagnostics if d.is_error] if src is not None else []
    if bad:
        raise ProjectError(bad, "journey.yaml has errors; run `journeyctl validate`")
    return settings.timezone
