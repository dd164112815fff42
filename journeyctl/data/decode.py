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

# Undecodable bytes become lone surrogates U+DC00+byte (as PEP 383's surrogateescape, which
# also covers bytes under 0x80: a broken UTF-16 pair). A valid decode never produces them, so
# a surrogate in a field pinpoints the bad byte's line and column.
_SURROGATE = re.compile("[\udc00-\udcff]")
_MARK_ERRORS = "journeyctl.mark"
# How many undecodable bytes any reader has met. A reader compares it with the value it saw
# before and only then scans its rows for surrogates, so the clean path pays one comparison.
_bad_bytes = [0]


def _mark(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _bad_bytes[0] += 1
    return "".join(chr(0xDC00 + b) for b in exc.object[exc.start : exc.end]), exc.end


codecs.register_error(_MARK_ERRORS, _mark)


def detect_encoding(head: bytes) -> str:
    """Guess the encoding of a data file from its first bytes.

    'utf-8-sig' when there is a UTF-8 BOM; 'utf-16' when there is a UTF-16 BOM (Excel's
    "Unicode text"), 'utf-16-le'/'utf-16-be' when every other byte is NUL (UTF-16 without a
    BOM); 'utf-8' when the bytes decode as UTF-8 (a multi-byte character cut at the end of
    `head` is allowed); else a vote of the lines that are not ASCII: 'utf-8' when at least as
    many decode as UTF-8 as do not (a UTF-8 file with a row pasted from a CP949 file: that row
    is the one reported), else 'cp949' — Excel's superset of EUC-KR (EUC-KR cannot decode
    e.g. 똠). A tie goes to UTF-8 because a wrong UTF-8 guess shows up as a located error,
    while a wrong CP949 guess can decode UTF-8 text into silent mojibake.

    >>> detect_encoding("이름".encode("cp949"))
    'cp949'
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 4 and sample.count(0) * 3 >= len(sample):
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        if odd >= 4 * even:
            return "utf-16-le"
        if even >= 4 * odd:
            return "utf-16-be"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    lines = head.splitlines()
    if len(head) >= HEAD_BYTES and len(lines) > 1:
        lines.pop()  # cut by the head's end
    good = bad = 0
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad += 1
    return "utf-8" if good and good >= bad else "cp949"


def is_utf16(encoding: str) -> bool:
    return encoding.replace("_", "-").lower().startswith("utf-16")


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
        return (
            "this row is not UTF-8 (pasted from a CP949 file?): retype it or re-save the file"
            ' as "CSV UTF-8"; if the whole file is CP949 (Excel in Korea), pass --encoding cp949'
        )
    if is_utf16(encoding):
        return (
            'the file is not UTF-16 throughout: save it again from Excel as "CSV UTF-8"'
            ' (or "Unicode text"), or pass the real encoding with --encoding'
        )
    return "pass the file's real encoding with --encoding (e.g. utf-8), or re-save it as UTF-8"
