"""Secrets out of what people read: URLs with `user:password@` and query-string tokens.

Webhook URLs often carry their credentials (`https://user:pass@host/`, `?token=...`): an error
that quotes one is shown on stderr, stored in the ledger and listed by `status` and `messages`,
so every text that names a URL names it redacted.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# A URL in free text: scheme://, then anything up to whitespace or a quote.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


# A path segment that looks like a token (Slack's /services/T…/B…/XXXX, Discord's
# /api/webhooks/<id>/<token>): long and made of token characters, mixing letters and digits.
_TOKENISH = re.compile(r"(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,}")


def _redact_path(path: str) -> str:
    return "/".join(MASK if _TOKENISH.fullmatch(seg) else seg for seg in path.split("/"))


def redact_url(url: str) -> str:
    """`url` with its userinfo, its query-string values and any token-like path segment
    (16+ letters and digits, as Slack and Discord put their secrets in the path) masked; the
    scheme, host, port and the rest of the path kept so the reader knows which endpoint."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _redact_one(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rpartition("@")[2]
    query = "&".join(
        (f"{k}={MASK}" if sep else k)
        for k, sep, _ in (p.partition("=") for p in parts.query.split("&") if p)
    )
    return urlunsplit((parts.scheme, netloc, _redact_path(parts.path), query, parts.fragment))


def redact_text(text: str) -> str:
    """Every URL-looking `scheme://user:pass@` and query value in free text, masked."""
    return _URL.sub(lambda m: _redact_one(m[0]), text)


def _redact_one(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:  # "Invalid IPv6 URL": mask from the scheme's end to the last '@'
        head, sep, tail = url.partition("://")
        return f"{head}{sep}{MASK}@{tail.rpartition('@')[2]}" if "@" in tail else url
    if "@" not in parts.netloc and not parts.query and not _TOKENISH.search(parts.path):
        return url
    return redact_url(url)
