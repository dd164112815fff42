"""The listener's links in rendered messages: unsubscribe, open pixel, tracked clicks.

With `http: {public_url: https://mail.example.com}` in journey.yaml, a message's unsubscribe
link (List-Unsubscribe header and `{{ unsubscribe_url }}` in content) is
`{public_url}/u/{token}`, the token naming the contact and the message. A channel with
`track: {opens: true, clicks: true}` also gets, in HTML parts, a 1x1 pixel `/o/{token}`
before `</body>` and every absolute http(s) link of an `<a href>` rewritten to
`/c/{token}`, the token signing exactly that link. `track.consent` names a contact field:
a contact whose value is not true is not tracked (compliance eu requires it).

The engine's renderer calls this for every message (run, simulate, preview alike), so
`preview` shows the links `run` sends.
"""

from __future__ import annotations

import html as htmlmod
import re
from collections.abc import Mapping
from typing import Any, Final

from journeyctl.engine.tokens import Claim, sign, signing_key
from journeyctl.spec.models import ProjectSettings, Track

# An <a ...> start tag's href attribute, quoted: group 1 up to the quote, 2 the quote, 3 value.
_HREF: Final = re.compile(r"""(<a\b[^>]*?\shref\s*=\s*)(["'])(.*?)\2""", re.I | re.S)
_BODY_END: Final = re.compile(r"</body\s*>", re.I)
_TRACKABLE: Final = re.compile(r"https?://[^\s]+", re.I)


def public_base(settings: ProjectSettings) -> str | None:
    """`http.public_url` without a trailing slash (None: not set)."""
    http = settings.http
    if http is None or not http.public_url:
        return None
    return http.public_url.rstrip("/")


def channel_track(settings: ProjectSettings, channel: str) -> Track | None:
    """The channel's `track:` setting when it tracks anything."""
    track = getattr(settings.channels.get(channel), "track", None)
    if track is None or not (track.opens or track.clicks):
        return None
    return track


class Links:
    """Signs the listener's links for one project with its resolved keys
    (channels.registry.unsubscribe_keys)."""

    def __init__(self, settings: ProjectSettings, keys: Mapping[str | None, bytes]) -> None:
        self.base = public_base(settings)
        self.settings = settings
        self._keys = {name: signing_key(value) for name, value in keys.items()}
        self._track: dict[str, Track | None] = {}

    @classmethod
    def for_project(
        cls, settings: ProjectSettings, keys: Mapping[str | None, bytes]
    ) -> Links | None:
        """None when the project uses no listener links (no public_url)."""
        return cls(settings, keys) if public_base(settings) is not None else None

    def key(self, channel: str) -> bytes:
        return self._keys.get(channel, self._keys.get(None, b""))

    def url(self, claim: Claim) -> str:
        return f"{self.base}/{claim.kind}/{sign(self.key(claim.channel), claim)}"

    def unsubscribe(self, channel: str, contact_id: str, message_id: str) -> str:
        return self.url(Claim("u", channel, contact_id, message_id))

    def tracks(self, channel: str) -> Track | None:
        if channel not in self._track:
            self._track[channel] = channel_track(self.settings, channel)
        return self._track[channel]

    def rewrite_html(
        self,
        html: str,
        channel: str,
        contact_id: str,
        message_id: str,
        contact_value: Mapping[str, Any],
    ) -> str:
        """The HTML part with the channel's tracking applied (unchanged when it tracks
        nothing, or the contact has not consented)."""
        track = self.tracks(channel)
        if track is None:
            return html
        if track.consent is not None and contact_value.get(track.consent) is not True:
            return html
        own = f"{self.base}/"
        if track.clicks:

            def swap(m: re.Match[str]) -> str:
                link = htmlmod.unescape(m.group(3)).strip()
                if not _TRACKABLE.fullmatch(link) or link.startswith(own):
                    return m.group(0)
                url = self.url(Claim("c", channel, contact_id, message_id, link))
                return f"{m.group(1)}{m.group(2)}{url}{m.group(2)}"

            html = _HREF.sub(swap, html)
        if track.opens:
            pixel = (
                f'<img src="{self.url(Claim("o", channel, contact_id, message_id))}" '
                'width="1" height="1" alt="" style="display:none">'
            )
            ends = list(_BODY_END.finditer(html))
            if ends:
                at = ends[-1].start()
                html = html[:at] + pixel + html[at:]
            else:
                html += pixel
        return html
