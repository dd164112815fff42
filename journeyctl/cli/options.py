"""Option types shared by commands, defined once."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


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
