"""engine.draw: the keys and draws are SHA-256 of the key parts, whichever implementation
computes it (SPEC §5 keys must not change between machines or Python versions)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from journeyctl.data.contacts import read_contacts
from journeyctl.data.events import read_events
from journeyctl.data.instants import parse_instant
from journeyctl.engine.draw import bucket, message_key
from journeyctl.engine.model import Message, Status
from journeyctl.simulate.replay import simulate
from journeyctl.spec import load_valid_project

ROOT = Path(__file__).resolve().parents[2]

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


def test_a_message_makes_its_key_from_its_parts_when_first_read() -> None:
    """The engine leaves `_key` None (a simulation reads no key); whoever reads it (the store,
    a channel) gets the SPEC §5 key of the message's contact, sequence, enrollment and step."""
    at = datetime(2026, 11, 2, tzinfo=UTC)
    m = Message(None, "c1", "welcome", "day0", "email", at, Status.SENT, "welcome:c1:0", True)
    assert m._key is None
    assert m.key == "289bcc6f034c5b59aa454880e7e72891" == m._key  # made once, then kept
    given = Message("k1", "c1", "welcome", "day0", "email", at, Status.SENT, "welcome:c1:0", True)
    assert given.key == "k1"  # a stored key is the message's key as it was recorded
    assert given == m  # derived from compared fields, the key takes no part in equality


def test_the_engine_makes_no_key_and_each_decision_has_its_own() -> None:
    project = load_valid_project(ROOT / "sequences")
    contacts = read_contacts(ROOT / "examples/contacts.csv", project.settings).items
    events = read_events(ROOT / "examples/events.csv", project.settings).items
    start = parse_instant("2026-11-01", project.settings.timezone)
    sim = simulate(project, contacts, events, start, start + timedelta(days=30))
    assert sim.messages and all(m._key is None for m in sim.messages)
    # One key per decision kept; tests/e2e/test_run_equals_simulate.py checks they are the
    # keys `run` delivers and records.
    assert len({m.key for m in sim.messages}) == len(sim.messages)
