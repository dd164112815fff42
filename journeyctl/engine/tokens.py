"""Signed link tokens: which contact, message and (for clicks) link a URL stands for.

A token is `PAYLOAD.MAC`, both base64url without padding. PAYLOAD holds the kind (`u`
unsubscribe, `o` open, `c` click), the channel, the contact id, the message's idempotency
key and, for a click, the exact link, separated by U+001F. MAC is the first 16 bytes of
HMAC-SHA256 over a fixed label and PAYLOAD, keyed with the channel's unsubscribe secret
(channels.registry.unsubscribe_keys: `unsubscribe_secret`, `${NAME}` from the environment).

Rotation: a secret's value may list several keys separated by commas; the first signs, all
verify (`UNSUBSCRIBE_SECRET=new,old` while mail signed with `old` is still being read).
Checks compare in constant time (hmac.compare_digest). The kind is signed, so an open token
is no unsubscribe token; the contact and link are signed, so a token cannot be moved to
another contact or turned into a redirect elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

LABEL: Final = b"journeyctl-link-v1\x1f"
SEP: Final = "\x1f"
KINDS: Final = frozenset({"u", "o", "c"})
MAC_BYTES: Final = 16
MAX_TOKEN: Final = 4096  # a click token carries its link: URLs over ~3 KB are refused


def key_ring(secret: bytes) -> tuple[bytes, ...]:
    """The keys one secret's value holds, signing key first: `new,old` -> (new, old).
    Empty entries are dropped; a value without commas is one key, unchanged."""
    return tuple(k.strip() for k in secret.split(b",") if k.strip())


def signing_key(secret: bytes) -> bytes:
    """The key that signs with this secret's value (its first key; b"" when empty)."""
    ring = key_ring(secret)
    return ring[0] if ring else b""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, LABEL + payload.encode("ascii"), hashlib.sha256).digest()[:MAC_BYTES]


@dataclass(frozen=True, slots=True)
class Claim:
    """What a valid token says."""

    kind: str  # u | o | c
    channel: str
    contact_id: str
    message_id: str
    url: str | None = None  # the link a click token signs


def sign(key: bytes, claim: Claim) -> str:
    fields = [claim.kind, claim.channel, claim.contact_id, claim.message_id]
    if claim.url is not None:
        fields.append(claim.url)
    raw = SEP.join(fields).encode("utf-8", "surrogatepass")
    payload = _b64(raw)
    return f"{payload}.{_b64(_mac(key, payload))}"


class Verifier:
    """Checks tokens against each channel's key ring (the project's for channels without
    their own secret). Built once per listener from the resolved keys."""

    def __init__(self, keys: Mapping[str | None, bytes]) -> None:
        self._rings = {name: key_ring(value) for name, value in keys.items()}

    def ring(self, channel: str) -> tuple[bytes, ...]:
        return self._rings.get(channel, self._rings.get(None, ()))

    def check(self, token: str, kind: str) -> Claim | None:
        """The claim of a well-formed token of `kind` whose MAC one of its channel's keys
        made; None for anything else (forged, truncated, another kind, unknown channel)."""
        if len(token) > MAX_TOKEN or token.count(".") != 1:
            return None
        payload, mac_text = token.split(".")
        try:
            mac = _unb64(mac_text)
            fields = _unb64(payload).decode("utf-8", "surrogatepass").split(SEP)
        except (binascii.Error, ValueError):
            return None
        if len(fields) not in (4, 5) or fields[0] != kind or kind not in KINDS:
            return None
        if (kind == "c") != (len(fields) == 5):
            return None
        ring = self.ring(fields[1])
        # Every key is tried (no early exit), each compared in constant time.
        good = False
        for key in ring:
            good |= hmac.compare_digest(_mac(key, payload), mac)
        if not good or not ring:
            return None
        url = fields[4] if len(fields) == 5 else None
        return Claim(fields[0], fields[1], fields[2], fields[3], url)
