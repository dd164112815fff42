"""Deterministic draws: the same on every machine, run and PYTHONHASHSEED (never `hash()`)."""

from __future__ import annotations

import hashlib


def bucket(*key: str) -> float:
    """A stable number in [0, 1) for a key."""
    digest = hashlib.sha256("\x1f".join(key).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick_arm(weights: list[tuple[str, float]], *key: str) -> str:
    """Choose an arm by cumulative weight from the key's bucket."""
    total = sum(w for _, w in weights)
    x = bucket(*key) * total
    acc = 0.0
    for name, w in weights:
        acc += w
        if x < acc:
            return name
    return weights[-1][0]


def message_key(contact_id: str, sequence: str, enrollment_id: str, step: str) -> str:
    """SPEC §5: the idempotency key of (contact, sequence, enrollment, step).

    `surrogatepass`: a lone surrogate in an id (from a JSON Lines `"\\udc80"`) still gets a key
    of its own instead of an exception; every other id encodes exactly as plain UTF-8."""
    raw = "\x1f".join((contact_id, sequence, enrollment_id, step)).encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest()[:32]
