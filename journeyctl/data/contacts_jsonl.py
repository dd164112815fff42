"""Contacts from JSON Lines: strings parse like CSV cells; JSON scalars are kept if they fit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.data import decode
from journeyctl.data.contact_fields import (
    KNOWN,
    Zones,
    bad_cell,
    bad_email,
    bad_phone,
    bad_timezone,
    field_types,
    is_email,
    normal_phone,
)
from journeyctl.data.convert import parser_for
from journeyctl.data.source import Rejected, jsonl_records, key_column, shown
from journeyctl.diagnostics import Diagnostic, Location, error
from journeyctl.engine.model import Contact
from journeyctl.spec.models import ProjectSettings


def _json_value(
    path: Path,
    line: int,
    text: str,
    key: str,
    value: Any,
    kind: str,
    parse: Callable[[str], Any] | None,
) -> tuple[Any, Diagnostic | None]:
    """One JSONL value -> (typed value, None) or (None, the diagnostic saying why not).

    The key's column is looked up only for a diagnostic: searching the line for every key would
    be quadratic in a line of 100k keys."""
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
        except (ValueError, OverflowError) as exc:
            return None, bad_cell(path, line, key_column(text, key), key, kind, value, exc)
    if isinstance(value, dict | list):
        return None, error(
            Location(path, line, key_column(text, key)),
            "bad-json",
            f"{shown(key)}: expected a single value, got a JSON {type(value).__name__}",
        )
    fits = (
        kind == "string"
        or (kind == "bool" and isinstance(value, bool))
        or (kind == "int" and isinstance(value, int) and not isinstance(value, bool))
        or (kind == "float" and isinstance(value, int | float) and not isinstance(value, bool))
    )
    if not fits:
        return None, bad_cell(path, line, key_column(text, key), key, kind, str(value))
    return (float(value) if kind == "float" else value), None


def jsonl_stream(
    path: Path, settings: ProjectSettings, encoding: str
) -> Iterator[Contact | Diagnostic | Rejected]:
    zone = ZoneInfo(settings.timezone)
    types = field_types(settings)
    parsers = {name: parser_for(kind, zone) for name, kind in types.items()}
    zones = Zones()
    first_line: dict[str, int] = {}
    with decode.open_marked(path, encoding) as f:
        for line, text, obj in jsonl_records(f, path, encoding):
            if isinstance(obj, Diagnostic):
                yield Rejected(line, text, [obj])
                continue
            problems: list[Diagnostic] = []
            known: dict[str, Any] = {}
            id_reported = False
            for key in KNOWN:
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
                            f"{shown(key)}: expected a string, got {value!r}",
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
            if email is not None and not is_email(email):
                problems.append(bad_email(path, line, key_column(text, "email"), email))
            phone = known["phone"]
            if phone is not None:
                phone = normal_phone(known["phone"])
                if phone is None:
                    problems.append(
                        bad_phone(path, line, key_column(text, "phone"), known["phone"])
                    )
            attrs: dict[str, Any] = {
                name: None for name in settings.contacts.fields if name not in KNOWN
            }
            for key, raw in obj.items():
                if key in KNOWN:
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
                yield bad_timezone(
                    path, line, key_column(text, "timezone"), str(tz), settings.timezone
                )
                tz = None
            yield Contact(cid, email, phone, known["name"], tz, attrs)
