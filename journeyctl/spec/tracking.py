"""validate: the listener's links (`http.public_url`, which should be https) and a channel's
`track:` setting.

Tracking needs somewhere to count: `track` without `http.public_url` is an error. Its
`consent` names a bool contact field (declared under contacts.fields). Under `compliance:
[eu]` tracking opens or clicks needs that consent field (ePrivacy art. 5(3): reading whether
a mail was opened needs consent), so validate refuses tracking without one.
"""

from __future__ import annotations

from collections.abc import Iterator

from journeyctl.diagnostics import Diagnostic, error, warning
from journeyctl.spec.project import Project


def check_tracking(project: Project) -> Iterator[Diagnostic]:
    src = project.settings_source
    if src is None:
        return
    settings = project.settings
    public = settings.http.public_url if settings.http is not None else None
    if public and not public.lower().startswith("https://"):
        yield warning(
            src.scalar_location(("http", "public_url")),
            "public-url-not-https",
            f"http.public_url {public!r} is not https: RFC 8058 one-click unsubscribe needs "
            "an HTTPS link, and mailbox providers ignore others",
            "put the listener behind a reverse proxy that terminates TLS (docs/run.md) and "
            "write its https:// address",
        )
    for name, cfg in settings.channels.items():
        track = getattr(cfg, "track", None)
        if track is None or not (track.opens or track.clicks):
            continue
        where = ("channels", name, "track")
        if not public:
            yield error(
                src.locate(where, at_key=True),
                "track-without-public-url",
                f"channel '{name}' tracks opens or clicks, but journey.yaml has no "
                "http.public_url for the pixel and the redirects to point at",
                "add http: {public_url: https://mail.example.com} (where `serve --http` is "
                "reachable)",
            )
        if track.consent is None:
            if "eu" in settings.compliance:
                yield error(
                    src.locate(where, at_key=True),
                    "eu-tracking-consent",
                    f"eu: channel '{name}' tracks opens or clicks of every contact; tracking "
                    "needs the contact's consent",
                    f"name a bool contact field: track: {{opens: {str(track.opens).lower()}, "
                    f"clicks: {str(track.clicks).lower()}, consent: tracking_consent}}",
                )
            continue
        kind = settings.contacts.fields.get(track.consent)
        if kind != "bool":
            yield error(
                src.scalar_location((*where, "consent")),
                "bad-tracking-consent",
                f"track.consent '{track.consent}' is "
                + ("not a declared contact field" if kind is None else f"a {kind} field")
                + "; it must be a bool",
                f"declare it: contacts: {{fields: {{{track.consent}: bool}}}}",
            )
