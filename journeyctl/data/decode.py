"""Text decoding of data files, in one place: BOM, UTF-8, or CP949 (Korean Excel).

Never decodes with `errors="replace"`: a wrong guess must surface as a located
`bad-encoding` diagnostic, not as silently corrupted names and addresses.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import TextIO

from journeyctl.errors import UsageError

HEAD_BYTES = 64 * 1024  # detection looks at this much; a later bad byte is reported per line

# Undecodable bytes become lone surrogates (PEP 383). A valid decode never produces them,
# so a surrogate in a field pinpoints the bad byte's line and column.
_SURROGATE = re.compile("[\udc80-\udcff]")
_MARK_ERRORS = "journeyctl.mark"
# How many undecodable bytes any reader has met. A reader compares it with the value it saw
# before and only then scans its rows for surrogates, so the clean path pays one comparison.
_bad_bytes = [0]


def _mark(exc: UnicodeError) -> tuple[str, int]:
    _bad_bytes[0] += 1
    text, resume = codecs.lookup_error("surrogateescape")(exc)
    return str(text), resume


codecs.register_error(_MARK_ERRORS, _mark)


def detect_encoding(head: bytes) -> str:
    """Guess the encoding of a data file from its first bytes.

    'utf-8-sig' when there is a UTF-8 BOM, 'utf-8' when the bytes decode as UTF-8 (a
    multi-byte character cut at the end of `head` is allowed), else 'cp949' — Excel's
    superset of EUC-KR (EUC-KR cannot decode e.g. 똠).

    >>> detect_encoding("이름".encode("cp949"))
    'cp949'
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp949"
    return "utf-8"


def resolve_encoding(path: Path, encoding: str | None) -> str:
    """The override when given (checked to be a known codec), else the detected encoding."""
    if encoding:
        try:
            return codecs.lookup(encoding).name
        except LookupError:
            raise UsageError(f"unknown encoding {encoding!r}; try utf-8 or cp949") from None
    try:
        with path.open("rb") as f:
            return detect_encoding(f.read(HEAD_BYTES))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def open_text(path: Path, encoding: str | None = None) -> TextIO:
    """Open a data file for streamed reading, decoding strictly.

    `newline=""` as the csv module needs (quoted fields may hold newlines).
    """
    return path.open(encoding=resolve_encoding(path, encoding), newline="")


def open_marked(path: Path, encoding: str) -> TextIO:
    """Like `open_text`, but undecodable bytes become surrogates for `find_bad_bytes`."""
    return path.open(encoding=encoding, errors=_MARK_ERRORS, newline="")


def bad_bytes_seen() -> int:
    return _bad_bytes[0]


def find_bad_bytes(fields: list[str]) -> tuple[int, int, int] | None:
    """(1-based field index, offset in that field, the byte) of the first undecodable byte.

    None when the row is clean.
    """
    for col, text in enumerate(fields, 1):
        m = _SURROGATE.search(text)
        if m:
            return col, m.start(), ord(m.group()) - 0xDC00
    return None


def encoding_hint(encoding: str) -> str:
    if encoding.replace("_", "-").startswith("utf-8"):
        return "the file is not UTF-8 throughout; Excel in Korea saves CP949: pass --encoding cp949"
    return "pass the file's real encoding with --encoding (e.g. utf-8), or re-save it as UTF-8"
