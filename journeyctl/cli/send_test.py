"""`journeyctl send-test`: one send step, rendered with a contact's data, delivered to you."""

from __future__ import annotations

from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import ContactsOpt, EncodingOpt, Format, FormatOpt
from journeyctl.cli.preview import ContactDbOpt, ContactOpt, StepArgs


@app.command("send-test")
@boundary
def send_test(
    args: StepArgs,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="Where the test goes: an email address for email steps, a phone number (or "
            "what the webhook expects) for the others.",
            show_default=False,
        ),
    ],
    contact: ContactOpt = None,
    contacts: ContactsOpt = None,
    db: ContactDbOpt = None,
    fmt: FormatOpt = Format.text,
    encoding: EncodingOpt = None,
) -> None:
    """Send one step to yourself before going live, through the step's real channel.

    The message is rendered with a contact's data (--contact ID from --contacts FILE or
    --db FILE; a sample contact otherwise) and marked as a test: the subject (or, without one,
    the text) starts with `[TEST] `, email and webhooks carry the header `X-Journeyctl-Test:
    yes`, the idempotency key starts with `test-`, and the unsubscribe link is signed for no
    real contact. Nothing is recorded: no database is written, no one is suppressed.
    Exit 0 when the channel took it, 1 when it refused, 2 for usage errors.
    """
    import json
    import os

    from journeyctl.cli.loading import load_project_or_fail, pick_contact
    from journeyctl.cli.options import leading_dir
    from journeyctl.cli.output import Output, escape_controls, json_safe
    from journeyctl.clock import SystemClock
    from journeyctl.run.send_test import find_send
    from journeyctl.run.send_test import send_test as deliver_test

    project_dir, (sequence, step) = leading_dir(args, ("SEQUENCE", "STEP"), "send-test")
    project = load_project_or_fail(project_dir)
    ref = find_send(project, sequence, step)
    person = pick_contact(project, contact, contacts, db, encoding)
    sent = deliver_test(project, ref, person, to, env=os.environ, now=SystemClock().now())
    m = sent.message
    output = Output.from_environment()
    if fmt is Format.json:
        doc = {
            "sequence": m.sequence, "step": m.step, "channel": m.channel, "to": m.to,
            "contact_id": m.contact_id, "message_id": m.key,
            "provider_id": sent.receipt.provider_id, "subject": m.subject, "test": True,
        }  # fmt: skip
        output.data(json_safe(json.dumps(doc, ensure_ascii=False, indent=2)))
        return
    what = f"subject {m.subject!r}" if m.subject is not None else "text"
    where = f" ({sent.receipt.provider_id})" if sent.receipt.provider_id else ""
    output.data(
        escape_controls(
            f"test sent: {sequence}/{step} via {m.channel} to {m.to}{where}, {what}, "
            f"rendered for contact {person.id}; nothing recorded"
        )
    )
