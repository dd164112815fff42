"""Read contacts (SPEC §3) from CSV or JSONL into typed `Contact`s, every bad cell located.

Columns: `id` (required, unique), `email`, `phone`, `name`, `timezone`; every other column is
an attribute typed by `contacts.fields` in journey.yaml (undeclared ones stay strings).
Accepted cell forms are documented in docs/data.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journeyctl.data import build, decode
from journeyctl.data.convert import TYPES, parser_for
from journeyctl.data.result import ReadResult, collect
from journeyctl.data.source import (
    Fatal,
    Header,
    Rejected,
    csv_records,
    is_jsonl,
    jsonl_records,
    key_column,
)
from journeyctl.diagnostics import Diagnostic, Location, error, warning
from journeyctl.engine.model import Contact
from journeyctl.spec.models import ProjectSettings

_KNOWN = ("id", "email", "phone", "name", "timezone")
_NOT_DIGIT = re.compile(r"[^0-9]")


def _is_email(text: str) -> bool:
    """Sanity, not RFC 5322: exactly one @ with text on both sides, no whitespace/controls.

    A CR/LF in an address is a header-injection attempt (SPEC §5): refused at the door.
    """
    at = text.find("@")
    # isprintable() is False for controls, CR/LF, tabs and Unicode separators; ' ' is left
    return (
        0 < at < len(text) - 1
        and text.find("@", at + 1) < 0
        and " " not in text
        and text.isprintable()
    )


Stream = Iterator[Contact | Diagnostic | Rejected | Header]


class _Zones:
    """Timezone names checked once each: a million rows share a handful of zones."""

    def __init__(self) -> None:
        self.valid: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        ok = self.valid.get(name)
        if ok is None:
            try:
                ZoneInfo(name)
                ok = True
            except (ZoneInfoNotFoundError, ValueError):
                ok = False
            self.valid[name] = ok
        return ok


def _bad_cell(path: Path, line: int, col: int, name: str, kind: str, text: str) -> Diagnostic:
    t = TYPES[kind]
    return error(
        Location(path, line, col), t.code, f"column {name}: {text!r} is not {t.noun}", t.hint
    )


def _bad_email(path: Path, line: int, col: int, text: str) -> Diagnostic:
    return error(
        Location(path, line, col),
        "bad-email",
        f"column email: {text!r} is not an email address",
        "write one address like name@example.com, without spaces",
    )


def _bad_phone(path: Path, line: int, col: int, text: str) -> Diagnostic:
    return error(
        Location(path, line, col),
        "bad-phone",
        f"column phone: {text!r} has no digits",
        "write a number like 010-1234-5678 or +82 10 1234 5678, or leave the cell empty",
    )


def _bad_timezone(path: Path, line: int, col: int, text: str, project_zone: str) -> Diagnostic:
    # SPEC §2: an invalid zone falls back to the project's; quiet hours never fail open.
    return warning(
        Location(path, line, col),
        "bad-timezone",
        f"column timezone: {text!r} is not an IANA timezone; using the project timezone"
        f" {project_zone}",
        "use a name like Asia/Seoul or America/New_York",
    )


def _normal_phone(text: str) -> str | None:
    """Digits only, keeping a leading + (E.164 style): '010-1234-5678' -> '01012345678'."""
    digits = text.replace("-", "")
    if not (digits.isascii() and digits.isdigit()):  # the common 010-1234-5678 skips the regex
        digits = _NOT_DIGIT.sub("", text)
    if not digits:
        return None
    return "+" + digits if text.startswith("+") else digits


def _field_types(settings: ProjectSettings) -> dict[str, str]:
    types: dict[str, str] = dict(settings.contacts.fields)
    # The night-consent column means a yes/no; type it even when journey.yaml does not.
    types.setdefault(settings.contacts.night_consent, "bool")
    return types


def _header(path: Path, line: int, fields: list[str], bad: Diagnostic | None) -> list[str]:
    if bad is not None:
        raise Fatal(bad)
    columns = [c.strip() for c in fields]
    columns[0] = columns[0].lstrip("\ufeff").strip()  # a BOM read with --encoding utf-8
    for i, name in enumerate(columns):
        if name and name in columns[:i]:
            raise Fatal(
                error(
                    Location(path, line, i + 1),
                    "duplicate-column",
                    f"column {name!r} appears twice (also column {columns.index(name) + 1})",
                    "rename or remove one of them",
                )
            )
    if "id" not in columns:
        similar = [c for c in columns if c.lower() == "id"]
        raise Fatal(
            error(
                Location(path, line, 1),
                "missing-column",
                "no 'id' column; found: " + ", ".join(repr(c) for c in columns if c),
                f"rename {similar[0]!r} to 'id'"
                if similar
                else "add an 'id' column with one unique id per contact",
            )
        )
    return columns


def _csv_stream(path: Path, settings: ProjectSettings, encoding: str) -> Stream:
    zone = ZoneInfo(settings.timezone)
    types = _field_types(settings)
    zones = _Zones()
    with decode.open_marked(path, encoding) as f:
        records = csv_records(f, path, encoding)
        first = next(records, None)
        if first is None:
            raise Fatal(
                error(
                    Location(path, 1, 1),
                    "missing-column",
                    "the file is empty",
                    "write a header line with an 'id' column",
                )
            )
        columns = _header(path, *first)
        yield Header(columns)
        width = len(columns)
        at = {name: i for i, name in enumerate(columns) if name}
        id_i = at["id"]
        email_i, phone_i, name_i, tz_i = (at.get(k) for k in _KNOWN[1:])
        strings: list[tuple[int, str]] = []
        typed: list[tuple[int, str, str, Callable[[str], Any]]] = []
        for i, name in enumerate(columns):
            if not name or name in _KNOWN:
                continue
            kind = types.get(name, "string")
            parse = parser_for(kind, zone)
            if parse is None:
                strings.append((i, name))
            else:
                typed.append((i, name, kind, parse))
        unnamed = [i for i, name in enumerate(columns) if not name]
        # Declared but absent columns read as empty, as the template/expression contract expects.
        absent = {
            name: None for name in settings.contacts.fields if name not in at and name not in _KNOWN
        }
        for name in absent:
            yield warning(
                Location(path, 1, 1),
                "missing-column",
                f"column {name!r} is declared in journey.yaml but not in the file; it is empty for everyone",
            )
        first_line: dict[str, int] = {}

        for line, row, bad in records:
            problems: list[Diagnostic] = []
            if bad is not None:
                problems.append(bad)
            if len(row) != width and (len(row) < width or any(c.strip() for c in row[width:])):
                problems.append(
                    error(
                        Location(path, line, min(len(row), width) + 1),
                        "bad-row",
                        f"the row has {len(row)} fields but the header has {width}",
                        "check for a missing or extra comma, or an unquoted comma inside a value",
                    )
                )
                yield Rejected(line, row, problems)
                continue
            cid = row[id_i].strip()
            if not cid:
                problems.append(
                    error(
                        Location(path, line, id_i + 1),
                        "missing-id",
                        "column id: the id is empty",
                        "give every contact a unique id",
                    )
                )
            else:
                seen_on = first_line.setdefault(cid, line)
                if seen_on != line:
                    problems.append(
                        error(
                            Location(path, line, id_i + 1),
                            "duplicate-id",
                            f"column id: {cid!r} is already used on line {seen_on}",
                            "ids must be unique; merge the two rows or give one a new id",
                        )
                    )
            email = (row[email_i].strip() or None) if email_i is not None else None
            if email is not None and not _is_email(email):
                problems.append(_bad_email(path, line, email_i + 1, email))  # type: ignore[operator]
            phone = None
            if phone_i is not None:
                text = row[phone_i].strip()
                if text:
                    phone = _normal_phone(text)
                    if phone is None:
                        problems.append(_bad_phone(path, line, phone_i + 1, text))
            full_name = (row[name_i].strip() or None) if name_i is not None else None
            attrs: dict[str, Any] = {}
            for i, n in strings:
                attrs[n] = row[i].strip() or None
            for i, n, kind, parse in typed:
                text = row[i].strip()
                if not text:
                    attrs[n] = None
                    continue
                try:
                    attrs[n] = parse(text)
                except (ValueError, OverflowError):
                    problems.append(_bad_cell(path, line, i + 1, n, kind, text))
            for i in unnamed:
                if row[i].strip():
                    problems.append(
                        error(
                            Location(path, line, i + 1),
                            "bad-row",
                            f"column {i + 1} has a value but no name in the header",
                            "name the column in the header line",
                        )
                    )
            if absent:
                attrs.update(absent)
            if problems:
                yield Rejected(line, row, problems)
                continue
            tz = (row[tz_i].strip() or None) if tz_i is not None else None
            if tz is not None and not zones(tz):
                yield _bad_timezone(path, line, tz_i + 1, tz, settings.timezone)  # type: ignore[operator]
                tz = None
            yield build.contact(cid, email, phone, full_name, tz, attrs)


def _json_value(
    path: Path,
    line: int,
    text: str,
    key: str,
    value: Any,
    kind: str,
    parse: Callable[[str], Any] | None,
) -> tuple[Any, Diagnostic | None]:
    """A JSONL value for a column: strings parse like CSV cells, JSON scalars are kept if they fit."""
    col = key_column(text, key)
    if value is None:
        return None, None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None, None
        if parse is None:
            return value, None
        try:
            return parse(value), None
        except (ValueError, OverflowError):
            return None, _bad_cell(path, line, col, key, kind, value)
    if isinstance(value, dict | list):
        return None, error(
            Location(path, line, col),
            "bad-json",
            f"{key}: expected a single value, got a JSON {type(value).__name__}",
        )
    fits = (
        kind == "string"
        or (kind == "bool" and isinstance(value, bool))
        or (kind == "int" and isinstance(value, int) and not isinstance(value, bool))
        or (kind == "float" and isinstance(value, int | float) and not isinstance(value, bool))
    )
    if not fits:
        return None, _bad_cell(path, line, col, key, kind, str(value))
    return (float(value) if kind == "float" else value), None


def _jsonl_stream(path: Path, settings: ProjectSettings, encoding: str) -> Stream:
    zone = ZoneInfo(settings.timezone)
    types = _field_types(settings)
    parsers = {name: parser_for(kind, zone) for name, kind in types.items()}
    zones = _Zones()
    first_line: dict[str, int] = {}
    with decode.open_marked(path, encoding) as f:
        for line, text, obj in jsonl_records(f, path, encoding):
            if isinstance(obj, Diagnostic):
                yield Rejected(line, text, [obj])
                continue
            problems: list[Diagnostic] = []
            known: dict[str, Any] = {}
            id_reported = False
            for key in _KNOWN:
                value, bad = _json_value(path, line, text, key, obj.get(key), "string", None)
                if (
                    bad is None
                    and value is not None
                    and key != "timezone"
                    and not isinstance(value, str)
                ):
                    if key == "id" and isinstance(value, int) and not isinstance(value, bool):
                        value = str(value)  # {"id": 42}: ids are text
                    else:
                        bad = error(
                            Location(path, line, key_column(text, key)),
                            "bad-json",
                            f"{key}: expected a string, got {value!r}",
                        )
                if bad is not None:
                    problems.append(bad)
                    value = None
                    id_reported = id_reported or key == "id"
                known[key] = value
            cid = known["id"]
            id_col = key_column(text, "id")
            if cid is None and not id_reported:
                problems.append(
                    error(
                        Location(path, line, id_col),
                        "missing-id",
                        "id: the id is empty or missing",
                        "give every contact a unique id",
                    )
                )
            elif cid is not None:
                seen_on = first_line.setdefault(cid, line)
                if seen_on != line:
                    problems.append(
                        error(
                            Location(path, line, id_col),
                            "duplicate-id",
                            f"id: {cid!r} is already used on line {seen_on}",
                            "ids must be unique; merge the two rows or give one a new id",
                        )
                    )
            email = known["email"]
            if email is not None and not _is_email(email):
                problems.append(_bad_email(path, line, key_column(text, "email"), email))
            phone = known["phone"]
            if phone is not None:
                phone = _normal_phone(known["phone"])
                if phone is None:
                    problems.append(
                        _bad_phone(path, line, key_column(text, "phone"), known["phone"])
                    )
            attrs: dict[str, Any] = {
                name: None for name in settings.contacts.fields if name not in _KNOWN
            }
            for key, raw in obj.items():
                if key in _KNOWN:
                    continue
                kind = types.get(key, "string")
                value, bad = _json_value(path, line, text, key, raw, kind, parsers.get(key))
                if bad is not None:
                    problems.append(bad)
                attrs[key] = value
            if problems:
                yield Rejected(line, text, problems)
                continue
            tz = known["timezone"]
            if tz is not None and (not isinstance(tz, str) or not zones(tz)):
                yield _bad_timezone(
                    path, line, key_column(text, "timezone"), str(tz), settings.timezone
                )
                tz = None
            yield Contact(cid, email, phone, known["name"], tz, attrs)


def _stream(path: Path, settings: ProjectSettings, encoding: str | None) -> Stream:
    enc = decode.resolve_encoding(path, encoding)
    try:
        if is_jsonl(path):
            yield from _jsonl_stream(path, settings, enc)
        else:
            yield from _csv_stream(path, settings, enc)
    except Fatal as exc:
        yield exc.diagnostic


def iter_contacts(
    path: Path, settings: ProjectSettings, *, encoding: str | None = None
) -> Iterator[Contact | Diagnostic]:
    """Stream contacts for big files: each good row as a Contact, each problem as a Diagnostic.

    A row with errors yields only its diagnostics. An error that stops the reading (bad
    header, broken quoting) is the last thing yielded. The caller decides all-or-nothing.
    """
    for x in _stream(path, settings, encoding):
        if type(x) is Rejected:
            yield from x.diagnostics
        elif type(x) is not Header:
            yield x  # type: ignore[misc]


def read_contacts(
    path: Path,
    settings: ProjectSettings,
    *,
    encoding: str | None = None,
    skip_invalid: bool = False,
    rejects: Path | None = None,
) -> ReadResult[Contact]:
    """Read all contacts of a CSV (or .jsonl/.ndjson) file.

    All-or-nothing: any bad row raises `DataError` with every diagnostic (located
    `file:line:col`). With `skip_invalid`, good rows are returned, bad ones counted in
    `rejected` and written to `rejects` (original columns + `error`). Warnings (e.g.
    `bad-timezone`) never fail the read; they are in `diagnostics`.
    """
    return collect(
        _stream(path, settings, encoding),
        path,
        Contact,
        skip_invalid=skip_invalid,
        rejects=rejects,
        jsonl=is_jsonl(path),
    )
