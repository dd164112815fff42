"""Link tokens: signed with the first key, checked against every key of the ring, bound to
their kind, channel, contact, message and link."""

from __future__ import annotations

from journeyctl.engine.tokens import Claim, Verifier, key_ring, sign, signing_key

CLAIM = Claim("u", "email", "c1", "0123456789abcdef0123456789abcdef")


def test_rotation_new_key_signs_old_keys_still_verify() -> None:
    assert key_ring(b"new, old ,") == (b"new", b"old")
    assert signing_key(b"new,old") == b"new"
    assert signing_key(b"only") == b"only"
    old_token = sign(b"old", CLAIM)
    new_token = sign(b"new", CLAIM)
    rotated = Verifier({None: b"new,old"})
    assert rotated.check(old_token, "u") == CLAIM
    assert rotated.check(new_token, "u") == CLAIM
    # Once `old` is dropped, its links stop working; `new` ones go on.
    assert Verifier({None: b"new"}).check(old_token, "u") is None
    assert Verifier({None: b"new"}).check(new_token, "u") == CLAIM


def test_channel_keys_and_kinds_are_bound() -> None:
    keys = {None: b"project", "sms": b"sms-key"}
    verifier = Verifier(keys)
    sms = Claim("u", "sms", "c1", CLAIM.message_id)
    assert verifier.check(sign(b"sms-key", sms), "u") == sms
    assert verifier.check(sign(b"project", sms), "u") is None  # the channel has its own key
    opened = Claim("o", "email", "c1", CLAIM.message_id)
    assert verifier.check(sign(b"project", opened), "u") is None
    assert verifier.check(sign(b"project", opened), "o") == opened


def test_click_tokens_sign_their_link() -> None:
    verifier = Verifier({None: b"k"})
    click = Claim("c", "email", "c1", CLAIM.message_id, "https://shop.example.com/a?b=1&c=2")
    token = sign(b"k", click)
    assert verifier.check(token, "c") == click
    # a click token without its link, or a non-click token with one, is malformed
    assert verifier.check(sign(b"k", Claim("c", "email", "c1", "m")), "c") is None
    assert verifier.check(sign(b"k", Claim("u", "email", "c1", "m", "https://x")), "u") is None


def test_garbage_is_refused_not_raised() -> None:
    verifier = Verifier({None: b"k"})
    good = sign(b"k", CLAIM)
    for bad in ["", ".", "a.b.c", "%%%.%%%", good[:-3], good + "A", "é.é", "x" * 10_000]:
        assert verifier.check(bad, "u") is None, bad
    assert Verifier({None: b""}).check(sign(b"", CLAIM), "u") is None  # no key, no trust
