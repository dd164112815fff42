"""eu: ePrivacy/GDPR for ad email — an unsubscribe link, and an audience that checks consent."""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import TemplateSyntaxError

from journeyctl.diagnostics import Diagnostic, error, warning
from journeyctl.spec.compliance import ad_sends, reads
from journeyctl.spec.expressions import contact_attributes, parse_expr
from journeyctl.spec.project import Project
from journeyctl.spec.walk import is_ad


def _reads_consent(audience: str | None) -> bool:
    if audience is None:
        return False
    try:
        attrs = contact_attributes(parse_expr(audience))
    except TemplateSyntaxError:
        return True  # expression-syntax already reports it
    return any("consent" in attr for attr, _ in attrs)


def check(project: Project) -> Iterator[Diagnostic]:
    for ad in ad_sends(project):
        used = reads(project, ad.send) if ad.medium == "email" else None
        if used is not None and "unsubscribe_url" not in used:
            yield error(
                ad.locate("template", "body"),
                "eu-unsubscribe",
                f"eu: ad email '{ad.send.id}' has no unsubscribe link (unsubscribe_url)",
                'add <a href="{{ unsubscribe_url }}">Unsubscribe</a> to the template',
            )
    for seq in project.sequences.values():
        if is_ad(seq) and not _reads_consent(seq.model.audience):
            src = seq.source
            where = ("audience",) if seq.model.audience is not None else ("sequence",)
            loc = src.scalar_location(where) if src.node_at(where) else src.locate(())
            yield warning(
                loc,
                "eu-consent",
                f"eu: ad sequence '{seq.id}' does not check consent in its audience",
                'add e.g. audience: "contact.consent_email" (a declared bool column)',
            )
