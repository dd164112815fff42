"""Option types shared by commands, defined once."""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from journeyctl.errors import UsageError


def deprecated(old: str, new: str) -> None:
    """One line on stderr: `old` still works this release; `new` is the spelling to use."""
    print(
        f"warning: {old} is deprecated and will be removed in the next release; use {new}",
        file=sys.stderr,
    )


class Format(StrEnum):
    """What people read (`text`: tables, lines, a story) or what programs read (`json`)."""

    text = "text"
    json = "json"


def format_option(choices: type[StrEnum], help: str | None = None) -> Any:
    """`--format` with the values of `choices`. Every command calls its human-readable output
    `text`; the old `table` of some commands is still accepted, with a deprecation note."""
    names = [m.value for m in choices]

    def convert(value: Any) -> Any:
        text = str(value.value if isinstance(value, StrEnum) else value)
        if text == "table" and "table" not in names and "text" in names:
            deprecated("--format table", "--format text")
            text = "text"
        try:
            return choices(text)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not one of {', '.join(names)}") from None

    return typer.Option(
        "--format",
        parser=convert,
        metavar="[" + "|".join(names) + "]",
        help=help or f"Output format: {', '.join(names)}.",
    )


FormatOpt = Annotated[Format, format_option(Format, "text (for people) or json (stable).")]
# Commands that write a report with --out: the format follows a `.json` file name as in
# `simulate` and `report` (format_for) unless --format says otherwise.
ReportFormatOpt = Annotated[
    Format | None,
    format_option(
        Format,
        "text (for people) or json (stable). Default: text, or json when --out ends in .json.",
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Write the output to this file instead of stdout (written whole)."),
]


ExcelOpt = Annotated[
    bool | None,
    typer.Option(
        "--excel/--no-excel",
        help="CSV starting with a UTF-8 byte order mark, so Excel (Korean Windows too) reads "
        "Hangul right. Default: on when written to a file with --out, off on stdout.",
        show_default=False,
    ),
]


def csv_bom(excel: bool | None, out: Path | None) -> bool:
    """Whether a CSV gets the byte order mark: as asked, else when it goes to a file (what a
    spreadsheet opens) and not when it goes to stdout (what a pipe reads)."""
    return excel if excel is not None else out is not None


def format_for(fmt: Any, out: Path | None, choices: type[StrEnum]) -> Any:
    """`--format` as given, else from --out's suffix (`.csv`, `.json`, `.html`) when the
    command has that format, else `text`."""
    if fmt is not None:
        return fmt
    suffix = out.suffix.lower().lstrip(".") if out is not None else ""
    suffix = {"htm": "html", "md": "markdown"}.get(suffix, suffix)
    names = {m.value for m in choices}
    return choices(suffix if suffix in names and suffix != "text" else "text")


def leading_dir(args: list[str], names: tuple[str, ...], command: str) -> tuple[Path, list[str]]:
    """`[DIR] NAME...`: the project directory first, optional (default `.`), then `names`.

    `journeyctl graph welcome` is `journeyctl graph . welcome`. A lone argument that is a
    project directory is the usual slip of a forgotten name: a usage error saying so."""
    usage = f"journeyctl {command} [DIR] {' '.join(names)}"
    if len(args) == len(names) + 1:
        return Path(args[0]), args[1:]
    if len(args) == len(names):
        first = Path(args[0])
        if first.is_dir() and ((first / "journey.yaml").is_file() or any(first.glob("*.yaml"))):
            raise UsageError(
                f"{args[0]} is a project directory; give the {' and '.join(names)} after it: "
                f"{usage}"
            )
        return Path("."), args
    raise UsageError(f"expected {usage}, got {len(args)} argument(s)")


_INTERVAL = re.compile(r"^(?:\d+[wdhm])*(?:\d+s)?$")


def parse_interval(text: str, option: str) -> timedelta:
    """A duration as sequences write them (`30m`, `4h`, `1d12h`) or with seconds (`10s`,
    `1m30s`): the one syntax of every duration option. UsageError otherwise."""
    from journeyctl.spec.durations import Duration

    s = text.strip()
    if not s or not _INTERVAL.match(s):
        raise UsageError(f"{option}: {text!r} is not a duration (e.g. 10s, 1m, 5m, 1h, 1d12h)")
    head, seconds = s, 0
    if s.endswith("s"):
        match = re.search(r"(\d+)s$", s)
        assert match is not None
        seconds = int(match.group(1))
        head = s[: match.start()]
    try:
        base = Duration.parse(head).approx() if head else timedelta(0)
    except ValueError:
        raise UsageError(
            f"{option}: {text!r} is not a duration (units go w, d, h, m, s, once each)"
        ) from None
    return base + timedelta(seconds=seconds)


class DiagFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"


ProjectDir = Annotated[
    Path, typer.Argument(help="Project directory (journey.yaml, sequences, templates/).")
]
# A SQLite file or a postgresql:// URL: a str, since a Path would fold the URL's "//".
DbOpt = Annotated[
    str,
    typer.Option(
        "--db", metavar="<path|url>", help="SQLite database file, or a postgresql:// URL."
    ),
]
ContactsOpt = Annotated[
    Path | None, typer.Option("--contacts", help="Contacts CSV or JSONL (id, email, phone, ...).")
]
EventsOpt = Annotated[
    Path | None, typer.Option("--events", help="Events CSV or JSONL (contact_id, event, at, ...).")
]
EncodingOpt = Annotated[
    str | None, typer.Option("--encoding", help="Override encoding detection (utf-8, cp949, ...).")
]
NowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="The tick's clock: ISO 8601 with offset, or a date (project tz); default: now.",
    ),
]


SkipInvalidOpt = Annotated[
    bool,
    typer.Option(
        "--skip-invalid",
        help="Import the good rows; write the bad ones beside the file as NAME.rejects.csv "
        "(contacts.csv -> contacts.rejects.csv; NAME.rejects.jsonl for .jsonl input) and count "
        "them on stderr. Events of contacts not in the database are skipped and counted.",
    ),
]


def _takes_one_value(param: Any) -> bool:
    """An option that takes a value and keeps one: not a flag, a counter or a `multiple`."""
    return (
        getattr(param, "param_type_name", "") == "option"
        and not getattr(param, "is_flag", False)
        and not getattr(param, "count", False)
        and not getattr(param, "multiple", False)
    )


class SingleValueCommand(TyperCommand):
    """A command whose single-value options may be given once.

    Click keeps the last of `--contacts a --contacts b` without a word, so a crontab line that
    names two files imports only one. The parser already records every occurrence in order; a
    second occurrence of an option that takes one value is a usage error (exit 2) instead.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: click.Context
        if args and not ctx.resilient_parsing:
            # A throw-away parse (the parser consumes its list, hence the copy); its errors
            # are the ones the real parse below would raise.
            _, _, order = self.make_parser(ctx).parse_args(args=list(args))
            seen: set[str | None] = set()
            for param in order:
                if not _takes_one_value(param):
                    continue
                if param.name in seen:
                    ctx.fail(f"option {param.opts[0]} was given more than once; it takes one value")
                seen.add(param.name)
        return super().parse_args(ctx, args)


def single_value_options(app: typer.Typer) -> None:
    """Give every command of `app` (and of its sub-apps) the `SingleValueCommand` parsing,
    unless the command chose a class of its own."""
    for info in app.registered_commands:
        if info.cls is None or info.cls is TyperCommand:  # typer's default: None or this
            info.cls = SingleValueCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            single_value_options(group.typer_instance)
