"""A rendered message as one HTML page (`preview --out F.html`, `--open`): the envelope (to,
channel, subject, SMS size) above the message as the recipient's client would show it.

The email's HTML is shown in a sandboxed iframe (`srcdoc`, no scripts, no same-origin), so the
page's own markup and the message's cannot mix; text is escaped."""

from __future__ import annotations

import html
import os
import sys
from pathlib import Path
from typing import Any

_STYLE = """
body{font-family:system-ui,-apple-system,"Apple SD Gothic Neo","Malgun Gothic",sans-serif;
margin:0;background:#f4f4f5;color:#18181b}
header{background:#fff;border-bottom:1px solid #e4e4e7;padding:12px 20px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dt{color:#71717a}dd{margin:0}
main{padding:20px}
iframe{width:100%;height:80vh;border:1px solid #e4e4e7;background:#fff}
pre{white-space:pre-wrap;background:#fff;border:1px solid #e4e4e7;padding:16px;max-width:40em}
"""


def page(doc: dict[str, Any]) -> str:
    """`doc`: preview's JSON document."""
    rows = [
        ("Sequence / step", f"{doc['sequence']} / {doc['step']}"),
        ("Channel", doc["channel"]),
        ("To", doc.get("to") or doc["contact_id"]),
        ("Contact", doc["contact_id"]),
    ]
    if doc.get("subject") is not None:
        rows.append(("Subject", doc["subject"]))
    if doc.get("sms") is not None:
        rows.append(("SMS size", doc["sms"]["describe"]))
    head = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in rows)
    parts = []
    if doc.get("html") is not None:
        parts.append(f'<iframe sandbox srcdoc="{html.escape(doc["html"], quote=True)}"></iframe>')
    if doc.get("text") is not None:
        parts.append(f"<pre>{html.escape(doc['text'])}</pre>")
    title = html.escape(f"{doc['sequence']} / {doc['step']} — journeyctl preview")
    return (
        f'<!doctype html>\n<html lang="ko"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head>\n<body><header><dl>{head}</dl></header>"
        f"<main>{''.join(parts)}</main></body></html>\n"
    )


def has_display() -> bool:
    """Whether a graphical browser can open: always on macOS and Windows; on other systems
    only with a display or a BROWSER the user chose. Without one, Python's webbrowser falls
    back to a text browser in this very terminal (or waits on one), so nothing is tried."""
    if sys.platform in ("darwin", "win32"):
        return True
    return any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"))


def open_page(path: Path) -> bool:
    """Open `path` in the user's browser; False when there is no display or no browser."""
    if not has_display():
        return False
    import webbrowser

    try:
        return bool(webbrowser.open(path.resolve().as_uri()))
    except webbrowser.Error:
        return False
