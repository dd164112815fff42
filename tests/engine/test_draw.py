"""engine.draw: the keys and draws are SHA-256 of the key parts, whichever implementation
computes it (SPEC §5 keys must not change between machines or Python versions)."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from journeyctl.engine.draw import bucket, message_key

part = st.text(min_size=0, max_size=80)


@given(part, part, part, part)
def test_message_key_is_sha256_of_the_joined_parts(a: str, b: str, c: str, d: str) -> None:
    raw = "\x1f".join((a, b, c, d)).encode()
    assert message_key(a, b, c, d) == hashlib.sha256(raw).hexdigest()[:32]


@given(st.lists(part, min_size=1, max_size=6))
def test_bucket_is_the_first_eight_bytes_of_sha256(key: list[str]) -> None:
    digest = hashlib.sha256("\x1f".join(key).encode()).digest()
    assert bucket(*key) == int.from_bytes(digest[:8], "big") / 2**64
    assert 0 <= bucket(*key) < 1


def test_a_known_key() -> None:
    # Frozen: a change here would re-send every in-flight message (SPEC §5 idempotency).
    assert (
        message_key("c1", "welcome", "welcome:c1:0", "day0") == "289bcc6f034c5b59aa454880e7e72891"
    )
