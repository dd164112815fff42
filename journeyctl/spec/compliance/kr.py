"""kr: 정보통신망법 제50조 for ad messages.

`(광고)` at the very start of the subject (email) or body (SMS, push, chat); a free opt-out
(수신거부) in SMS; an unsubscribe link and the sender's name and contact in email.
"""

from __future__ import annotations

from collections.abc import Iterator

from journeyctl.diagnostics import Diagnostic, error
from journeyctl.spec.compliance import ad_sends, body_text, reads, settings_location
from journeyctl.spec.project import Project

AD_LABEL = "(광고)"
OPT_OUT = "수신거부"


def check(project: Project) -> Iterator[Diagnostic]:
    sends = list(ad_sends(project))
    emails = [a for a in sends if a.medium == "email"]
    sender = project.settings.sender
    if emails and not (sender.name and sender.contact):
        missing = " and ".join(k for k in ("name", "contact") if not getattr(sender, k))
        yield error(
            settings_location(project, "sender"),
            "kr-sender",
            f"kr: ad email needs the sender's {missing}; journey.yaml `sender` does not set it",
            'add sender: {name: "브랜드", contact: "help@example.com / 02-000-0000"}',
        )
    for ad in sends:
        send = ad.send
        if ad.medium == "email":
            if send.subject is not None and not send.subject.lstrip().startswith(AD_LABEL):
                yield error(
                    ad.locate("subject"),
                    "kr-ad-label",
                    f"kr: ad email subject must start with {AD_LABEL}: {send.subject!r}",
                    f'write subject: "{AD_LABEL} ..."',
                )
            used = reads(project, send)
            if used is None:
                continue
            if "unsubscribe_url" not in used:
                yield error(
                    ad.locate("template", "body"),
                    "kr-unsubscribe",
                    f"kr: ad email '{send.id}' has no unsubscribe link (unsubscribe_url)",
                    'add <a href="{{ unsubscribe_url }}">수신거부</a> to the template',
                )
            if not {"sender.name", "sender.contact"} <= used:
                yield error(
                    ad.locate("template", "body"),
                    "kr-sender",
                    f"kr: ad email '{send.id}' does not show the sender's name and contact",
                    "add {{ sender.name }} and {{ sender.contact }} to the template footer",
                )
            continue
        if ad.medium not in ("sms", "push", "chat"):
            continue
        text = body_text(project, send)
        if text is None:
            continue
        if not text.lstrip().startswith(AD_LABEL):
            yield error(
                ad.locate("body", "text_template", "template"),
                "kr-ad-label",
                f"kr: ad {ad.medium} '{send.id}' must start with {AD_LABEL}",
                f'write body: "{AD_LABEL} ..."',
            )
        if ad.medium == "sms" and OPT_OUT not in text:
            yield error(
                ad.locate("body", "text_template", "template"),
                "kr-opt-out",
                f"kr: ad SMS '{send.id}' has no free opt-out ({OPT_OUT})",
                "end it with e.g. '무료수신거부 080-000-0000'",
            )
