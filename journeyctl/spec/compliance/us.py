"""us: CAN-SPAM for ad email — a valid physical postal address and a working unsubscribe."""

from __future__ import annotations

from collections.abc import Iterator

from journeyctl.diagnostics import Diagnostic, error
from journeyctl.spec.compliance import ad_sends, reads, settings_location
from journeyctl.spec.project import Project


def check(project: Project) -> Iterator[Diagnostic]:
    emails = [a for a in ad_sends(project) if a.medium == "email"]
    if emails and not project.settings.sender.address:
        yield error(
            settings_location(project, "sender"),
            "us-address",
            "us: ad email needs a physical postal address; journey.yaml `sender.address` is not set",
            'add sender: {address: "123 Main St, Springfield, IL 62701, USA"}',
        )
    for ad in emails:
        used = reads(project, ad.send)
        if used is None:
            continue
        if "sender.address" not in used:
            yield error(
                ad.locate("template", "body"),
                "us-address",
                f"us: ad email '{ad.send.id}' does not show the postal address",
                "add {{ sender.address }} to the template footer",
            )
        if "unsubscribe_url" not in used:
            yield error(
                ad.locate("template", "body"),
                "us-unsubscribe",
                f"us: ad email '{ad.send.id}' has no unsubscribe link (unsubscribe_url)",
                'add <a href="{{ unsubscribe_url }}">Unsubscribe</a> to the template',
            )
