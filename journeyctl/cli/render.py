"""Renderings of core data: diagnostics as text (with caret), JSON or GitHub annotations."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

from journeyctl.cli.output import Output
from journeyctl.diagnostics import Diagnostic, sort_key


def _display_width(text: str) -> int:
    # Korean is double width: carets must count display columns, not characters.
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _source_line(path: Path, line: int) -> str | None:
    try:
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
        out.err.print(str(d), markup=False, highlight=False)
        path = d.location.path if base is None else base / d.location.path
        src = _source_line(path, d.location.line)
        if src is not None and src.strip():
            out.err.print("    " + src, markup=False, highlight=False)
            pad = _display_width(src[: max(d.location.col - 1, 0)])
            out.err.print("    " + " " * pad + "^", markup=False, highlight=False)
        if d.hint:
            out.err.print(f"  hint: {d.hint}", markup=False, highlight=False)
