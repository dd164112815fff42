"""Telling a PostgreSQL URL from a SQLite path, and showing one without its password.

Stdlib only: the idle cron minute (run.idle) and the error boundary ask this before anything
of the PostgreSQL store is imported (psycopg is imported only for a postgresql:// URL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(db: str | Path | None) -> bool:
    """Whether `--db` names a PostgreSQL database (`postgresql://...` or `postgres://...`)."""
    return isinstance(db, str) and db.lower().startswith(SCHEMES)


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***` (in the authority or as a `password=`
    parameter): the only form of a connection string journeyctl ever prints."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            auth, _, host = netloc.rpartition("@")
            user, colon, _ = auth.partition(":")
            netloc = f"{user}:***@{host}" if colon else f"{user}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*"
            )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not even a URL: say nothing of what it holds
        return url.split("://", 1)[0] + "://***"


def display_name(db: str | Path | None) -> str:
    """How messages name the database: a file's path as given, a URL without its password."""
    if db is None:
        return "the database"
    return redact_url(str(db)) if is_postgres_url(db) else str(db)
