"""Option types shared by commands, defined once."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand


class Format(StrEnum):
    table = "table"
    json = "json"


class DiagFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"


ProjectDir = Annotated[
    Path, typer.Argument(help="Project directory (journey.yaml, sequences, templates/).")
]
DbOpt = Annotated[Path, typer.Option("--db", help="SQLite database file.")]
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
    typer.Option("--now", help="The tick's clock: ISO 8601 with offset, or a date (project tz)."),
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
