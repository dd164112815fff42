"""One send step rendered for one contact (`preview`), and delivered as a test (`send-test`).

A test send goes through the project's real channel (the same SMTP server, webhook or outbox
a run uses) to the address the user names, marked as a test on every channel
(channels.testmark: a `[TEST] ` subject or text prefix, a `test-` idempotency key, and the
X-Journeyctl-Test header where the channel has headers). It never opens the database: no
ledger row, no enrollment, no suppression, whatever the channel answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from journeyctl.channels.testmark import (
    TEST_ENROLLMENT,
    TEST_KEY_PREFIX,
    TEST_SUBJECT_PREFIX,
)
from journeyctl.engine.model import Contact, Message, Status
from journeyctl.errors import ChannelError, JourneyctlError, UsageError
from journeyctl.spec.models import Send

if TYPE_CHECKING:
    from journeyctl.channels.base import Receipt
    from journeyctl.engine.render import Rendered, Renderer
    from journeyctl.spec.project import Project

# The contact id the unsubscribe link of a test send is signed for: a tester who follows it
# (or whose mailbox provider does) unsubscribes nobody real.
TEST_CONTACT_ID = "journeyctl-test-send"


@dataclass(frozen=True, slots=True)
class SendStep:
    sequence: str
    step_id: str
    step: Send
    channel: str
    medium: str
    marketing: bool


def find_send(project: Project, sequence: str, step: str) -> SendStep:
    """The send step `step` of `sequence`; UsageError naming what exists otherwise."""
    seq = project.sequences.get(sequence)
    if seq is None:
        if not project.sequences:  # most often: run outside the project, DIR left out
            raise UsageError(
                f"unknown sequence {sequence!r}: {project.root} holds no sequence files;"
                " give the project directory first (DIR SEQUENCE STEP)"
            )
        known = ", ".join(sorted(project.sequences))
        raise UsageError(f"unknown sequence {sequence!r}; known: {known}")
    node = seq.flow.nodes.get(step)
    if node is None or not isinstance(node.step, Send):
        sends = ", ".join(seq.flow.send_ids())
        raise UsageError(f"{sequence} has no send step {step!r}; send steps: {sends}")
    channel = node.step.channel or project.default_channel()
    cfg = project.settings.channels.get(channel)
    medium = cfg.medium if cfg is not None else "other"
    return SendStep(sequence, step, node.step, channel, medium, seq.model.is_marketing)


def render_one(
    project: Project,
    renderer: Renderer,
    ref: SendStep,
    person: Contact,
    now: datetime,
    *,
    link_contact: Contact | None = None,
) -> Rendered:
    """`ref` rendered for `person` at `now` (in the contact's zone); a failure for this
    contact's data is a JourneyctlError naming the template and the values (exit 1).
    `link_contact`: whom the unsubscribe link is signed for (default: `person`)."""
    from journeyctl.engine.failures import RenderFailure
    from journeyctl.engine.located import describe_failure
    from journeyctl.engine.sample import sample_event
    from journeyctl.engine.timing import zone
    from journeyctl.spec.models import EventTrigger

    tz = zone(person.timezone, project.settings.timezone)
    value = person.as_template_value()
    # An event-triggered sequence's templates may read `event`: a sample of the declared one.
    trigger = project.sequences[ref.sequence].model.trigger
    event = (
        sample_event(project.settings, trigger.event) if isinstance(trigger, EventTrigger) else None
    )
    try:
        return renderer.render(
            ref.step, sequence=ref.sequence, channel=ref.channel,
            contact=person if link_contact is None else link_contact,
            contact_value=value, now=now.astimezone(tz), marketing=ref.marketing, tz=tz,
            event=event,
        )  # fmt: skip
    except RenderFailure as failure:
        where = describe_failure(project, ref.sequence, ref.step, failure, value)
        raise JourneyctlError(f"render_error: {where}") from None


def test_message(
    ref: SendStep, rendered: Rendered, person: Contact, to: str, now: datetime
) -> Message:
    """The message of a test send: the step's content for `person`, addressed to `to`,
    marked as a test (subject prefix, or text prefix where there is no subject)."""
    raw = "\x1f".join((person.id, ref.sequence, ref.step_id, to, now.isoformat()))
    key = TEST_KEY_PREFIX + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    subject, text = rendered.subject, rendered.text
    if subject is not None or ref.medium == "email":
        subject = TEST_SUBJECT_PREFIX + (subject or "")
    elif text is not None:
        text = TEST_SUBJECT_PREFIX + text
    return Message(
        _key=key, contact_id=person.id, sequence=ref.sequence, step=ref.step_id,
        channel=ref.channel, at=now, status=Status.SENT, enrollment_id=TEST_ENROLLMENT,
        is_marketing=ref.marketing, subject=subject, text=text, html=rendered.html, to=to,
        unsubscribe_url=rendered.unsubscribe_url if ref.marketing else None,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class TestSend:
    message: Message
    receipt: Receipt


def send_test(
    project: Project,
    ref: SendStep,
    person: Contact,
    to: str,
    *,
    env: Mapping[str, str],
    now: datetime,
) -> TestSend:
    """Render `ref` for `person` and deliver it to `to` through the step's channel, as a test.

    The channel's failure is a ChannelError (exit 1) saying what it answered; nothing is
    recorded anywhere (a bounce of the test address suppresses no one)."""
    from dataclasses import replace

    from journeyctl.channels.registry import build_channels
    from journeyctl.data.contact_fields import is_email
    from journeyctl.engine.make import make_engine

    if not to.strip():
        raise UsageError("--to: give the address the test goes to")
    if ref.medium == "email" and not is_email(to):
        # the contacts' own check: one @, no spaces, no CR/LF (a header injection in any channel)
        raise UsageError(f"--to: {to!r} is not an email address (channel {ref.channel!r} is email)")
    if not to.isprintable():
        raise UsageError(f"--to: {to!r} holds control characters (CR, LF, tab)")
    engine = make_engine(project, env=env)  # refuses forgeable unsubscribe links, as run does
    assert engine.renderer is not None
    # The content is the contact's; the unsubscribe link (in the body and List-Unsubscribe)
    # is signed for no real contact.
    stand_in = replace(person, id=TEST_CONTACT_ID)
    rendered = render_one(project, engine.renderer, ref, person, now, link_contact=stand_in)
    message = test_message(ref, rendered, person, to, now)
    channels = build_channels(project.settings, env, base_dir=project.root)
    with channels:
        channel = channels[ref.channel]
        try:
            channel.open()
            receipt = channel.deliver(message)
        except ChannelError as exc:
            raise ChannelError(f"channel {ref.channel!r} did not take the test: {exc}") from None
    return TestSend(message, receipt)
