"""The events API's bodies, read by the import readers (SPEC §3 formats, same checks).

A body is a JSON array of objects or JSON Lines. Each item becomes one line of a temporary
JSON Lines file that `data.events` / `data.contacts` read exactly as `events import` reads a
file; their located diagnostics come back as (index, field, reason), the index counting
items from 0. All-or-nothing: any bad item refuses the whole request.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from journeyctl.diagnostics import Diagnostic
from journeyctl.errors import DataError
from journeyctl.spec.models import ProjectSettings

T = TypeVar("T")

# "column at: ...", "id: ...", "column email: ..." -> the field the diagnostic is about.
_FIELD: Final = re.compile(r"^(?:column )?([^\s:]+): ")


@dataclass(frozen=True)
class ItemError:
    index: int | None  # the item, from 0 (None: the body as a whole)
    field: str | None
    reason: str
    code: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "reason": self.reason, "code": self.code}


class BadBody(Exception):
    """The request is refused: nothing of it was imported."""

    def __init__(self, errors: list[ItemError]):
        super().__init__(f"{len(errors)} problem(s)")
        self.errors = errors


def split_items(body: bytes) -> list[str]:
    """One JSON text per item: the elements of a JSON array, or the non-blank lines of JSON
    Lines. Raises BadBody for what is neither."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadBody(
            [ItemError(None, None, f"the body is not UTF-8 (byte {exc.start})", "bad-encoding")]
        ) from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise BadBody([ItemError(None, None, f"not JSON: {exc}", "bad-json")]) from None
        if not isinstance(items, list):  # pragma: no cover - starts with [
            raise BadBody([ItemError(None, None, "expected a JSON array", "bad-json")])
        return [json.dumps(item, ensure_ascii=False) for item in items]
    return [line for line in text.splitlines() if line.strip()]


def diagnostics_as_errors(diagnostics: Iterable[Diagnostic]) -> list[ItemError]:
    out = []
    for d in diagnostics:
        if not d.is_error:
            continue
        m = _FIELD.match(d.message)
        field = m.group(1) if m else None
        reason = d.message[m.end() :] if m else d.message
        out.append(ItemError(d.location.line - 1, field, reason, d.code))
    return out


def read_items(
    items: list[str],
    settings: ProjectSettings,
    reader: Callable[..., Any],
    scratch: Path | None = None,
) -> tuple[list[Any], Path]:
    """The items read by `reader` (read_events / read_contacts) from a temporary JSON Lines
    file, one item a line (so line N is item N-1). Returns the items and that file, which the
    caller removes (unknown_contact_diagnostics locates by it)."""
    fd, name = tempfile.mkstemp(prefix="journeyctl-api-", suffix=".jsonl", dir=scratch)
    path = Path(name)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        for item in items:
            f.write(item.replace("\r", " ").replace("\n", " ") + "\n")
    try:
        result = reader(path, settings, encoding="utf-8")
    except DataError as exc:
        path.unlink(missing_ok=True)
        raise BadBody(diagnostics_as_errors(exc.diagnostics)) from None
    return list(result.items), path
