"""`journeyctl preview`: render one send step for a contact (or a sample contact)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import ContactsOpt, EncodingOpt, OutOpt, format_option

PREVIEW_ARGS = ("SEQUENCE", "STEP")


class PreviewFormat(StrEnum):
    text = "text"
    json = "json"
    html = "html"


ContactOpt = Annotated[
    str | None,
    typer.Option("--contact", help="Contact id, read from --contacts FILE or --db FILE."),
]
ContactDbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="<path|url>",
        help="Read --contact from this database (read only, never written).",
    ),
]
StepArgs = Annotated[
    list[str],
    typer.Argument(
        metavar="[DIR] SEQUENCE STEP",
        help="Project directory (default: .), then the sequence id and the send step id.",
        show_default=False,
    ),
]


@app.command()
@boundary
def preview(
    args: StepArgs,
    contact: ContactOpt = None,
    contacts: ContactsOpt = None,
    db: ContactDbOpt = None,
    fmt: Annotated[
        PreviewFormat | None,
        format_option(
            PreviewFormat,
            "text, json, or html (a page with the envelope and the message as a client shows "
            "it). Default: text, or html when --out ends in .html.",
        ),
    ] = None,
    out: OutOpt = None,
    open_page: Annotated[
        bool,
        typer.Option(
            "--open",
            help="Open the HTML page in the browser (written to --out, or a temporary file).",
        ),
    ] = False,
    encoding: EncodingOpt = None,
) -> None:
    """Show the subject, text and HTML a contact would get from a send step; SMS steps also
    show their size in bytes and whether they go as SMS (up to 90 bytes) or LMS."""
    import json

    from journeyctl.cli.loading import load_project_or_fail, pick_contact
    from journeyctl.cli.options import leading_dir
    from journeyctl.cli.output import Output, escape_controls, json_safe
    from journeyctl.clock import SystemClock
    from journeyctl.engine.make import make_engine
    from journeyctl.run.send_test import find_send, render_one

    project_dir, (sequence, step) = leading_dir(args, PREVIEW_ARGS, "preview")
    project = load_project_or_fail(project_dir)
    ref = find_send(project, sequence, step)
    person = pick_contact(project, contact, contacts, db, encoding)
    renderer = make_engine(project).renderer
    assert renderer is not None
    r = render_one(project, renderer, ref, person, SystemClock().now())
    doc: dict[str, Any] = {
        "sequence": sequence, "step": step, "channel": ref.channel, "contact_id": person.id,
        "subject": r.subject, "text": r.text, "html": r.html,
    }  # fmt: skip
    size = None
    if ref.medium == "sms":
        from journeyctl.channels.sms_size import sms_size

        size = sms_size(r.text or "")
        doc["sms"] = size.as_dict()
    if fmt is None:
        html_out = out is not None and out.suffix.lower() in (".html", ".htm")
        fmt = PreviewFormat.html if html_out else PreviewFormat.text
    to = person.email if ref.medium == "email" else person.phone
    output = Output.from_environment()
    if fmt is PreviewFormat.json:
        text = json_safe(json.dumps(doc, ensure_ascii=False, indent=2))
    elif fmt is PreviewFormat.html:
        text = _page(doc, to, size)
    else:
        parts = [f"To: {person.name or person.id} <{to or '-'}> via {ref.channel}"]
        if r.subject is not None:
            parts.append(f"Subject: {r.subject}")
        if size is not None:
            parts.append(f"Size: {size.describe()}")
        if r.text is not None:
            parts += ["", "--- text ---", r.text.rstrip()]
        if r.html is not None:
            parts += ["", "--- html ---", r.html.rstrip()]
        # Contact data reaches the terminal here: its control characters are shown, not obeyed.
        text = escape_controls("\n".join(parts))
    if open_page:
        _open(output, out if fmt is PreviewFormat.html else None, _page(doc, to, size), ref)
        if out is not None and fmt is PreviewFormat.html:
            return
    output.emit(text, out)


def _page(doc: dict[str, Any], to: str | None, size: Any) -> str:
    from journeyctl.cli.preview_page import page

    shown = {**doc, "to": to}
    if size is not None:
        shown["sms"] = {**doc["sms"], "describe": size.describe()}
    return page(shown)


def _open(output: Any, out: Path | None, html_page: str, ref: Any) -> None:
    """Write the page (to --out, or a file in the temporary directory) and open it; without a
    display, say where the file is instead (stderr)."""
    import tempfile

    from journeyctl.cli.preview_page import open_page

    path = (
        out or Path(tempfile.gettempdir()) / f"journeyctl-preview-{ref.sequence}-{ref.step_id}.html"
    )
    output.emit(html_page, path)
    if not open_page(path):
        output.err.print(
            f"no browser to open here (no display); the preview is in {path}",
            markup=False,
            highlight=False,
        )
