"""The HTML rewrite for tracked channels: which links become signed redirects, and what the
redirect tokens sign (the exact link as the browser would follow it)."""

from __future__ import annotations

from journeyctl.engine.links import Links
from journeyctl.engine.tokens import Verifier
from journeyctl.spec.models import ProjectSettings

KEYS = {None: b"k"}
SETTINGS = ProjectSettings.model_validate(
    {
        "http": {"public_url": "https://mail.example.com/"},
        "contacts": {"fields": {"ok": "bool"}},
        "channels": {
            "email": {"type": "file", "track": {"opens": True, "clicks": True}},
            "plain": {"type": "file"},
            "consenting": {"type": "file", "track": {"clicks": True, "consent": "ok"}},
        },
    }
)


def _targets(html: str) -> list[str]:
    import re

    verifier = Verifier(KEYS)
    out = []
    for token in re.findall(r"https://mail\.example\.com/c/([A-Za-z0-9_.-]+)", html):
        claim = verifier.check(token, "c")
        assert claim is not None and claim.contact_id == "c1" and claim.message_id == "m1"
        out.append(claim.url)
    return out


def test_links_rewritten_and_signed_as_followed() -> None:
    links = Links(SETTINGS, KEYS)
    html = (
        '<A HREF="https://a.example.com/x?p=1&amp;q=2">a</A>'
        "<a class=b href = 'http://b.example.com/'>b</a>"
        '<a href="mailto:x@example.com">m</a><a href="#top">t</a>'
        '<a href="javascript:alert(1)">j</a><a href="/relative">r</a>'
        '<link href="https://fonts.example.com/css">'
        '<a href="https://mail.example.com/u/abc">unsubscribe</a>'
    )
    out = links.rewrite_html(html, "email", "c1", "m1", {})
    assert _targets(out) == ["https://a.example.com/x?p=1&q=2", "http://b.example.com/"]
    for kept in ('href="mailto:', 'href="#top"', 'href="javascript:', 'href="/relative"',
                 '<link href="https://fonts.example.com/css">', 'href="https://mail.example.com/u/abc"'):  # fmt: skip
        assert kept in out
    assert out.endswith('style="display:none">')  # no </body>: the pixel goes last
    assert links.unsubscribe("email", "c1", "m1").startswith("https://mail.example.com/u/")


def test_untracked_channel_and_contacts_without_consent_unchanged() -> None:
    links = Links(SETTINGS, KEYS)
    html = '<body><a href="https://a.example.com/">a</a></body>'
    assert links.rewrite_html(html, "plain", "c1", "m1", {}) == html
    assert links.rewrite_html(html, "consenting", "c1", "m1", {"ok": False}) == html
    assert links.rewrite_html(html, "consenting", "c1", "m1", {}) == html
    tracked = links.rewrite_html(html, "consenting", "c1", "m1", {"ok": True})
    assert _targets(tracked) == ["https://a.example.com/"]
    assert "/o/" not in tracked  # clicks only
