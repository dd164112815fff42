"""Fuzz: the idempotency key and the unsubscribe token (issue 14, item 2e).

Both are stored or sent, so they must be the same on every run and machine, of a fixed shape,
and never the same for two different inputs (checked over each sample: a collision of the 128
bits kept would be a bug in what is hashed, e.g. a separator a field can contain).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeyctl.engine.draw import message_key
from journeyctl.engine.model import Message, Status
from journeyctl.engine.render import unsubscribe_token
from tests.fuzz.support import corpus_cases, fuzz, load_json_case

HEX32 = re.compile(r"[0-9a-f]{32}")

# Sequence and step ids are identifiers (spec.models): no separator character in them.
identifiers = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)
# Contact ids are whatever the data file holds (CSV cells, JSON strings): any text at all,
# lone surrogates included (a JSON Lines file can escape one).
contact_ids = st.one_of(
    st.text(min_size=1, max_size=20),
    st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), min_size=1, max_size=8),
    st.sampled_from(["c1", "c1\x1f", "\x1fc1", "c1:welcome", "1", "01", " 1", "김", "\x00"]),
)
_AT = datetime(2026, 11, 2, tzinfo=UTC)
seconds = st.integers(min_value=-(2**40), max_value=2**40)


@st.composite
def key_inputs(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """(contact, sequence, enrollment, step) as the engine makes them."""
    cid, seq = draw(contact_ids), draw(identifiers)
    return cid, seq, f"{seq}:{cid}:{draw(seconds)}", draw(identifiers)


def _message(cid: str, seq: str, enr: str, step: str) -> Message:
    return Message(None, cid, seq, step, "email", _AT, Status.SENT, enr, True)


def check_keys(cases: list[list[str]]) -> None:
    """Keys: 32 hex digits, the same when made again, distinct per distinct input, and for
    valid text exactly the SHA-256 of the UTF-8 fields joined by U+001F (keys are stored:
    changing what is hashed would send everything again after an upgrade)."""
    seen: dict[str, tuple[str, ...]] = {}
    for case in cases:
        cid, seq, enr, step = case
        key = message_key(cid, seq, enr, step)
        assert HEX32.fullmatch(key), key
        assert message_key(cid, seq, enr, step) == key
        assert _message(cid, seq, enr, step).key == key
        try:
            raw = "\x1f".join(case).encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            assert key == hashlib.sha256(raw).hexdigest()[:32]
        other = seen.setdefault(key, tuple(case))
        assert other == tuple(case), f"key collision: {other!r} and {tuple(case)!r}"


def check_tokens(case: dict[str, Any]) -> None:
    """Tokens: 32 hex digits, stable, distinct per contact and per secret."""
    secrets = [s.encode("utf-8", "surrogatepass") for s in case["secrets"]]
    ids = case["contact_ids"]
    seen: dict[str, tuple[bytes, str]] = {}
    for secret in secrets:
        for cid in ids:
            token = unsubscribe_token(secret, cid)
            assert HEX32.fullmatch(token), token
            assert unsubscribe_token(secret, cid) == token
            expected = hmac.new(secret, cid.encode(), hashlib.sha256).hexdigest()[:32]
            assert token == expected
            other = seen.setdefault(token, (secret, cid))
            assert other == (secret, cid), f"token collision: {other!r} and {(secret, cid)!r}"


# --- properties --------------------------------------------------------------------------


@fuzz
@given(st.lists(key_inputs(), min_size=1, max_size=40, unique=True))
def test_message_keys_are_fixed_stable_and_distinct(cases: list[tuple[str, str, str, str]]) -> None:
    check_keys([list(c) for c in cases])


@fuzz
@given(
    st.lists(identifiers, min_size=1, max_size=4, unique=True),
    st.lists(st.text(max_size=12), min_size=1, max_size=20, unique=True),
)
def test_every_field_changes_the_key(ids: list[str], cids: list[str]) -> None:
    # Same contact, sequence, enrollment and step but for one field: all keys differ.
    cases = {(c, s, f"{s}:{c}:0", t) for c in cids for s in ids for t in ids}
    check_keys([list(c) for c in cases])


_valid_ids = st.text(min_size=1, max_size=20)  # no lone surrogates: see corpus/pending


@fuzz
@given(
    st.fixed_dictionaries(
        {
            "secrets": st.lists(st.text(max_size=40), min_size=1, max_size=3, unique=True),
            "contact_ids": st.lists(_valid_ids, min_size=1, max_size=30, unique=True),
        }
    )
)
def test_unsubscribe_tokens_are_fixed_stable_and_distinct(case: dict[str, Any]) -> None:
    check_tokens(case)


# --- the saved corpus --------------------------------------------------------------------


def _cases() -> Iterator[Any]:
    for path in corpus_cases("keys"):
        yield pytest.param(check_keys, path, id=f"keys/{path.name}")
    for path in corpus_cases("tokens"):
        yield pytest.param(check_tokens, path, id=f"tokens/{path.name}")


@pytest.mark.parametrize(("check", "path"), list(_cases()))
def test_saved_case(check: Any, path: Path) -> None:
    check(load_json_case(path))
