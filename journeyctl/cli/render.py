"""Renderings of core data: diagnostics as text (with caret), JSON or GitHub annotations."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

from journeyctl.cli.output import Output
from journeyctl.diagnostics import Diagnostic, sort_key

_ECHO_MAX_BYTES = 1024 * 1024


def _display_width(text: str) -> int:
    # Korean is double width: carets must count display columns, not characters.
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


# What a terminal obeys rather than shows: C0 controls but tab (ESC starts CSI and OSC
# sequences: recolour, retitle, write the clipboard; CR overwrites the line), DEL and C1. An
# echoed line may be a contact's row, so it is shown with these escaped as `\x1b`.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if c != 0x09}


def _shown(text: str) -> str:
    return text.translate(_CONTROLS)


def _caret_at(path: Path, src: str, col: int) -> int:
    """Characters of `src` before the caret: `col` is a character column, except in a CSV
    data file, where it is the field's number (docs/data.md)."""
    if path.suffix.lower() not in (".csv", ".tsv", ".txt"):
        return max(col - 1, 0)
    delimiter = "\t" if "\t" in src and "," not in src else ","
    field, quoted = 1, False
    for i, ch in enumerate(src):
        if field >= col:
            return i
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            field += 1
    return len(src)


def _source_line(path: Path, line: int) -> str | None:
    # Never through a symlink (its target may be outside the project: a .env, a key file),
    # and not from a file too large to be a project file (validate refused it unread).
    try:
        if path.is_symlink() or path.stat().st_size > _ECHO_MAX_BYTES:
            return None
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return lines[line - 1] if 0 < line <= len(lines) else None


def diagnostics_json(diags: Sequence[Diagnostic]) -> str:
    errors = sum(d.is_error for d in diags)
    return json.dumps(
        {
            "ok": errors == 0,
            "errors": errors,
            "warnings": len(diags) - errors,
            "diagnostics": [
                {
                    "path": str(d.location.path),
                    "line": d.location.line,
                    "col": d.location.col,
                    "severity": str(d.severity),
                    "code": d.code,
                    "message": d.message,
                    "hint": d.hint,
                }
                for d in diags
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def _github_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def render_diagnostics(
    out: Output, diags: Iterable[Diagnostic], fmt: str, *, base: Path | None = None
) -> None:
    ordered = sorted(diags, key=sort_key)
    if fmt == "json":
        out.data(diagnostics_json(ordered))
        return
    if fmt == "github":
        for d in ordered:
            loc = d.location
            level = "error" if d.is_error else "warning"
            out.data(
                f"::{level} file={loc.path},line={loc.line},col={loc.col},title={d.code}::"
                + _github_escape(d.message + (f" ({d.hint})" if d.hint else ""))
            )
        return
    for d in ordered:
        out.err.print(_shown(str(d)), markup=False, highlight=False)
        path = d.location.path if base is None else base / d.location.path
        src = _source_line(path, d.location.line)
        if src is not None and src.strip():
            out.err.print("    " + _shown(src), markup=False, highlight=False)
            pad = _display_width(_shown(src[: _caret_at(path, src, d.location.col)]))
            out.err.print("    " + " " * pad + "^", markup=False, highlight=False)
        if d.hint:
            out.err.print(f"  hint: {_shown(d.hint)}", markup=False, highlight=False)
