"""`journeyctl preview`: render one send step for a contact (or a sample contact)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import ContactsOpt, EncodingOpt, Format
from journeyctl.errors import UsageError


@app.command()
@boundary
def preview(
    project_dir: Annotated[Path, typer.Argument(help="Project directory.")],
    sequence: Annotated[str, typer.Argument(help="Sequence id.")],
    step: Annotated[str, typer.Argument(help="Send step id.")],
    contact: Annotated[
        str | None, typer.Option("--contact", help="Contact id (with --contacts).")
    ] = None,
    contacts: ContactsOpt = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    encoding: EncodingOpt = None,
) -> None:
    """Show the subject, text and HTML a contact would get from a send step."""
    import json

    from journeyctl.cli.loading import load_contacts, load_project_or_fail
    from journeyctl.cli.output import Output, escape_controls, json_safe
    from journeyctl.engine.make import make_engine
    from journeyctl.engine.sample import sample_contact, sample_event
    from journeyctl.engine.timing import zone
    from journeyctl.spec.models import EventTrigger, Send

    project = load_project_or_fail(project_dir)
    seq = project.sequences.get(sequence)
    if seq is None:
        raise UsageError(
            f"unknown sequence {sequence!r}; known: {', '.join(sorted(project.sequences))}"
        )
    node = seq.flow.nodes.get(step)
    if node is None or not isinstance(node.step, Send):
        sends = ", ".join(seq.flow.send_ids())
        raise UsageError(f"{sequence} has no send step {step!r}; send steps: {sends}")
    if contact is not None:
        if contacts is None:
            raise UsageError("--contact needs --contacts FILE")
        found = [c for c in load_contacts(project, contacts, encoding) if c.id == contact]
        if not found:
            raise UsageError(f"contact {contact!r} is not in {contacts}")
        person = found[0]
    else:
        person = sample_contact(project.settings)
    from journeyctl.clock import SystemClock

    renderer = make_engine(project).renderer
    assert renderer is not None
    channel = node.step.channel or project.default_channel()
    now = SystemClock().now().astimezone(zone(person.timezone, project.settings.timezone))
    from journeyctl.engine.failures import RenderFailure
    from journeyctl.engine.located import describe_failure
    from journeyctl.errors import JourneyctlError

    value = person.as_template_value()
    trig = seq.model.trigger
    event = sample_event(project.settings, trig.event) if isinstance(trig, EventTrigger) else None
    try:
        r = renderer.render(node.step, sequence=sequence, channel=channel, contact=person,
                            contact_value=value, now=now, event=event)  # fmt: skip
    except RenderFailure as failure:  # this contact's data breaks it: say where (exit 1)
        where = describe_failure(project, sequence, node.step, failure, value)
        raise JourneyctlError(f"render_error: {where}") from None  # values shown by repr()
    out = Output.from_environment()
    doc = {"sequence": sequence, "step": step, "channel": channel, "contact_id": person.id,
           "subject": r.subject, "text": r.text, "html": r.html}  # fmt: skip
    if fmt is Format.json:
        out.data(json_safe(json.dumps(doc, ensure_ascii=False, indent=2)))
        return
    parts = [
        f"To: {person.name or person.id} <{person.email or person.phone or '-'}> via {channel}"
    ]
    if r.subject is not None:
        parts.append(f"Subject: {r.subject}")
    if r.text is not None:
        parts += ["", "--- text ---", r.text.rstrip()]
    if r.html is not None:
        parts += ["", "--- html ---", r.html.rstrip()]
    # Contact data reaches the terminal here: its control characters are shown, not obeyed.
    out.data(escape_controls("\n".join(parts)))
