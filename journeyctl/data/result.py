"""Turn a reader's stream into a ReadResult: all-or-nothing, or skip-invalid with a rejects file.

SPEC §3: nothing is silently dropped or half-written. The rejects file is written to a temporary
file beside its destination and renamed into place only when the whole input was read.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from journeyctl import bulk
from journeyctl.data.source import Header, Rejected, is_jsonl, parse_json_line
from journeyctl.diagnostics import Diagnostic, Location, error
from journeyctl.errors import DataError, UsageError
from journeyctl.reporting import csvsafe

T = TypeVar("T")

# Keep this many diagnostics; past it only count, so a file of a million bad rows does not
# build a million Diagnostic objects.
MAX_DIAGNOSTICS = 1000


def rejects_path(path: Path) -> Path:
    """Where `--skip-invalid` writes the bad rows of `path`: beside it, `NAME.rejects.csv`
    (`contacts.csv` -> `contacts.rejects.csv`), or `NAME.rejects.jsonl`/`.ndjson` for JSON Lines
    input, whose rejects are JSON Lines too."""
    suffix = path.suffix.lower() if is_jsonl(path) else ".csv"
    return path.with_name(f"{path.stem}.rejects{suffix}")


class InvalidRows(DataError):
    """A file was not imported: `bad_rows` rows were bad (all-or-nothing), or, `fatal`, it could
    not be read to the end (bad header, empty file, broken quoting), which even skip_invalid
    cannot skip."""

    def __init__(self, diagnostics: list[Diagnostic], path: Path, bad_rows: int, fatal: bool):
        what = "a problem that stops the reading" if fatal else f"{bad_rows} bad row(s)"
        super().__init__(diagnostics, f"{path}: invalid data ({what}), nothing imported")
        self.path = path
        self.bad_rows = bad_rows
        self.fatal = fatal


@dataclass
class ReadResult(Generic[T]):
    items: list[T] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(
        default_factory=list
    )  # warnings; with skip_invalid, errors too
    rejected: int = 0  # rows skipped (skip_invalid) and written to the rejects file
    rows: int = 0  # good rows read (kept in `items` unless collect(keep=False))


class _RejectsWriter:
    """Rejected rows as CSV (original columns + `error`) or JSONL (object + "error")."""

    def __init__(self, target: Path, jsonl: bool):
        self.target = target
        self.jsonl = jsonl
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:
            raise UsageError(f"cannot write rejects to {target}: {exc.strerror or exc}") from None
        self.tmp = Path(tmp)
        # utf-8-sig so Excel shows Korean text; lone surrogates (undecodable input bytes) -> '?'
        self.file: IO[str] = os.fdopen(
            fd, "w", encoding="utf-8" if jsonl else "utf-8-sig", errors="replace", newline=""
        )
        self.csv = csv.writer(self.file, lineterminator="\r\n")
        self.width = 0

    def header(self, columns: list[str]) -> None:
        name = "error"
        while name in columns:  # the input may have an `error` column of its own
            name = "_" + name
        self.width = len(columns)
        self.csv.writerow([csvsafe.cell(c) for c in columns] + [name])

    def write(self, row: Rejected) -> None:
        reason = "; ".join(
            f"line {d.location.line} col {d.location.col}: {d.code}: {d.message}"
            for d in row.diagnostics
        )
        if self.jsonl:
            text = row.raw if isinstance(row.raw, str) else ",".join(row.raw)
            try:
                obj = parse_json_line(text)
            except ValueError:  # not JSON, NaN, or nested too deeply: keep the line as text
                obj = None
            record = (
                {**obj, "error": reason}
                if isinstance(obj, dict)
                else {"line": text.rstrip("\r\n"), "error": reason}
            )
            self.file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        else:
            fields = list(row.raw) if isinstance(row.raw, list) else [row.raw]
            fields += [""] * (self.width - len(fields))  # keep `error` in its own column
            # Opened in Excel: a cell starting with = + - @ TAB CR is a formula unless quoted
            # away (OWASP CSV injection); the readers drop that quote again on re-import.
            self.csv.writerow([csvsafe.cell(f) for f in fields] + [csvsafe.cell(reason)])

    def commit(self) -> None:
        self.file.close()
        os.replace(self.tmp, self.target)

    def discard(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


def collect(
    stream: Iterable[Any],
    path: Path,
    item_type: type[T],
    *,
    skip_invalid: bool,
    rejects: Path | None,
    jsonl: bool,
    keep: bool = True,
    each: Callable[[T], object] | None = None,
) -> ReadResult[T]:
    """Drain a reader stream; raise DataError unless every row imported or was skippable.

    `keep=False` checks the file without keeping its rows (`rows` counts them): the first pass
    of a streamed import (`again` is the second). `each`: called with every good row as it
    is read, instead of keeping it (simulate's partition): the caller drops what it was
    given when this raises."""
    if each is not None:
        keep = False
    result: ReadResult[T] = ReadResult()
    items = result.items
    diagnostics = result.diagnostics
    omitted = 0
    failed = False  # a bad row without skip_invalid: keep reading to report, keep no items
    fatal = False  # the file could not be read to the end: always an error
    writer = _RejectsWriter(rejects, jsonl) if skip_invalid and rejects is not None else None

    def note(d: Diagnostic) -> None:
        nonlocal omitted
        if len(diagnostics) < MAX_DIAGNOSTICS:
            diagnostics.append(d)
        else:
            omitted += 1

    # The items kept are acyclic; without this the cyclic GC re-walks the growing list over
    # and over (bench/RESULTS.md, Readers).
    # Where a good row goes: kept, given to `each`, or nowhere (also once a row has failed).
    take: Callable[[T], object] | None = items.append if keep else each
    rows = 0
    with bulk.paused():
        try:
            for x in stream:
                if type(x) is item_type:
                    rows += 1
                    if take is not None:
                        take(x)
                elif type(x) is Rejected:
                    result.rejected += 1
                    for d in x.diagnostics:
                        note(d)
                    if writer is not None:
                        writer.write(x)
                    if not skip_invalid and not failed:
                        failed = True
                        take = None
                        items.clear()
                elif type(x) is Header:
                    if writer is not None:
                        writer.header(x.columns)
                else:
                    assert isinstance(x, Diagnostic)
                    note(x)
                    fatal = fatal or x.is_error
            result.rows = rows
            if omitted:
                diagnostics.append(
                    error(
                        Location(path, 1, 1),
                        "too-many-errors",
                        f"{omitted} more problems not shown (the first {MAX_DIAGNOSTICS} are)",
                    )
                )
            if fatal or failed:
                items.clear()
                raise InvalidRows(diagnostics, path, result.rejected, fatal)
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
    if writer is not None:
        writer.commit()
    return result


class ChangedWhileReading(DataError):
    """The second pass of a streamed import did not read what the first pass read."""


def again(
    stream: Iterable[Any], path: Path, item_type: type[T], first: ReadResult[T]
) -> Iterator[T]:
    """The good rows of `path` again, streamed, for a file `collect(keep=False)` checked
    (`first`): the second pass of an import that never holds the whole file in memory.

    The file may have changed in between (an export still being written): a problem the
    first pass did not see, or another count of good or bad rows, raises ChangedWhileReading
    (a DataError) from the loop, so the caller's transaction rolls back and nothing is
    imported."""
    rows = rejected = 0
    for x in stream:
        if type(x) is item_type:
            rows += 1
            yield x
        elif type(x) is Rejected:
            rejected += 1
            if rejected > first.rejected:
                break
        elif type(x) is Diagnostic and x.is_error:
            raise _changed(path, [x])
    if rows != first.rows or rejected != first.rejected:
        raise _changed(path, [])


def _changed(path: Path, diagnostics: list[Diagnostic]) -> ChangedWhileReading:
    return ChangedWhileReading(
        diagnostics,
        f"{path} changed while it was being imported; nothing imported (import it again once"
        " it is complete)",
    )
